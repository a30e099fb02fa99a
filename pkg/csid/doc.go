// Package csid assembles the svidkit-csi daemon: the CSI driver (package
// csi) served over gRPC on the CSI Unix socket, created by package
// unixsock, and the optional health and metrics listener (package
// health), whose /ready follows the driver's Probe. It owns their
// lifetimes: everything stops when the context ends (SIGTERM) or when one
// part fails, and in-flight RPCs get a short grace period (package
// grpcstop). Mounts are left in place at shutdown: they belong to the
// pods, and a restarted driver finds them in /proc/self/mountinfo.
//
// Package csicli holds the command and its flags and calls Run; this
// package holds no flags.
package csid
