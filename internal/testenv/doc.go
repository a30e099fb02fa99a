// Package testenv runs a real svidkit server and its agents in process for
// tests and examples that need SVIDs from the real thing: the daemons are
// assembled from their configuration by pkg/serverd and pkg/agentd exactly
// as the binaries do, the admin API is reached over its Unix socket with
// SPIRE's API clients, and workloads reach each agent's Workload API
// socket.
//
// Start gives one server and one agent (the common case). StartServer gives
// a server alone, which can be stopped and restarted on the same port with
// the same state, and runs any number of named agents, each restartable
// under its name, with a configuration the caller may adjust first. Layout,
// ServerHCL and AgentHCL serve tests that run the real binaries instead:
// the same directories and the same settings, as configuration files.
//
// Sockets live under a short os.MkdirTemp directory, because Unix socket
// paths are limited to 108 bytes: the Workload API sockets' directory is
// traversable by every user (workloads may run as another uid), the admin
// socket's is private to the test's user. Everything a call starts is
// stopped by t.Cleanup; nothing is shared between tests.
package testenv
