// Package sdscli is the svidkit-sds command: a standalone bridge that runs
// beside Envoy, reads the workload's identities from the Workload API
// (package sdsbridge) and serves them to Envoy over SDS v3 (package sds) on
// a Unix socket (TCP on loopback only with -allow-insecure-tcp).
//
//	svidkit-sds run -agent-address /run/svidkit/agent/api.sock -listen /run/svidkit-sds/sds.sock
//
// Settings come from defaults, then the optional HCL file (-config, see
// package sdsconfig), then flags; the Workload API address falls back to
// SPIFFE_ENDPOINT_SOCKET. This package holds only the commands and their
// flags: "run" hands the validated configuration to package sdsbridged,
// which builds and runs the daemon. SIGTERM and SIGINT stop it gracefully.
package sdscli
