// Package sockrace is a test helper that attacks socket creation the way a
// local user who can write a socket's directory would: as soon as a socket
// appears at a path, it renames a symlink to a victim file over it, so that
// a daemon that sets the socket's mode by path (bind, then chmod) changes
// the victim's mode instead. It runs in-process (a goroutine, as the test's
// own uid) or in a child process running as another uid.
package sockrace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Swap watches paths until ctx ends and, whenever a socket sits at one of
// them, renames a fresh symlink to target over it. It returns how many
// swaps it made. It spins: the window it aims for is a few system calls
// wide.
func Swap(ctx context.Context, target string, paths ...string) (int, error) {
	swaps := 0
	var st unix.Stat_t
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return swaps, nil
		}
		for _, p := range paths {
			if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
				continue
			}
			tmp := filepath.Join(filepath.Dir(p), ".sockrace-link")
			_ = unix.Unlink(tmp)
			if err := unix.Symlink(target, tmp); err != nil {
				return swaps, fmt.Errorf("sockrace: symlink: %w", err)
			}
			if err := unix.Rename(tmp, p); err != nil && !errors.Is(err, unix.ENOENT) {
				return swaps, fmt.Errorf("sockrace: rename over %s: %w", p, err)
			}
			swaps++
		}
	}
}
