// Package sdsbridge feeds the SDS server (package sds) from a Workload API
// connection, for the standalone svidkit-sds bridge that runs beside Envoy.
//
// A Bridge is a plain Workload API client, so it works against svidkit's
// agent and SPIRE's agent alike. It watches the X.509 context of the
// workload it runs as and implements sds.Source: every SDS stream gets that
// workload's snapshots. While the Workload API is away the last good
// snapshot keeps being served; the bridge reconnects with a short capped
// backoff, and at once when the agent recreates its socket (an fsnotify
// watch on the socket's directory).
package sdsbridge
