// Package bindmount makes and removes the read-only bind mounts that
// publish the agent's Workload API socket directory into pods.
//
// Both operations are idempotent and keep no state: they read what is
// mounted on the target from /proc/self/mountinfo (through
// github.com/moby/sys/mountinfo) every time, so a restarted driver, a
// kubelet that publishes the same volume again after its own restart, or
// mounts stacked by an older driver (spiffe-csi-driver before v0.2.12
// bind-mounted again on every publish) all end in exactly one read-only
// mount of the source on the target, or none after Remove.
package bindmount
