package reloader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// maxPIDFileRead bounds how much of the pid file is read.
const maxPIDFileRead = 4096

// errProcessGone reports that the pid file names a process that does not
// exist (any more).
var errProcessGone = errors.New("process gone")

// readPID returns the pid on the first line of the file at path, trimmed,
// as spiffe-helper reads it; unlike spiffe-helper it ignores later lines so
// that PostgreSQL's postmaster.pid works. Only a positive 32-bit number is a
// pid: kill(2) with 0 or a negative number would signal whole process groups.
func readPID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPIDFileRead))
	if err != nil {
		return 0, fmt.Errorf("read pid file %q: %w", path, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return 0, fmt.Errorf("pid file %q: first line is empty", path)
	}
	pid, err := strconv.ParseInt(string(line), 10, 32)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %q: first line %.40q is not a positive process id", path, line)
	}
	return int(pid), nil
}

// signalPID sends sig to pid, refusing to signal the helper itself.
func signalPID(pid int, sig syscall.Signal) error {
	if pid == os.Getpid() {
		return fmt.Errorf("pid %d is the helper itself", pid)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal pid %d: %w", pid, errProcessGone)
		}
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return nil
}

// processExists reports whether a process with this pid exists (EPERM
// means it exists but belongs to someone else).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// notifyPIDFile signals the process named by the pid file, read fresh.
func (l *loop) notifyPIDFile() {
	path := l.cfg.PIDFile
	pid, err := readPID(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.cfg.Log.Info("pid file absent; its process will be signalled when it appears", "pid_file", path)
		return
	case err != nil:
		l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
		l.cfg.Log.Error("cannot signal pid file process", "pid_file", path, "error", err)
		return
	}
	l.signalPIDFile(pid)
}

// signalPIDFile signals pid, read from the pid file, unless it is the child,
// which was signalled already.
func (l *loop) signalPIDFile(pid int) {
	path := l.cfg.PIDFile
	if l.child != nil && l.child.pid == pid {
		l.lastPID = pid
		return
	}
	if err := signalPID(pid, l.cfg.Signal); err != nil {
		l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
		if errors.Is(err, errProcessGone) {
			l.cfg.Log.Warn("pid file names a process that is gone", "pid_file", path, "pid", pid)
			return
		}
		l.cfg.Log.Error("cannot signal pid file process", "pid_file", path, "pid", pid, "error", err)
		return
	}
	l.lastPID = pid
	l.r.metrics.inc(l.r.metrics.signals, targetPIDFile)
	l.cfg.Log.Info("signalled pid file process", "pid_file", path, "pid", pid, "signal", l.cfg.Signal.String())
}

// pidFileChanged runs once the pid file stopped changing. After the first
// Notify, a pid that was not signalled yet and belongs to a live process is
// a new or restarted application: it is signalled so that it surely uses
// the current files. A partly written file, or one naming a dead process,
// is left until it changes again.
func (l *loop) pidFileChanged() {
	if !l.notified {
		l.cfg.Log.Debug("pid file changed before the first write; not signalled", "pid_file", l.cfg.PIDFile)
		return
	}
	pid, err := readPID(l.cfg.PIDFile)
	if err != nil {
		l.cfg.Log.Debug("pid file not usable yet", "pid_file", l.cfg.PIDFile, "error", err)
		return
	}
	if pid == l.lastPID {
		l.cfg.Log.Debug("pid file changed; its process was signalled already", "pid_file", l.cfg.PIDFile, "pid", pid)
		return
	}
	if !processExists(pid) {
		l.cfg.Log.Debug("pid file names no live process", "pid_file", l.cfg.PIDFile, "pid", pid)
		return
	}
	l.cfg.Log.Info("pid file names a new process", "pid_file", l.cfg.PIDFile, "pid", pid)
	l.signalPIDFile(pid)
}
