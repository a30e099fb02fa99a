package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/svidkit/svidkit/pkg/version"
)

// BuildBinary builds img's binary for p into dir/<name> with CGO off (a
// static binary, as a scratch image needs) and returns its path. root is
// the module root; info is the -ldflags fallback (see pkg/version). The
// flags are the Taskfile build task's: -trimpath and -ldflags "-s -w" for a
// smaller binary without build paths, -tags grpcnotrace to leave out
// gRPC's x/net/trace; -buildvcs=auto overrides a GOFLAGS=-buildvcs=false
// from the environment, so a build from a clone records its commit.
func BuildBinary(ctx context.Context, root, dir string, img Image, p Platform, info version.Info) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("images: %w", err)
	}
	out := filepath.Join(dir, img.Name)
	ldflags := append([]string{"-s", "-w"}, version.LinkerFlags(info)...)
	args := []string{"build", "-trimpath", "-tags", "grpcnotrace", "-buildvcs=auto",
		"-ldflags", strings.Join(ldflags, " "), "-o", out, img.Package}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("images: go build %s for %s: %w\n%s", img.Package, p, err, msg)
	}
	return out, nil
}
