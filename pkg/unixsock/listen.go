package unixsock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrReplaced reports that the socket path stopped naming the socket Listen
// bound right after it was put in place.
var ErrReplaced = errors.New("socket replaced after it was put in place")

// inUseTimeout bounds the dial that tells a live socket from a stale one.
const inUseTimeout = 200 * time.Millisecond

// Config says how Listen creates a socket.
type Config struct {
	// Mode is the socket's permission bits, set whatever the umask.
	Mode fs.FileMode
	// DirMode is the mode of the directories Listen creates, whatever the
	// umask. Existing directories keep theirs.
	DirMode fs.FileMode
	// SharedDir accepts a socket directory that other users own or may
	// write (an emptyDir shared by two containers), with a warning: they
	// can replace the socket. Directories above it are checked anyway.
	SharedDir bool
	// SharedHint names the setting that sets SharedDir, for the refusal's
	// message ("socket_dir_shared = true in the agent block").
	SharedHint string
	// RefuseInUse refuses to replace a socket that accepts connections
	// (another instance is running); otherwise only stale sockets are.
	RefuseInUse bool
	// Log receives the SharedDir warning; default slog.Default().
	Log *slog.Logger
}

// Listen creates a Unix socket at path with cfg.Mode and listens on it, as
// the package comment describes: the directory (created with cfg.DirMode
// when missing) and every directory above it must be safe, the mode is set
// without following links, and the path is checked to name the new socket.
// A stale socket at path is replaced; anything else there is refused. The
// listener's Close removes the socket while the path still names it.
func Listen(ctx context.Context, path string, cfg Config) (net.Listener, error) {
	return listen(ctx, path, cfg, nil)
}

// listen is Listen; placed, when set, runs right after the socket is
// renamed into place (tests use it to replace the socket at that moment).
func listen(ctx context.Context, path string, cfg Config, placed func()) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("unixsock: socket path is empty")
	}
	if cfg.Mode&^fs.ModePerm != 0 || cfg.DirMode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("unixsock: modes %v and %v are not permission bits", cfg.Mode, cfg.DirMode)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("unixsock: %w", err)
	}
	dir, base := filepath.Split(path)
	dir = filepath.Clean(dir)
	euid := os.Geteuid()
	if err := makeDirs(dir, cfg.DirMode, euid); err != nil {
		return nil, err
	}
	info, err := checkPath(dir, euid, cfg.SharedDir, cfg.SharedHint)
	if err != nil {
		return nil, err
	}
	if cfg.SharedDir {
		cfg.Log.Warn("socket directory declared shared: users who can write it can replace the socket",
			"socket", path, "dir", info.path, "owner_uid", info.uid, "mode", fmt.Sprintf("%04o", info.mode))
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("unixsock: open directory %q: %w", dir, err)
	}
	defer unix.Close(dirfd)
	if err := checkExisting(ctx, dirfd, path, base, cfg.RefuseInUse); err != nil {
		return nil, err
	}
	p, err := newPrivateDir(dirfd, dir, euid)
	if err != nil {
		return nil, err
	}
	defer p.remove(dirfd)
	return p.place(ctx, dirfd, path, base, cfg.Mode, placed)
}

// checkExisting refuses what sits at base in dirfd unless it is nothing or
// a socket (a stale one, or a live one unless refuseInUse).
func checkExisting(ctx context.Context, dirfd int, path, base string, refuseInUse bool) error {
	var st unix.Stat_t
	switch err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("unixsock: stat %q: %w", path, err)
	case st.Mode&unix.S_IFMT != unix.S_IFSOCK:
		return fmt.Errorf("unixsock: %q exists and is not a socket", path)
	}
	if refuseInUse {
		ctx, cancel := context.WithTimeout(ctx, inUseTimeout)
		defer cancel()
		if c, err := (&net.Dialer{}).DialContext(ctx, "unix", path); err == nil {
			_ = c.Close()
			return fmt.Errorf("unixsock: %q: socket in use by another process", path)
		}
	}
	return nil
}

