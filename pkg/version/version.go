// Package version reports the release version and source commit of the
// running binary. Go stamps both into every binary built from a checkout:
// the main module's version (the tag at HEAD, or a pseudo-version such as
// v0.0.0-20261202225736-c664b65a1b2c, with "+dirty" for uncommitted
// changes) and the vcs.revision and vcs.modified settings. Those are read
// with runtime/debug.ReadBuildInfo. A build without VCS information (from a
// source archive, or with -buildvcs=false) may set the fallbacks below with
// -ldflags "-X github.com/svidkit/svidkit/pkg/version.fallbackVersion=v0.1.0
// -X github.com/svidkit/svidkit/pkg/version.fallbackCommit=<sha>" (and
// fallbackModified=true). The Go command also records no VCS information
// in a git worktree (it looks for a .git directory), so the image and
// release builders (internal/images) always pass the fallbacks, taken from
// git.
//
// It is a leaf: every command prints Get().String() for -version, and the
// image builder (internal/images) reads the same Info from a built binary
// for the image labels, so the two never disagree.
package version

import (
	"runtime/debug"
	"strconv"
	"strings"
)

// Set by the linker (-ldflags -X) only; see the package doc. They are the
// only package variables here and nothing assigns them at run time.
var (
	fallbackVersion  string
	fallbackCommit   string
	fallbackModified string
)

// LinkerFlags returns the -X flags that set the fallbacks to info, for
// builders that know the version when the Go command may not.
func LinkerFlags(info Info) []string {
	const pkg = "github.com/svidkit/svidkit/pkg/version."
	return []string{
		"-X", pkg + "fallbackVersion=" + info.Version,
		"-X", pkg + "fallbackCommit=" + info.Commit,
		"-X", pkg + "fallbackModified=" + strconv.FormatBool(info.Modified),
	}
}

// Unknown is the version or commit of a build that carries neither build
// information nor the linker fallbacks (a test binary, for example).
const Unknown = "unknown"

// Info is what a binary knows about its own build.
type Info struct {
	// Version is the main module's version: a release tag (v0.1.0), a
	// pseudo-version, or Unknown.
	Version string
	// Commit is the full source revision, or Unknown.
	Commit string
	// Modified reports whether the working tree had uncommitted changes.
	Modified bool
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, Info{Version: fallbackVersion, Commit: fallbackCommit, Modified: fallbackModified == "true"})
}

// FromBuildInfo returns the Info recorded in bi (nil allowed), with
// fallback's fields where bi records no version or no commit.
func FromBuildInfo(bi *debug.BuildInfo, fallback Info) Info {
	info := fallback
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	// Go appends +dirty to the pseudo-version of a modified tree; Modified
	// says so already.
	if v, ok := strings.CutSuffix(info.Version, "+dirty"); ok {
		info.Version, info.Modified = v, true
	}
	if info.Version == "" {
		info.Version = Unknown
	}
	if info.Commit == "" {
		info.Commit = Unknown
	}
	return info
}

// ShortCommit returns the first 12 characters of the commit, as git's
// abbreviated hashes and Go's pseudo-versions show it.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one line every svidkit command prints for -version:
// "v0.1.0 (commit c664b65a1b2c)", with ", modified" inside the parentheses
// for a build from a tree with uncommitted changes. Like spire-server
// --version it starts with the version, so scripts can take the first
// word.
func (i Info) String() string {
	s := i.Version + " (commit " + i.ShortCommit()
	if i.Modified {
		s += ", modified"
	}
	return s + ")"
}
