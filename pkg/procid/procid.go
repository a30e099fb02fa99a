// Package procid holds on to the identity of one local process, the peer
// of a Unix socket connection, so that what is later read about it from
// /proc can be checked to be about that same process, still running the
// same executable.
//
// A pid alone does not name a process for long: once the process exits, its
// pid goes to the next process that starts, and exec replaces the program
// behind a pid without changing it. A Process therefore records, when it is
// opened, a pidfd (a file descriptor naming the process itself, where the
// kernel has them), the process's start time (field 22 of /proc/<pid>/stat;
// the only check where there is no pidfd) and the device and inode of its
// executable. Verify, called after reading anything about the process,
// reports ErrGone if the process has exited (its pid may name another one
// by now) and ErrExeChanged if it runs another executable.
//
// A Process also reads a few facts about the process (Parent,
// PIDNamespace, UIDs), each checked to be of this process, and Signal
// sends it a signal that cannot reach another process that took its pid.
// Signal checks liveness only: a process that exec'd is still signalled.
package procid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// ErrGone reports that the process exited: its pid may belong to another
// process by now.
var ErrGone = errors.New("process exited")

// ErrExeChanged reports that the process runs another executable than when
// it was opened: it exec'd since.
var ErrExeChanged = errors.New("process exec'd another executable since it was identified")

// ErrUnsupported is returned by Open where the platform has no /proc.
var ErrUnsupported = errors.New("procid: process identity is not supported on this platform")

// FileID identifies a file on this host: its device and inode numbers.
type FileID struct {
	Dev, Ino uint64
}

// Process is a handle on one process. It is safe for concurrent use; Close
// releases it.
type Process struct {
	pid      int32
	dir      string // <root>/<pid>
	statPath string // <root>/<pid>/stat
	exePath  string // <root>/<pid>/exe
	start    uint64 // clock ticks after boot
	exe      FileID
	// exeErr is why the executable could not be identified at Open (for
	// example a non-root reader); then exe is zero and not checked.
	exeErr error
	// pidfd names the process; nil where the kernel has no pidfds.
	pidfd *os.File
	raw   syscall.RawConn
	close sync.Once
}

// Open returns a handle on process pid as seen under root (normally
// /proc), taking ownership of pidfd, a pidfd for the same process or nil
// for none. It records the process's start time and executable and fails
// with ErrGone if the process has exited meanwhile.
func Open(root string, pid int32, pidfd *os.File) (*Process, error) {
	if pid <= 0 {
		return nil, errors.Join(fmt.Errorf("procid: invalid pid %d", pid), closeFile(pidfd))
	}
	dir := filepath.Join(root, strconv.Itoa(int(pid)))
	p := &Process{pid: pid, dir: dir, statPath: filepath.Join(dir, "stat"), exePath: filepath.Join(dir, "exe"), pidfd: pidfd}
	if pidfd != nil {
		raw, err := pidfd.SyscallConn()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("procid: pid %d: pidfd: %w", pid, err), p.Close())
		}
		p.raw = raw
	}
	start, err := readStatField(p.statPath, startTimeField)
	if err != nil {
		return nil, errors.Join(p.errorf("read start time: %w", goneIfMissing(err)), p.Close())
	}
	p.start = start
	p.exe, p.exeErr = statID(p.exePath)
	// What was read is of the process the pidfd names, or, without one, of
	// the process that had the start time read first.
	if err := p.alive(); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// PID returns the process's pid as seen under the root it was opened with.
func (p *Process) PID() int32 { return p.pid }

// MatchExe reports whether id is the executable the process ran when it
// was opened: nil if so, an error wrapping ErrExeChanged if not, and an
// error if the executable could not be identified then.
func (p *Process) MatchExe(id FileID) error {
	switch {
	case p.exeErr != nil:
		return p.errorf("executable was not identifiable when the process was identified: %w", p.exeErr)
	case id != p.exe:
		return p.errorf("%w", ErrExeChanged)
	}
	return nil
}

// Verify reports whether the process is still the one opened, running the
// same executable: nil if so, else an error wrapping ErrGone or
// ErrExeChanged. Call it after reading anything about the process from
// /proc: what was read before a nil Verify was read from this process.
// The executable is not checked when it could not be identified at Open.
func (p *Process) Verify() error {
	var exeErr error
	if p.exeErr == nil {
		switch id, err := statID(p.exePath); {
		case err != nil:
			exeErr = p.errorf("identify executable: %w", goneIfMissing(err))
		case id != p.exe:
			exeErr = p.errorf("%w", ErrExeChanged)
		}
	}
	// Liveness last: if the process is still there now, it was there
	// during every read before.
	if err := p.alive(); err != nil {
		return err
	}
	return exeErr
}

// alive fails with ErrGone once the process has exited: by its pidfd where
// there is one, else by its start time, which a process reusing the pid
// has different unless it started within the same clock tick.
func (p *Process) alive() error {
	if p.raw != nil {
		var sigErr error
		if err := p.raw.Control(func(fd uintptr) { sigErr = signalZero(int(fd)) }); err != nil {
			return p.errorf("pidfd: %w", err)
		}
		if sigErr != nil {
			return p.errorf("pidfd: %w", sigErr)
		}
		return nil
	}
	start, err := readStatField(p.statPath, startTimeField)
	switch {
	case err != nil:
		return p.errorf("read start time: %w", goneIfMissing(err))
	case start != p.start:
		return p.errorf("start time %d, was %d: %w", start, p.start, ErrGone)
	}
	return nil
}

// Close releases the pidfd. It is idempotent; a Verify after Close fails.
func (p *Process) Close() error {
	if p == nil {
		return nil
	}
	var err error
	p.close.Do(func() { err = closeFile(p.pidfd) })
	return err
}

func (p *Process) errorf(format string, args ...any) error {
	return fmt.Errorf("procid: pid %d: "+format, append([]any{p.pid}, args...)...)
}

func closeFile(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}

// goneIfMissing turns the errors of reading /proc/<pid> after the process
// has gone into ErrGone.
func goneIfMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w (%w)", ErrGone, err)
	}
	return err
}
