// Package server implements the svidkit server's gRPC APIs — the agent,
// SVID, entry and bundle services of spire-api-sdk — and the two endpoints
// they are served on: a TLS TCP listener for agents, authenticated with
// agent X.509-SVIDs, and a local admin Unix socket for operators.
package server
