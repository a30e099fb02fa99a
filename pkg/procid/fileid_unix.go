//go:build unix

package procid

import (
	"os"
	"syscall"
)

// FileIDOf returns the identity of the file fi describes.
func FileIDOf(fi os.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // widths differ by platform
}
