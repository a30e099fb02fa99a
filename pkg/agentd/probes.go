package agentd

import (
	"sync/atomic"

	"github.com/svidkit/svidkit/pkg/agent"
)

// probes are the daemon's liveness and readiness as the health listener
// reports them (Kubernetes probes on the agent DaemonSet).
type probes struct {
	agent *agent.Agent
	// serving is set while the Workload API socket is listening.
	serving atomic.Bool
}

// Live is the agent's liveness (see agent.Agent.Live): its control loop
// makes progress and it holds an unexpired SVID, or is still attesting
// for the first time.
func (p *probes) Live() bool { return p.agent.Live() }

// Ready reports whether workloads can be served: the agent is ready (see
// agent.Agent.Ready: attested, first entry and SVID sync done, SVID
// unexpired) and the Workload API socket is listening.
func (p *probes) Ready() bool { return p.serving.Load() && p.agent.Ready() }
