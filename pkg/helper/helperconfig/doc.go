// Package helperconfig reads svidkit-helper's configuration: an HCL file in
// spiffe-helper's format, accepted key for key with spiffe-helper's meaning
// and defaults, plus a few opt-in svidkit extras.
//
// Every problem is reported with the key and its file:line, and all problems
// of a file are reported together, one per line in file order. Output file
// names (svid_file_name, svid_key_file_name, svid_bundle_file_name,
// jwt_bundle_file_name, jwt_svids[].jwt_svid_file_name and the extras'
// *_file_name keys) must be plain names inside cert_dir: a path separator,
// NUL, "." or a leading ".." is refused at load, as are two keys naming one
// file. pid_file_name and pkcs12_password_file are paths and are not
// restricted. renew_signal refuses SIGKILL and SIGSTOP, which no workload
// can handle. The result is a typed Config with defaults
// resolved; it stays faithful to the file (for example the
// SPIFFE_ENDPOINT_SOCKET fallback is applied by WorkloadAPIAddress, not by
// Parse) so command-line overrides can be applied before Validate.
//
// # spiffe-helper keys
//
// agent_address, cmd, cmd_args, pid_file_name, cert_dir, daemon_mode
// (default true), add_intermediates_to_bundle, renew_signal ("SIGHUP", also
// "HUP" or "sighup"), svid_file_name, svid_key_file_name,
// svid_bundle_file_name (all three or none), jwt_svids (a list of
// {jwt_audience, jwt_extra_audiences, jwt_svid_file_name}, or repeated
// jwt_svids { ... } blocks), jwt_bundle_file_name, include_federated_domains,
// cert_file_mode (default 0644), key_file_mode (default 0600),
// jwt_bundle_file_mode (default 0600), jwt_svid_file_mode (default 0600),
// hint, omit_expired, and health_checks { listener_enabled, bind_port (default
// 8081), liveness_path (default "/live"), readiness_path (default "/ready") }.
//
// File modes are integers read the way spiffe-helper's HCL decoder reads
// them: a leading 0 means octal (0644), 0x means hex, anything else is
// decimal, so 420 is 0644 and 444 is 0674. A quoted string ("0644") is read
// the same way. A decimal value that looks like it was meant as octal draws a
// warning.
//
// The camelCase keys of older spiffe-helper releases (agentAddress, cmdArgs,
// certDir, renewSignal, svidFileName, svidKeyFileName, svidBundleFileName,
// addIntermediatesToBundle) are accepted with a deprecation warning; giving
// both spellings of one key is an error, as it was in spiffe-helper.
//
// # svidkit extras (all opt-in)
//
//   - exit_timeout = "30s": in one-shot mode, how long to wait for the
//     Workload API to serve an SVID before failing (0, the default, waits
//     forever). The -timeout flag overrides it.
//   - write_mode = "atomic" (default) | "plain": how the file set is written
//     (see package svidfile).
//   - key_encoding = "pkcs8" (default, as spiffe-helper) | "pkcs1" | "sec1".
//   - combined_file_name: also write cert chain and key in one PEM file
//     (HAProxy style), with key_file_mode.
//   - pkcs12_file_name and pkcs12_password_file (both or neither): also write
//     a PKCS#12 keystore, with key_file_mode, encrypted with the first line of
//     the password file.
//   - pkcs12_truststore_file_name (needs pkcs12_password_file): also write a
//     PKCS#12 truststore with the bundle's CA certificates (Java
//     trusted-certificate entries), with cert_file_mode, encrypted with the
//     same password.
//   - restart_policy = "never" (default, as spiffe-helper) | "on-failure" |
//     "always": what to do when cmd exits; needs cmd.
//   - metrics_bind_address = "127.0.0.1:9090": serve Prometheus /metrics on
//     its own listener. When empty, /metrics is served on the health
//     listener if health_checks.listener_enabled is true, and not at all
//     otherwise.
//   - ignore_umask = true: write the file modes exactly. By default they are
//     subject to the process umask, as in spiffe-helper (cert_file_mode 0664
//     under umask 022 gives 0644).
//   - bundle_dir = "bundles": also write the X.509 bundle of each trust
//     domain the Workload API delivers with the SVID (own and federated)
//     into its own file, cert_dir/bundles/<trust domain>.pem (for example
//     bundles/example.org.pem), with cert_file_mode, as the SPIFFE
//     filesystem delivery layout does: never merged, so a consumer can
//     trust a foreign trust domain's roots for that trust domain only
//     (include_federated_domains merges them into one file, which cannot).
//     The files are written with the rest of the set: in the default
//     atomic write_mode the directory switches with it, and the file of a
//     trust domain no longer delivered disappears. The value is a plain
//     name inside cert_dir; the helper owns that directory (keep nothing
//     else in it). Needs the three svid_*file_name keys. Default unset.
//   - pid_file_any_process = true: let pid_file_name name any process (see
//     package reloader for the checks it skips). By default the process must
//     be cmd or its descendant, or run in the helper's pid namespace as the
//     pid file's owner.
package helperconfig
