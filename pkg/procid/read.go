package procid

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Parent returns the pid of the process's parent, from /proc/<pid>/stat:
// 0 when the parent is outside the pid namespace of the /proc it was
// opened under. It fails with an error wrapping ErrGone once the process
// has exited: what it returns was read from this process.
func (p *Process) Parent() (int32, error) {
	v, err := readStatField(p.statPath, ppidField)
	if err != nil {
		return 0, p.errorf("read parent: %w", goneIfMissing(err))
	}
	if v > math.MaxInt32 {
		return 0, p.errorf("read parent: pid %d out of range", v)
	}
	if err := p.alive(); err != nil {
		return 0, err
	}
	return int32(v), nil
}

// PIDNamespace returns the identity of the process's pid namespace, the
// file /proc/<pid>/ns/pid; reading it takes the rights of ptrace(2) read
// access to the process. Two processes are in the same pid namespace if
// the identities are equal. It fails with an error wrapping ErrGone once
// the process has exited.
func (p *Process) PIDNamespace() (FileID, error) {
	id, err := statID(filepath.Join(p.dir, "ns", "pid"))
	if err != nil {
		return FileID{}, p.errorf("read pid namespace: %w", goneIfMissing(err))
	}
	if err := p.alive(); err != nil {
		return FileID{}, err
	}
	return id, nil
}

// SelfPIDNamespace returns the identity of the calling process's pid
// namespace as seen under root (normally /proc), to compare with
// Process.PIDNamespace.
func SelfPIDNamespace(root string) (FileID, error) {
	id, err := statID(filepath.Join(root, "self", "ns", "pid"))
	if err != nil {
		return FileID{}, fmt.Errorf("procid: read own pid namespace: %w", err)
	}
	return id, nil
}

// UIDs returns the process's real, effective, saved and filesystem uids,
// from /proc/<pid>/status. It fails with an error wrapping ErrGone once
// the process has exited.
func (p *Process) UIDs() (UIDs, error) {
	status, err := os.ReadFile(filepath.Join(p.dir, "status"))
	if err != nil {
		return UIDs{}, p.errorf("read uids: %w", goneIfMissing(err))
	}
	ids, err := parseUIDs(status)
	if err != nil {
		return UIDs{}, p.errorf("read uids: parse status: %w", err)
	}
	if err := p.alive(); err != nil {
		return UIDs{}, err
	}
	return ids, nil
}
