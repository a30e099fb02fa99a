// Package e2e holds end-to-end tests and benchmarks: a real server and a real
// agent (assembled by pkg/serverd and pkg/agentd, in process), real sockets,
// real gRPC, SPIRE's API clients as the admin and go-spiffe's Workload API
// client as the workload.
package e2e
