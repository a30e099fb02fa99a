//go:build !linux

package reloader_test

import (
	"fmt"
	"os"
)

// launchMain is Linux-only (it relies on Linux's signal mask layout); the
// tests that use it are too.
func launchMain() {
	fmt.Fprintln(os.Stderr, "launcher: Linux only")
	os.Exit(2)
}
