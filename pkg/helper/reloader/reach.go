package reloader

import (
	"fmt"
	"os"

	"github.com/svidkit/svidkit/pkg/procid"
)

// procRoot is where the pid file's process is looked up.
const procRoot = "/proc"

// maxAncestry bounds the walk up the parent chain; real chains are short.
const maxAncestry = 256

// refusal says why the pid file's process is not signalled.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func refusef(format string, args ...any) *refusal {
	return &refusal{reason: fmt.Sprintf(format, args...)}
}

// checkReach reports a refusal unless the helper may signal p, the process
// named by the pid file pf. Whoever can write the pid file chooses the pid,
// so the file must be writable by its owner only (and a symlink to it must
// be the owner's or root's), pid 1 and the helper are never signalled, and
// the process must be one the helper started (the child or a descendant of
// it), or, in the helper's pid namespace, run as the pid file's owner: its
// real or saved uid is the owner's, the rule by which kill(2) lets an
// unprivileged owner signal it. PIDFileAnyProcess drops the last condition.
// What is read about p is read from p: each procid read fails once p has
// exited, and p.Signal does not reach another process that took its pid.
func (l *loop) checkReach(pf pidFile, p *procid.Process) error {
	switch {
	case pf.pid == 1:
		return refusef("pid 1 (init) is never signalled")
	case pf.pid == os.Getpid():
		return refusef("pid %d is the helper itself", pf.pid)
	case pf.mode&0o022 != 0:
		return refusef("the pid file is writable by group or others (mode %#o); only its owner may write it", pf.mode.Perm())
	case pf.linkOwner >= 0 && pf.linkOwner != int64(pf.owner) && pf.linkOwner != 0:
		// As fs.protected_symlinks: whoever planted the link chose the
		// file, so the link must be the file owner's (or root's).
		return refusef("the pid file path is a symlink owned by uid %d, neither root nor the owner %d of the file it names", pf.linkOwner, pf.owner)
	}
	if l.cfg.PIDFileAnyProcess {
		return nil
	}
	if l.child != nil && descendsFrom(p, l.child.pid) {
		return nil
	}
	selfNS, err := procid.SelfPIDNamespace(procRoot)
	if err != nil {
		return refusef("cannot read the helper's pid namespace: %v", err)
	}
	ns, err := p.PIDNamespace()
	if err != nil {
		return refusef("cannot read the process's pid namespace: %v", err)
	}
	if ns != selfNS {
		return refusef("the process is in another pid namespace than the helper")
	}
	uids, err := p.UIDs()
	if err != nil {
		return refusef("cannot read the process's uids: %v", err)
	}
	if uids.Real != pf.owner && uids.Saved != pf.owner {
		return refusef("the process runs as uid %d (saved uid %d), not as the pid file's owner %d", uids.Real, uids.Saved, pf.owner)
	}
	return nil
}

// descendsFrom reports whether p is a descendant of the process with pid
// ancestor. A parent chain that cannot be read (an ancestor exited
// meanwhile) counts as no, leaving the stricter checks to decide.
func descendsFrom(p *procid.Process, ancestor int) bool {
	ppid, err := p.Parent()
	for range maxAncestry {
		switch {
		case err != nil:
			return false
		case int(ppid) == ancestor:
			return true
		case ppid == 0, ppid == 1:
			return false
		}
		ppid, err = parentOf(ppid)
	}
	return false
}

// parentOf returns the parent of the process with pid.
func parentOf(pid int32) (int32, error) {
	p, err := procid.Open(procRoot, pid, nil)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	return p.Parent()
}
