package helperconfig

import "github.com/svidkit/svidkit/pkg/hcldecode"

// Safety holds the opt-outs of svidkit-helper's safety checks. Both are off
// by default; each trades a check for compatibility with a deployment that
// needs it.
type Safety struct {
	// IgnoreUmask writes cert_file_mode, key_file_mode and the other modes
	// exactly (ignore_umask). By default, as in spiffe-helper, the process
	// umask clears bits from them: cert_file_mode 0664 under umask 022
	// gives 0644.
	IgnoreUmask bool
	// PIDFileAnyProcess lets pid_file_name name a process the helper would
	// otherwise refuse to signal: one that is neither the helper's cmd (or
	// its descendant) nor, in the helper's pid namespace, running as the
	// pid file's owner (pid_file_any_process). The pid file must still not
	// be writable by group or others, and pid 1 is never signalled. It
	// trusts the pid file's owner to name any process.
	PIDFileAnyProcess bool
}

// safetyFields adds the keys of Safety to fields.
func (d *decoder) safetyFields(fields map[string]hcldecode.Field, s *Safety) {
	fields["ignore_umask"] = d.Bool(&s.IgnoreUmask)
	fields["pid_file_any_process"] = d.Bool(&s.PIDFileAnyProcess)
}
