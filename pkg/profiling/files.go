package profiling

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// makePrivateDir creates dir 0700, or makes an existing one 0700: profiles
// show the daemon's memory, so only its user may read them.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create profile directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict profile directory: %w", err)
	}
	return nil
}

// createPrivate creates path anew with mode 0600: a file left there before
// is removed first, so that its mode does not carry over.
func createPrivate(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
