// Package demo runs svidkit's three integration patterns side by side on
// one machine, for `go tool task demo`:
//
//  1. a workload on the Workload API: this process, a go-spiffe client
//     (pkg/wlclient), watching its own X.509-SVID;
//  2. svidkit-helper, first as an init container (daemon_mode = false,
//     blocking until its registration entry exists, which the demo creates
//     a few seconds later, then writing the files and exiting 0), then as a
//     sidecar that writes svid.pem, svid_key.pem and svid_bundle.pem
//     atomically and sends SIGHUP to its child, a small TLS server
//     (RunTLSServer) that reloads them; the demo connects to it after each
//     reload and shows the serial it serves;
//  3. svidkit-sds serving the rotating SVID to an SDS client
//     (internal/sdsclient, go-control-plane's StreamSecrets client).
//
// Each pattern has one status line that changes on every rotation
// (redrawn in place on a terminal, appended otherwise); the daemons' logs go
// to files in the demo directory (.demo/), and a machine-readable summary
// (summary.json) is written at exit. Every child runs in its own process
// group and carries a marker in its environment, so that Ctrl-C (or the end
// of the time limit) stops all of them and a test can check that none is
// left (Leftovers).
package demo
