package sockwatch

import (
	"os"
	"syscall"
)

// fileID tells one socket file from another created at the same path.
// Inode numbers alone are not enough: a socket removed and created again
// often gets the same number back, but not the same change time.
type fileID struct {
	exists bool
	ino    uint64
	ctime  int64 // nanoseconds
}

// identify returns the identity of the file at path, or the zero fileID
// when there is none.
func identify(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{exists: true, ctime: fi.ModTime().UnixNano()}
	}
	return fileID{exists: true, ino: st.Ino, ctime: st.Ctim.Nano()}
}
