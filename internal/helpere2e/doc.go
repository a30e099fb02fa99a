// Package helpere2e holds the end-to-end tests and benchmarks of
// svidkit-helper: svidkit's real server and agent run in process (as in
// internal/e2e), the helper talks to the agent over its real Workload API
// socket, either in process (package helper) or as the real binary, and a
// real child process counts the renew signals it receives.
package helpere2e
