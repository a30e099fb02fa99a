// Package prereq ends a test whose prerequisite (root, a program, an
// installed service) is missing: outside CI the test is skipped, under CI
// it fails, because CI (.ci/run sets CI) installs every prerequisite and
// runs as root, so a missing one there is a broken machine, not a reason
// to pass.
package prereq

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI (the CI environment variable
// is set, as .ci/run sets it).
func CI() bool { return os.Getenv("CI") != "" }

// Missing ends tb for a missing prerequisite described by format and
// args: it fails under CI and skips elsewhere.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("%s (CI is set: CI must provide it)", msg)
		return
	}
	tb.Skip(msg)
}

// Root ends tb unless it runs as root; why says what needs root.
func Root(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "needs root: %s (uid %d)", why, os.Geteuid())
	}
}

// Tool returns the path of the program name found on PATH, or ends tb;
// install says how to get it.
func Tool(tb testing.TB, name, install string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, "%s not found (%s): %v", name, install, err)
	}
	return p
}
