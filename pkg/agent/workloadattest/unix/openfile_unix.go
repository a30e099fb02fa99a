//go:build unix

package unix

import (
	"os"
	"syscall"
)

// openFile opens path for reading as a plain blocking file. os.Open also
// makes the descriptor non-blocking and offers it to the network poller,
// syscalls that achieve nothing for files in /proc and cost more than
// reading them; attestation opens two on every Workload API call.
func openFile(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
