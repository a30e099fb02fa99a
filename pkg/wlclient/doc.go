// Package wlclient holds what the Workload API clients (svidkit-helper and
// the svidkit-sds bridge) share: a go-spiffe client whose reconnect delays
// follow one capped backoff (New, Backoff), and the Loop that runs one
// session after another, reconnecting with that backoff after a failure
// and at once when the socket is recreated (package sockwatch).
//
// It imports no agent or server code: the helper and the bridge are plain
// Workload API clients that must work against SPIRE's agent too.
package wlclient
