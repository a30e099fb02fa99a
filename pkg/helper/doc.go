// Package helper is svidkit-helper, a drop-in replacement for spiffe-helper:
// a plain SPIFFE Workload API client that writes the workload's X.509-SVID,
// key, bundles, JWT-SVIDs and JWT bundles to disk for software that reads
// certificates from files, and tells that software when they change.
//
// It talks to any Workload API (svidkit's agent or SPIRE's) and imports no
// agent or server code. The pieces it wires together:
//
//   - go-spiffe's Workload API client, with a capped exponential backoff
//     (100ms to 2s) instead of go-spiffe's linear one, and an fsnotify watch
//     of the socket's directory: when the socket is created again (a new
//     inode: the agent restarted) the helper drops its connection and
//     reconnects at once instead of waiting for gRPC's reconnect backoff.
//     The last good files stay on disk while the Workload API is away.
//   - package svidformat, which turns the Workload API material into the
//     file set, and package svidfile, which writes it as one consistent
//     update (atomic mode) and skips unchanged sets. X.509 and JWT outputs
//     share cert_dir, so every write passes the whole current set.
//   - package reloader, notified after every changed write once every
//     configured output has been received (so cmd starts with a complete
//     set): it starts cmd, signals it and the pid file's process.
//   - a tamper check: cert_dir is watched with fsnotify (and checked every
//     few seconds) and a set deleted or modified behind the helper's back
//     is rewritten, followed by a notification.
//   - write retries: a set that fails to write (ENOSPC, EIO) is written
//     again with capped exponential backoff (500ms doubling to 15s) until
//     it succeeds, without waiting for the next update; an update arriving
//     meanwhile replaces it. Each failure is logged with its cause and
//     counted in _write_errors_total, and /ready answers 503 until the set
//     is on disk.
//   - the health listener (/live and /ready, with spiffe-helper's JSON body)
//     and Prometheus metrics (text format, served without the client library).
//
// JWT-SVIDs are fetched per configured audience and refreshed at half their
// remaining lifetime plus one second, as spiffe-helper does; failed fetches
// are retried with backoff (1s doubling to 60s, spiffe-helper's schedule).
//
// # Why one package
//
// The server, the agent and svidkit-sds each read cmd/<x> → pkg/<x>cli
// (cobra commands) → pkg/<x>d (wiring) → pkg/<x> (core). The helper
// deliberately does not: its command line is one command parsed with the
// standard flag package, with spiffe-helper's flag syntax and no cobra, to
// keep the binary and its resident memory small (target VmRSS < 12 MiB,
// see BenchmarkResidentMemoryDaemon in internal/helpere2e); one flag set
// and one Run do not need three packages. So this package holds the three
// steps in separate files: the command line and exit codes (cli.go,
// exit.go), the wiring and run loops (helper.go, client.go, socket.go,
// daemon.go, oneshot.go) and the core (write.go, repair.go, retry.go,
// state.go, events.go, http.go, metrics.go); the parts with a domain of
// their own are subpackages (helperconfig, svidformat, svidfile, reloader).
//
// # Health and metrics
//
// With health_checks.listener_enabled (daemon mode only, as in
// spiffe-helper) the listener on :bind_port answers liveness_path and
// readiness_path with spiffe-helper's JSON,
//
//	{"status":"OK","health":{"file_write_statuses":{"x509_write_status":"written","jwt_write_status":{"/certs/db.jwt":"written"}}}}
//
// (status "Service Unavailable" with HTTP 503 when the probe fails;
// x509_write_status is left out when no X.509 files are configured; each
// status is "unwritten", "written" or "failed"). Live means no write has
// failed (spiffe-helper's rule); ready means every configured output was
// written and, beyond spiffe-helper, that the X.509-SVID on disk has not
// expired. Prometheus metrics (svidkit_helper_last_write_timestamp_seconds,
// _x509_svid_expiry_timestamp_seconds, _write_errors_total, _repairs_total,
// and the reloader's _signals_sent_total) are on /metrics of the health
// listener, or of metrics_bind_address when set.
//
// # One-shot mode
//
// With daemon_mode = false Run waits until the Workload API serves
// everything configured: the X.509-SVID (the one with the configured hint,
// else the first), each JWT-SVID and the JWT bundles. "No identity issued",
// an absent socket and a refused connection are retried with capped
// exponential backoff (100ms to 2s), and the creation of the socket wakes
// the helper at once. Then it writes the set and returns nil. With an exit
// timeout (exit_timeout, or the -timeout flag) it gives up after it and
// returns a *TimeoutError whose message is one line naming what it was
// waiting for, where, and the last error.
//
// # Exit codes
//
// ExitCode maps Run's (or the command's) error to the process exit code:
//
//	0  success; in daemon mode, stopped by SIGTERM or SIGINT
//	1  usage or configuration error (bad flags, bad file, invalid values)
//	2  one-shot mode timed out waiting for the Workload API
//	3  any other runtime failure (cert_dir unusable, health port taken, ...)
package helper
