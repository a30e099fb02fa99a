// Package gobuild builds the module's binaries for tests that run them as
// real processes (internal/e2e, internal/demo), with the flags
// `go tool task build` ships them with.
package gobuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
)

// Go returns the path of the go tool. Without it the test is skipped, or
// fails under CI (CI=true), where every test must run.
func Go(tb testing.TB) string {
	tb.Helper()
	return prereq.Tool(tb, "go", "builds binaries and needs the go toolchain in PATH")
}

// ModuleRoot returns the directory of the module's go.mod.
func ModuleRoot(tb testing.TB, goTool string) string {
	tb.Helper()
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		tb.Fatal("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod)
}

// Binaries builds ./cmd/<name> as svidkit-<name> for each name into a new
// temporary directory, which it returns.
func Binaries(tb testing.TB, names ...string) string {
	tb.Helper()
	bin := tb.TempDir()
	for _, name := range names {
		Package(tb, "./cmd/"+name, filepath.Join(bin, "svidkit-"+name))
	}
	return bin
}

// Package builds the package pkg (a path relative to the module root) into
// the file out, with -trimpath, -tags grpcnotrace (plus extraTags) and
// -ldflags "-s -w".
func Package(tb testing.TB, pkg, out string, extraTags ...string) {
	tb.Helper()
	goTool := Go(tb)
	tags := strings.Join(append([]string{"grpcnotrace"}, extraTags...), ",")
	build := exec.Command(goTool, "build", "-trimpath", "-tags", tags, "-ldflags", "-s -w", "-o", out, pkg)
	build.Dir = ModuleRoot(tb, goTool)
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}
