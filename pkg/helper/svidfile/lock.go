package svidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/svidkit/svidkit/pkg/filelock"
)

// lockName is the lock file inside the target directory.
const lockName = "..lock"

// lockDir takes the exclusive lock "..lock" inside root (pkg/filelock: no
// symlink followed, released when the file is closed or the writer dies),
// so that two writers never interleave their file sets.
func lockDir(root *os.Root) (*os.File, error) {
	f, err := filelock.Lock(root, lockName)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, errors.Join(fmt.Errorf("svidfile: directory %q is locked by another writer", root.Name()), f.Close())
	}
	if err != nil {
		return nil, fmt.Errorf("svidfile: lock %q: %w", filepath.Join(root.Name(), lockName), err)
	}
	return f, nil
}
