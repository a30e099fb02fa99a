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

	"github.com/svidkit/svidkit/pkg/procid"
)

// maxPIDFileRead bounds how much of the pid file is read.
const maxPIDFileRead = 4096

// pidFile is what was read from the pid file: the pid and the state of the
// file it was read from (the file reached through any symlink).
type pidFile struct {
	pid      int
	owner    uint32
	mode     fs.FileMode
	dev, ino uint64
	mtime    int64 // nanoseconds
	// linkOwner is the owner of the symlink at the pid file's path, or -1
	// when the path is not a symlink.
	linkOwner int64
}

// key identifies the pid and the file's state, so that a refusal is logged
// once per state rather than on every update.
func (pf pidFile) key(reason string) string {
	return fmt.Sprintf("%d %d:%d %d %o %d %d %s", pf.pid, pf.dev, pf.ino, pf.owner, pf.mode, pf.mtime, pf.linkOwner, reason)
}

// readPID returns the pid on the first line of the file at path, trimmed,
// as spiffe-helper reads it; unlike spiffe-helper it ignores later lines so
// that PostgreSQL's postmaster.pid works. Only a positive 32-bit number is a
// pid: kill(2) with 0 or a negative number would signal whole process groups.
// The owner and mode are those of the file that was read (fstat); when the
// path is a symlink, the symlink's owner is recorded too.
func readPID(path string) (pidFile, error) {
	li, err := os.Lstat(path)
	if err != nil {
		return pidFile{}, fmt.Errorf("read pid file: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return pidFile{}, fmt.Errorf("read pid file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return pidFile{}, fmt.Errorf("stat pid file %q: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	lst, lok := li.Sys().(*syscall.Stat_t)
	if !ok || !lok {
		return pidFile{}, fmt.Errorf("stat pid file %q: no owner information", path)
	}
	linkOwner := int64(-1)
	switch {
	case li.Mode()&fs.ModeSymlink != 0:
		linkOwner = int64(lst.Uid)
	case !os.SameFile(li, fi):
		return pidFile{}, fmt.Errorf("pid file %q was replaced while being read", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPIDFileRead))
	if err != nil {
		return pidFile{}, fmt.Errorf("read pid file %q: %w", path, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return pidFile{}, fmt.Errorf("pid file %q: first line is empty", path)
	}
	pid, err := strconv.ParseInt(string(line), 10, 32)
	if err != nil || pid <= 0 {
		return pidFile{}, fmt.Errorf("pid file %q: first line %.40q is not a positive process id", path, line)
	}
	return pidFile{
		pid:   int(pid),
		owner: st.Uid,
		mode:  fi.Mode(),
		dev:   uint64(st.Dev), //nolint:unconvert // not uint64 on every platform
		ino:   st.Ino,
		mtime: fi.ModTime().UnixNano(),

		linkOwner: linkOwner,
	}, nil
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
	pf, err := readPID(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.cfg.Log.Info("pid file absent; its process will be signalled when it appears", "pid_file", path)
		return
	case err != nil:
		l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
		l.cfg.Log.Error("cannot signal pid file process", "pid_file", path, "error", err)
		return
	}
	l.signalPIDFile(pf)
}

// signalPIDFile signals the process named by pf unless it is the child,
// which was signalled already, or checkReach refuses it. The process is
// opened (a pidfd where the kernel has one) before it is checked, and the
// signal goes through that handle, so a pid reused after the checks is
// never signalled.
func (l *loop) signalPIDFile(pf pidFile) {
	path := l.cfg.PIDFile
	if l.child != nil && l.child.pid == pf.pid {
		l.lastPID = pf.pid
		return
	}
	p, err := procid.OpenPID(procRoot, int32(pf.pid))
	if err == nil {
		defer p.Close()
		if err = l.checkReach(pf, p); err == nil {
			err = p.Signal(l.cfg.Signal)
		}
	}
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		l.refuse(pf, refused)
		return
	case errors.Is(err, procid.ErrGone):
		l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
		l.cfg.Log.Warn("pid file names a process that is gone", "pid_file", path, "pid", pf.pid)
		return
	case err != nil:
		l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
		l.cfg.Log.Error("cannot signal pid file process", "pid_file", path, "pid", pf.pid, "error", err)
		return
	}
	l.lastPID = pf.pid
	l.lastRefusal = ""
	l.r.metrics.inc(l.r.metrics.signals, targetPIDFile)
	l.cfg.Log.Info("signalled pid file process", "pid_file", path, "pid", pf.pid, "signal", l.cfg.Signal.String())
}

// refuse counts and logs a refusal: a warning the first time for this pid
// and pid file state, at debug level after that, so that an unchanged
// refused pid file does not log a warning on every update.
func (l *loop) refuse(pf pidFile, r *refusal) {
	l.r.metrics.inc(l.r.metrics.signalErrors, targetPIDFile)
	attrs := []any{"pid_file", l.cfg.PIDFile, "pid", pf.pid, "owner_uid", pf.owner, "mode", fmt.Sprintf("%#o", pf.mode.Perm()), "reason", r.reason}
	if key := pf.key(r.reason); key != l.lastRefusal {
		l.lastRefusal = key
		l.cfg.Log.Warn("refusing to signal the pid file's process", attrs...)
		return
	}
	l.cfg.Log.Debug("refused pid file unchanged; not signalled", attrs...)
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
	pf, err := readPID(l.cfg.PIDFile)
	if err != nil {
		l.cfg.Log.Debug("pid file not usable yet", "pid_file", l.cfg.PIDFile, "error", err)
		return
	}
	if pf.pid == l.lastPID {
		l.cfg.Log.Debug("pid file changed; its process was signalled already", "pid_file", l.cfg.PIDFile, "pid", pf.pid)
		return
	}
	if !processExists(pf.pid) {
		l.cfg.Log.Debug("pid file names no live process", "pid_file", l.cfg.PIDFile, "pid", pf.pid)
		return
	}
	l.cfg.Log.Info("pid file names a new process", "pid_file", l.cfg.PIDFile, "pid", pf.pid)
	l.signalPIDFile(pf)
}
