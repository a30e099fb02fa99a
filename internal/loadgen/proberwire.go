package loadgen

import (
	"time"
)

// proberEnv, set to "1" in a process's environment, makes MaybeRunProber
// run the prober in it.
const proberEnv = "SVIDKIT_LOADGEN_PROBER"

// The load generator and its prober process speak JSON lines: requests on
// the prober's stdin, replies on its stdout. The first request is the
// setup, answered by a ready reply once the probe agents attested; then
// each phase is a phase request, a stop request and a result reply. The
// prober exits when its stdin ends.

// proberRequest is one line from the load generator to the prober; one
// field is set.
type proberRequest struct {
	Setup *proberSetup `json:"setup,omitempty"`
	// Phase starts probing at its rate (0: none) until the next Stop.
	Phase *proberPhase `json:"phase,omitempty"`
	// Stop ends the phase; the prober answers with its result once every
	// probe it started has finished.
	Stop bool `json:"stop,omitempty"`
}

// proberSetup is what the prober needs to run its probe agents (agent i
// attached to Servers[i%len(Servers)]) and its admin clients.
type proberSetup struct {
	TrustDomain string         `json:"trust_domain"`
	Servers     []proberServer `json:"servers"`
	Bundle      [][]byte       `json:"bundle"` // DER X.509 authorities
	Tokens      []string       `json:"tokens"` // Tokens[i] attests probe agent i
	DataDir     string         `json:"data_dir"`
	RunID       string         `json:"run_id"`
	X509SVIDTTL time.Duration  `json:"x509_svid_ttl"`
}

// proberServer is one server as the prober dials it.
type proberServer struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	AdminSocket string `json:"admin_socket"`
}

// proberPhase names a phase and its probe rate per second.
type proberPhase struct {
	Name string  `json:"name"`
	Rate float64 `json:"rate"`
}

// proberReply is one line from the prober; one field is set.
type proberReply struct {
	// Ready answers the setup: every probe agent attested.
	Ready bool `json:"ready,omitempty"`
	// Result answers a stop: the phase's timings.
	Result *probes `json:"result,omitempty"`
	// Error is a failure that ends the prober.
	Error string `json:"error,omitempty"`
}
