package reloader

import "fmt"

// RestartPolicy says what happens when the child exits on its own.
//
// Whatever the policy, a child that is not running is started again by the
// next Notify, as spiffe-helper does: some deployments use a short-lived
// reload script as cmd, run once per update. The policy only adds automatic
// restarts, with capped exponential backoff.
type RestartPolicy string

// The restart policies.
const (
	// RestartNever leaves an exited child down until the next Notify.
	RestartNever RestartPolicy = "never"
	// RestartOnFailure restarts a child that exited non-zero or was killed
	// by a signal.
	RestartOnFailure RestartPolicy = "on-failure"
	// RestartAlways restarts a child whenever it exits.
	RestartAlways RestartPolicy = "always"
)

// ParseRestartPolicy returns the policy named s; "" means RestartNever.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	switch p := RestartPolicy(s); p {
	case "":
		return RestartNever, nil
	case RestartNever, RestartOnFailure, RestartAlways:
		return p, nil
	default:
		return "", fmt.Errorf("restart policy %q: want %q, %q or %q", s, RestartNever, RestartOnFailure, RestartAlways)
	}
}

// restarts reports whether a child that exited with success ok is restarted.
func (p RestartPolicy) restarts(ok bool) bool {
	return p == RestartAlways || (p == RestartOnFailure && !ok)
}