// privateDir is a fresh directory of the daemon's, mode 0700, inside the
// socket's directory: no other uid can add, change or rename anything in
// it.
type privateDir struct {
	name string // in the socket's directory
	path string
	fd   int
}

// maxSocketPath is the longest path bind accepts (sun_path less its NUL).
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// sockName is the socket's name inside the private directory; short, as
// socket paths are limited to 107 bytes.
const sockName = "s"

// newPrivateDir creates the private directory in dirfd and opens it
// without following links, checking it is the daemon's own.
func newPrivateDir(dirfd int, dir string, euid int) (*privateDir, error) {
	for range 10 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		name := ".s" + hex.EncodeToString(b[:])
		err := unix.Mkdirat(dirfd, name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("unixsock: create temporary directory in %q: %w", dir, err)
		}
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("unixsock: open temporary directory in %q: %w", dir, err)
		}
		p := &privateDir{name: name, path: filepath.Join(dir, name), fd: fd}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("unixsock: stat %q: %w", p.path, err)
		}
		if int64(st.Uid) != int64(euid) || st.Mode&0o777 != 0o700 {
			unix.Close(fd)
			return nil, fmt.Errorf("unixsock: temporary directory %q was replaced (owner uid %d, mode %04o)", p.path, st.Uid, st.Mode&0o7777)
		}
		return p, nil
	}
	return nil, fmt.Errorf("unixsock: no free temporary directory name in %q", dir)
}

// place binds the socket in the private directory, sets its mode there,
// renames it to base in dirfd and checks that path names it.
func (p *privateDir) place(ctx context.Context, dirfd int, path, base string, mode fs.FileMode, placed func()) (net.Listener, error) {
	bindPath := filepath.Join(p.path, sockName)
	if len(bindPath) > maxSocketPath {
		// The temporary name is 13 bytes longer than the directory; a
		// final path that fits may not. /proc/self/fd/N names the same
		// directory, through the descriptor.
		bindPath = fmt.Sprintf("/proc/self/fd/%d/%s", p.fd, sockName)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "unix", bindPath)
	if err != nil {
		return nil, fmt.Errorf("unixsock: listen on %q: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the name changes; listener.Close removes the final one
	fail := func(err error) (net.Listener, error) {
		_ = unix.Unlinkat(p.fd, sockName, 0)
		return nil, errors.Join(err, ul.Close())
	}
	// Only this process can create names in p, so the socket there is the
	// one just bound, and fchmodat cannot meet a link.
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, sockName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(fmt.Errorf("unixsock: stat new socket for %q: %w", path, err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fail(fmt.Errorf("unixsock: new socket for %q is not a socket", path))
	}
	if err := unix.Fchmodat(p.fd, sockName, uint32(mode.Perm()), 0); err != nil {
		return fail(fmt.Errorf("unixsock: set mode of socket %q: %w", path, err))
	}
	if err := unix.Renameat(p.fd, sockName, dirfd, base); err != nil {
		return fail(fmt.Errorf("unixsock: move socket into place at %q: %w", path, err))
	}
	if placed != nil {
		placed()
	}
	var now unix.Stat_t
	if err := unix.Lstat(path, &now); err != nil || uint64(now.Dev) != uint64(st.Dev) || now.Ino != st.Ino {
		// Not ours any more: leave the path alone.
		return nil, errors.Join(fmt.Errorf("unixsock: %q: %w", path, ErrReplaced), ul.Close())
	}
	return &listener{UnixListener: ul, path: path, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// remove deletes the private directory (empty by now) and closes it.
func (p *privateDir) remove(dirfd int) {
	_ = unix.Unlinkat(dirfd, p.name, unix.AT_REMOVEDIR)
	_ = unix.Close(p.fd)
}
