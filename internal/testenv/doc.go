// Package testenv runs a real svidkit server and agent in process for tests
// and examples that need SVIDs from the real thing: the daemons are
// assembled from their configuration by pkg/serverd and pkg/agentd exactly
// as the binaries do, the admin API is reached over its Unix socket with
// SPIRE's API clients, and workloads reach the agent's Workload API socket.
//
// Sockets live under a short os.MkdirTemp directory, because Unix socket
// paths are limited to 108 bytes: the Workload API socket's directory is
// traversable by every user (workloads may run as another uid), the admin
// socket's is private to the test's user.
package testenv
