package images_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/images"
)

// stage is one FROM … AS name section of the Dockerfile.
type stage struct {
	name       string
	from       string
	user       string
	entrypoint []string
	copies     []string // COPY instructions' arguments
	runs       []string
	labels     string
}

// parseDockerfile reads the instructions this repository's Dockerfile uses,
// joining continued lines and dropping comments.
func parseDockerfile(data string) ([]*stage, error) {
	var stages []*stage
	var cur *stage
	var logical []string
	var b strings.Builder
	for _, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if b.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			b.WriteString(s + " ")
			continue
		}
		b.WriteString(trimmed)
		logical = append(logical, b.String())
		b.Reset()
	}
	for i, l := range logical {
		instr, args, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			f := strings.Fields(args)
			cur = &stage{from: f[len(f)-1]}
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				cur.name, cur.from = f[len(f)-1], f[len(f)-3]
			}
			stages = append(stages, cur)
		case "ARG":
			if cur == nil {
				continue // global ARG before the first FROM
			}
		case "USER", "ENTRYPOINT", "COPY", "RUN", "LABEL", "ENV", "WORKDIR":
			if cur == nil {
				return nil, fmt.Errorf("instruction %d (%s) before FROM", i+1, instr)
			}
		default:
			return nil, fmt.Errorf("instruction %d: unexpected %s", i+1, instr)
		}
		switch strings.ToUpper(instr) {
		case "USER":
			cur.user = args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(args), &cur.entrypoint); err != nil {
				return nil, fmt.Errorf("ENTRYPOINT of %s must be exec form: %w", cur.name, err)
			}
		case "COPY":
			cur.copies = append(cur.copies, args)
		case "RUN":
			cur.runs = append(cur.runs, args)
		case "LABEL":
			cur.labels += args
		}
	}
	return stages, nil
}

// TestDockerfileMatchesImages checks that the Dockerfile builds exactly the
// binaries of images.List, each in a final stage named after it with the
// same user and entrypoint as the Go-built image, on a base with the OCI
// labels.
func TestDockerfileMatchesImages(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	byName := map[string]*stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	build, ok := byName["build"]
	if !ok {
		t.Fatal("Dockerfile has no build stage")
	}
	goBuild := regexp.MustCompile(`^go build .*-o /out/(\S+) (\./cmd/\S+)$`)
	builds := map[string]string{} // binary → package
	for _, r := range build.runs {
		if m := goBuild.FindStringSubmatch(r); m != nil {
			builds[m[1]] = m[2]
		}
	}
	var finals []string
	for _, s := range stages {
		if s.entrypoint != nil {
			finals = append(finals, s.name)
		}
	}
	var want []string
	for _, img := range images.List() {
		want = append(want, img.Name)
		t.Run(img.Name, func(t *testing.T) {
			if got := builds[img.Name]; got != img.Package {
				t.Errorf("build stage builds /out/%s from %q, want %q", img.Name, got, img.Package)
			}
			s, ok := byName[img.Name]
			if !ok {
				t.Fatalf("no stage %q (docker build --target %s)", img.Name, img.Name)
			}
			if s.user != img.User {
				t.Errorf("USER %q, want %q", s.user, img.User)
			}
			if !slices.Equal(s.entrypoint, []string{img.Entrypoint()}) {
				t.Errorf("ENTRYPOINT %q, want [%q]", s.entrypoint, img.Entrypoint())
			}
			wantCopy := "--from=build /out/" + img.Name + " " + img.Entrypoint()
			if !slices.Contains(s.copies, wantCopy) {
				t.Errorf("COPY %q, want %q", s.copies, wantCopy)
			}
			base, ok := byName[s.from]
			if !ok {
				t.Fatalf("stage %s is FROM %s, not the labelled base stage", img.Name, s.from)
			}
			for _, l := range []string{images.LabelSource, images.LabelVersion, images.LabelRevision} {
				if !strings.Contains(base.labels, l+"=") {
					t.Errorf("base stage %s has no label %s", base.name, l)
				}
			}
			if !strings.Contains(base.labels, `"`+images.SourceURL+`"`) {
				t.Errorf("base stage's source label is not %s", images.SourceURL)
			}
		})
	}
	if !slices.Equal(finals, want) {
		t.Errorf("Dockerfile's image stages %q, want %q (internal/images.List, in order)", finals, want)
	}
}
