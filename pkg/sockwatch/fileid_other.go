//go:build !linux

package sockwatch

import "os"

// fileID tells one socket file from another created at the same path. Off
// Linux only the modification time is used, which a new socket updates.
type fileID struct {
	exists bool
	ino    uint64
	ctime  int64 // nanoseconds; the modification time here
}

// identify returns the identity of the file at path, or the zero fileID
// when there is none.
func identify(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	return fileID{exists: true, ctime: fi.ModTime().UnixNano()}
}
