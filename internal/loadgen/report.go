package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/svidkit/svidkit/internal/benchmetric"
)

// ServerMemory is a process's resident memory at the end of a run.
type ServerMemory struct {
	Name string
	// RSSMiB is VmRSS, PeakMiB VmHWM; 0 when the PID was not given.
	RSSMiB, PeakMiB float64
}

// Report is what one run measured.
type Report struct {
	Config Config
	// Setup is the creation of join tokens and entries by the admin API.
	Setup *Phase
	// Attested is the time from the first agent's start to the last
	// agent's attestation, Ready to the last agent holding all its SVIDs.
	Attested, Ready time.Duration
	// Ramp covers the start until Ready.
	Ramp *Phase
	// Phases are idle, probe, churn and rotation, as run.
	Phases []*Phase
	// Attestations counts agents that attested; Rotated those that
	// rotated every SVID once (rotation phase only).
	Attestations, Rotated int64
	// FailedAgents counts agents that gave up (their Run failed), with
	// the first one's error: under overload a join token attestation
	// that timed out on the agent's side but succeeded on the server's
	// cannot be retried, since the token is used.
	FailedAgents int64
	FirstFailure string
	// SVIDsReceived counts the distinct X.509-SVIDs the simulated
	// workloads received (probes' included): the agents' side of
	// X509Signed.
	SVIDsReceived int64
	// ProbeAgents are the prober process's agents (ProbeAgentsPerServer
	// per server): they attested and hold agent SVIDs, but are counted
	// apart from the simulated agents (Attestations, FailedAgents,
	// Rotated).
	ProbeAgents int
	// Prober is the prober process's memory at the end of the run.
	Prober  ServerMemory
	Servers []ServerMemory
	// Self is the load generator's own memory; Goroutines its goroutines
	// at the end.
	Self       ServerMemory
	Goroutines int
}

// X509Signed returns the X.509-SVIDs the servers signed over the whole
// run (setup to the last phase).
func (r *Report) X509Signed() float64 {
	n := r.Setup.X509Signed + r.Ramp.X509Signed
	for _, p := range r.Phases {
		n += p.X509Signed
	}
	return n
}

// Write prints the report as text.
func (r *Report) Write(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "loadgen: %d agents x %d entries on %d server(s), X.509-SVID TTL %s\n",
		c.Agents, c.EntriesPerAgent, len(c.Servers), c.X509SVIDTTL)
	fmt.Fprintf(w, "setup: %d tokens (+%d for probe agents) + %d entries, probe agents attested, in %s (%s datastore calls/s)\n",
		c.Agents, r.ProbeAgents, c.Agents*c.EntriesPerAgent, r.Setup.Duration.Round(time.Millisecond), rate(r.Setup, r.Setup.DatastoreCalls))
	fmt.Fprintf(w, "attestations: %d in %s = %.0f/s\n", r.Attestations, r.Attested.Round(time.Millisecond), perSec(float64(r.Attestations), r.Attested))
	if r.FailedAgents > 0 {
		fmt.Fprintf(w, "failed agents: %d, first: %s\n", r.FailedAgents, r.FirstFailure)
	}
	fmt.Fprintf(w, "ready (every agent holds all its SVIDs): %s; ramp signed %.0f X.509-SVIDs = %.0f/s\n",
		r.Ready.Round(time.Millisecond), r.Ramp.X509Signed, perSec(r.Ramp.X509Signed, r.Ready))
	writePhase(w, r.Ramp)
	for _, p := range r.Phases {
		writePhase(w, p)
	}
	if r.Rotated > 0 {
		fmt.Fprintf(w, "rotation: %d agents rotated every SVID once\n", r.Rotated)
	}
	fmt.Fprintf(w, "X.509-SVIDs: servers signed %.0f, workloads received %d\n", r.X509Signed(), r.SVIDsReceived)
	for _, s := range r.Servers {
		if s.RSSMiB > 0 {
			fmt.Fprintf(w, "server %s: RSS %.1f MiB (peak %.1f MiB)\n", s.Name, s.RSSMiB, s.PeakMiB)
		}
	}
	fmt.Fprintf(w, "probes: timed by a separate process with its own %d probe agent(s), %d per server, not counted above: RSS %.1f MiB (peak %.1f MiB)\n",
		r.ProbeAgents, c.ProbeAgentsPerServer, r.Prober.RSSMiB, r.Prober.PeakMiB)
	fmt.Fprintf(w, "loadgen: RSS %.1f MiB (peak %.1f MiB), %d goroutines\n", r.Self.RSSMiB, r.Self.PeakMiB, r.Goroutines)
}

func writePhase(w io.Writer, p *Phase) {
	fmt.Fprintf(w, "\n[%s] %s: %.0f X.509-SVIDs/s, %.0f agent SVIDs/s, %.0f RPCs/s, datastore %s calls/s",
		p.Name, p.Duration.Round(time.Millisecond), p.PerSecond(p.X509Signed), p.PerSecond(p.AgentSigned),
		p.PerSecond(p.RPCs), rate(p, p.DatastoreCalls))
	if p.PGXacts >= 0 {
		fmt.Fprintf(w, ", PostgreSQL %s xacts/s %s rows returned/s", rate(p, p.PGXacts), rate(p, p.PGTupReturned))
	}
	fmt.Fprintln(w)
	if len(p.DatastoreByMethod) > 0 {
		methods := slices.SortedFunc(maps.Keys(p.DatastoreByMethod), func(a, b string) int {
			return cmp.Compare(p.DatastoreByMethod[b], p.DatastoreByMethod[a])
		})
		var parts []string
		for _, m := range methods[:min(len(methods), 6)] {
			parts = append(parts, fmt.Sprintf("%s %s/s", m, rate(p, p.DatastoreByMethod[m])))
		}
		fmt.Fprintf(w, "  datastore by method: %s\n", strings.Join(parts, ", "))
	}
	var cpu []string
	for _, c := range p.ServerCPU {
		cpu = append(cpu, fmt.Sprintf("%.2f", c))
	}
	fmt.Fprintf(w, "  server CPU (cores): %s\n", strings.Join(cpu, " "))
	if pr := p.Probes; pr != nil && (len(pr.Same)+len(pr.Cross)+pr.Errors+pr.Skipped) > 0 {
		fmt.Fprintf(w, "  propagation at %.1f/s: %s", p.ProbeRate, latencies("same server", pr.Same))
		if len(pr.Cross) > 0 {
			fmt.Fprintf(w, "; %s", latencies("cross server", pr.Cross))
		}
		fmt.Fprintf(w, "; errors %d, skipped %d\n", pr.Errors, pr.Skipped)
		if pr.FirstError != "" {
			fmt.Fprintf(w, "  first probe error: %s\n", pr.FirstError)
		}
	}
}

func latencies(name string, l benchmetric.Latencies) string {
	return fmt.Sprintf("%s n=%d p50 %s p99 %s max %s", name, len(l),
		l.Quantile(0.5).Round(100*time.Microsecond), l.Quantile(0.99).Round(100*time.Microsecond), l.Quantile(1).Round(100*time.Microsecond))
}

func rate(p *Phase, n float64) string {
	v := p.PerSecond(n)
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func perSec(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}
