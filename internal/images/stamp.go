package images

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/svidkit/svidkit/pkg/version"
)

// Stamp returns the version and commit of the source tree at dir, from
// git: the tag at HEAD when there is one (git describe --exact-match),
// otherwise a Go-style pseudo-version v0.0.0-<commit time>-<12 hex>, as the
// Go command stamps a build from a repository without tags. Modified
// reports uncommitted changes to tracked files. It is what the builders
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
	status, err := git("status", "--porcelain", "--untracked-files=no")
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
	info.Version = fmt.Sprintf("v0.0.0-%s-%s", time.Unix(sec, 0).UTC().Format("20060102150405"), info.ShortCommit())
	return info, nil
}

// Tag is the image tag for info: the version, with "-dirty" for a tree
// with uncommitted changes so such an image never takes a release's tag.
func Tag(info version.Info) string {
	if info.Modified {
		return info.Version + "-dirty"
	}
	return info.Version
}
