package bindmount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Layers returns the mounts whose mount point is target, bottom first: one
// for a published volume, more when mounts were stacked on it, none when
// nothing is mounted there (or target does not exist).
func Layers(target string) ([]*mountinfo.Info, error) {
	mp, err := canonical(target)
	if err != nil {
		return nil, err
	}
	infos, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.Mountpoint != mp, false
	})
	if err != nil {
		return nil, fmt.Errorf("bindmount: read mountinfo: %w", err)
	}
	return infos, nil
}

// canonical returns target with symbolic links resolved, as mountinfo
// names mount points; a target that does not exist is returned cleaned.
func canonical(target string) (string, error) {
	p, err := filepath.EvalSymlinks(target)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, os.ErrNotExist):
		return filepath.Clean(target), nil
	default:
		return "", fmt.Errorf("bindmount: resolve %q: %w", target, err)
	}
}

// readOnly reports whether a mount's per-mount options include "ro".
func readOnly(i *mountinfo.Info) bool {
	return slices.Contains(strings.Split(i.Options, ","), "ro")
}
