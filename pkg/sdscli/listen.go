package sdscli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/svidkit/svidkit/pkg/sdsconfig"
)

// listen opens one SDS listener. Unix sockets get mode.
func listen(ctx context.Context, l sdsconfig.Listener, mode os.FileMode) (net.Listener, error) {
	if l.Network == "unix" {
		return listenUnix(ctx, l.Address, mode)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", l.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", l.Address, err)
	}
	return ln, nil
}

// listenUnix creates the socket at path with mode. The socket is made
// under a temporary name, given its mode, then renamed into place, so no
// client can ever connect to it with looser permissions. A stale socket
// is replaced; a live one (another bridge) or a non-socket file is an
// error.
func listenUnix(ctx context.Context, path string, mode os.FileMode) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory %q: %w", dir, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on %q: file exists and is not a socket", path)
		}
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.DialContext(ctx, "unix", path); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("listen on %q: socket in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %q: %w", path, err)
		}
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp"+strconv.Itoa(os.Getpid()))
	_ = os.Remove(tmp)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	// The name changes below; unixListener.Close removes the final one.
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode); err != nil {
		return nil, errors.Join(fmt.Errorf("set mode of socket %q: %w", path, err), ul.Close(), os.Remove(tmp))
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, errors.Join(fmt.Errorf("move socket into place at %q: %w", path, err), ul.Close(), os.Remove(tmp))
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// unixListener removes its socket file on the first Close.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

// Close closes the listener and removes the socket file.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
	})
	return err
}

// Addr reports the socket's final path.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }
