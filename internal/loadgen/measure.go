package loadgen

import (
	"context"
	"time"
)

// snapshot is the servers' counters at one moment.
type snapshot struct {
	at      time.Time
	metrics []samples // per server; nil without a MetricsURL
	cpu     []time.Duration
	pg      *pgStat
}

// snap reads every server's metrics, CPU time and the database counters.
// Unreadable sources are left out (and so out of the phase's figures)
// rather than ending the run.
func (r *runner) snap(ctx context.Context) snapshot {
	s := snapshot{at: time.Now()}
	for _, t := range r.cfg.Servers {
		var m samples
		if t.MetricsURL != "" {
			var err error
			if m, err = scrape(ctx, t.MetricsURL); err != nil {
				r.cfg.Log.Warn("scrape failed", "server", t.Name, "error", err)
			}
		}
		s.metrics = append(s.metrics, m)
		var cpu time.Duration
		if t.PID != 0 {
			var err error
			if cpu, err = procCPU(t.PID); err != nil {
				r.cfg.Log.Warn("cpu time unreadable", "server", t.Name, "error", err)
			}
		}
		s.cpu = append(s.cpu, cpu)
	}
	if r.cfg.PostgresConnString != "" {
		if st, err := readPGStat(ctx, r.cfg.PostgresConnString); err == nil {
			s.pg = &st
		} else {
			r.cfg.Log.Warn("pg_stat_database unreadable", "error", err)
		}
	}
	return s
}

// Phase is what the servers did between two moments of a run.
type Phase struct {
	Name     string
	Duration time.Duration
	// X509Signed and AgentSigned are SVIDs the servers signed, from their
	// svidkit_server_svids_signed_total.
	X509Signed, AgentSigned float64
	// RPCs are the agent and admin API calls the servers completed.
	RPCs float64
	// DatastoreCalls are svidkit_datastore_calls_total, all servers;
	// DatastoreByMethod splits them.
	DatastoreCalls    float64
	DatastoreByMethod map[string]float64
	// PGXacts and PGTupReturned are pg_stat_database deltas (PostgreSQL
	// only; -1 when not read).
	PGXacts, PGTupReturned float64
	// ServerCPU is each server's CPU use in cores (CPU seconds per second).
	ServerCPU []float64
	// Probes are the propagation timings taken during the phase.
	Probes *probes
	// ProbeRate is the rate the phase probed at.
	ProbeRate float64
}

// PerSecond divides a count of the phase by its duration.
func (p *Phase) PerSecond(n float64) float64 {
	if p.Duration <= 0 {
		return 0
	}
	return n / p.Duration.Seconds()
}

// phase computes the figures between snapshots a and b.
func phase(name string, a, b snapshot) *Phase {
	p := &Phase{Name: name, Duration: b.at.Sub(a.at), DatastoreByMethod: map[string]float64{}, PGXacts: -1, PGTupReturned: -1}
	for i := range a.metrics {
		ma, mb := a.metrics[i], b.metrics[i]
		if ma != nil && mb != nil {
			p.X509Signed += mb.sum("svidkit_server_svids_signed_total", `kind="x509"`) - ma.sum("svidkit_server_svids_signed_total", `kind="x509"`)
			p.AgentSigned += mb.sum("svidkit_server_svids_signed_total", `kind="agent"`) - ma.sum("svidkit_server_svids_signed_total", `kind="agent"`)
			p.RPCs += mb.sum("svidkit_server_rpcs_total") - ma.sum("svidkit_server_rpcs_total")
			p.DatastoreCalls += mb.sum("svidkit_datastore_calls_total") - ma.sum("svidkit_datastore_calls_total")
			before := ma.byLabel("svidkit_datastore_calls_total", "method")
			for m, v := range mb.byLabel("svidkit_datastore_calls_total", "method") {
				if d := v - before[m]; d > 0 {
					p.DatastoreByMethod[m] += d
				}
			}
		}
		cores := 0.0
		if a.cpu[i] != 0 && p.Duration > 0 {
			cores = (b.cpu[i] - a.cpu[i]).Seconds() / p.Duration.Seconds()
		}
		p.ServerCPU = append(p.ServerCPU, cores)
	}
	if a.pg != nil && b.pg != nil {
		p.PGXacts = b.pg.Xacts - a.pg.Xacts
		p.PGTupReturned = b.pg.TupReturned - a.pg.TupReturned
	}
	return p
}
