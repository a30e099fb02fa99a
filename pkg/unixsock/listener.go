package unixsock

import (
	"errors"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// listener is a Unix listener whose socket was renamed into place: it
// reports the final path and removes it on the first Close while the path
// still names its socket (device and inode).
type listener struct {
	*net.UnixListener
	path     string
	dev, ino uint64
	once     sync.Once
}

// Close closes the listener and removes the socket if the path still
// names it.
func (l *listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		var st unix.Stat_t
		if unix.Lstat(l.path, &st) != nil || uint64(st.Dev) != l.dev || st.Ino != l.ino {
			return
		}
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
	})
	return err
}

// Addr reports the socket's final path.
func (l *listener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }
