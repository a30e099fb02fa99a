package images

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/svidkit/svidkit/pkg/version"
)

// Stamp returns the version and commit of the source tree at dir, from
// git: the tag at HEAD when there is one (git describe --exact-match),
// otherwise the pseudo-version the Go command stamps (see pseudoVersion). Modified
// reports uncommitted changes, untracked files included (as Go's
// vcs.modified does). It is what the builders
// pass as the -ldflags fallback (the Go command records nothing in a git
// worktree) and what labels the images.
func Stamp(ctx context.Context, dir string) (version.Info, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("images: git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	commit, err := git("rev-parse", "HEAD")
	if err != nil {
		return version.Info{}, err
	}
	// Untracked files count, as they do for the Go command's vcs.modified.
	status, err := git("status", "--porcelain")
	if err != nil {
		return version.Info{}, err
	}
	info := version.Info{Commit: commit, Modified: status != ""}
	if tag, err := git("describe", "--tags", "--exact-match", "--match", "v*", "HEAD"); err == nil && tag != "" {
		info.Version = tag
		return info, nil
	}
	unix, err := git("show", "-s", "--format=%ct", "HEAD")
	if err != nil {
		return version.Info{}, err
	}
	var sec int64
	if _, err := fmt.Sscan(unix, &sec); err != nil {
		return version.Info{}, fmt.Errorf("images: commit time %q: %w", unix, err)
	}
	base, _ := git("describe", "--tags", "--abbrev=0", "--match", "v*", "HEAD")
	info.Version = pseudoVersion(base, time.Unix(sec, 0), info.ShortCommit())
	return info, nil
}

// semverTag matches the release tags Go's pseudo-versions build on.
var semverTag = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$`)

// pseudoVersion returns the Go command's pseudo-version of a commit made
// at t after the tag base ("" for none): v0.0.0-<time>-<hash> without a
// tag, vX.Y.(Z+1)-0.<time>-<hash> after release vX.Y.Z, and
// vX.Y.Z-pre.0.<time>-<hash> after pre-release vX.Y.Z-pre.
func pseudoVersion(base string, t time.Time, hash string) string {
	stamp := t.UTC().Format("20060102150405") + "-" + hash
	m := semverTag.FindStringSubmatch(base)
	switch {
	case m == nil:
		return "v0.0.0-" + stamp
	case m[4] != "":
		return base + ".0." + stamp
	default:
		patch, _ := strconv.Atoi(m[3])
		return fmt.Sprintf("v%s.%s.%d-0.%s", m[1], m[2], patch+1, stamp)
	}
}

// Tag is the image tag for info: the version, with "-dirty" for a tree
// with uncommitted changes so such an image never takes a release's tag.
func Tag(info version.Info) string {
	if info.Modified {
		return info.Version + "-dirty"
	}
	return info.Version
}
