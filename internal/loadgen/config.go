package loadgen

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Target is one server under load.
type Target struct {
	// Name labels the server in the report.
	Name string
	// Address is the agent API's host:port.
	Address string
	// AdminSocket is the admin API's Unix socket.
	AdminSocket string
	// MetricsURL is the server's Prometheus /metrics URL; empty leaves the
	// server-side counts (SVIDs signed, datastore calls) out of the report.
	MetricsURL string
	// PID is the server's process, for its CPU time and memory; 0 leaves
	// them out.
	PID int
}

// Config describes one load run.
type Config struct {
	// TrustDomain of the servers. Required.
	TrustDomain spiffeid.TrustDomain
	// Servers are the servers of the trust domain; agent i attaches to
	// Servers[i%len(Servers)]. At least one.
	Servers []Target
	// Agents is the number of simulated agents. At least one.
	Agents int
	// EntriesPerAgent is the number of workload entries parented to each
	// agent.
	EntriesPerAgent int
	// X509SVIDTTL is the entries' X.509-SVID lifetime; agents rotate at
	// half of it. Default 1h.
	X509SVIDTTL time.Duration
	// StartConcurrency bounds the agents attesting at once. Default 64.
	StartConcurrency int
	// Phase is the length of the idle and the churn phase. Default 60s.
	Phase time.Duration
	// ProbeRate is how many probe entries per second the idle phase
	// creates (and deletes), to time propagation without churn. Default 1.
	ProbeRate float64
	// ChurnRate is how many entries per second the churn phase creates
	// and deletes, each timed as a probe. 0 skips the phase.
	ChurnRate float64
	// Rotation, when set, adds a phase that lasts until every agent has
	// rotated every SVID once (at most X509SVIDTTL).
	Rotation bool
	// PostgresConnString, when set, is read for pg_stat_database's
	// transaction and row counters of the servers' database.
	PostgresConnString string
	// DataDir holds the agents' state (their bundle files). Required.
	DataDir string
	// RunID prefixes tokens and entry paths, so runs against one database
	// do not collide. Default: the start time.
	RunID string
	// ProbeAgentsPerServer is how many probe agents the prober process
	// runs per server; each probe picks one at random. More than one keeps
	// probes close together at a high rate from queueing behind each
	// other's sync in one agent. Default 1.
	ProbeAgentsPerServer int
	// ProberCPUs, when set, pins the prober process (which times
	// propagation away from the simulated agents) to these CPUs.
	ProberCPUs []int
	// Log receives progress messages; nil discards them.
	Log *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.TrustDomain.IsZero():
		return c, errors.New("loadgen: trust domain is required")
	case len(c.Servers) == 0:
		return c, errors.New("loadgen: at least one server is required")
	case c.Agents < 1:
		return c, fmt.Errorf("loadgen: agents %d: want at least 1", c.Agents)
	case c.EntriesPerAgent < 0:
		return c, fmt.Errorf("loadgen: entries per agent %d: must not be negative", c.EntriesPerAgent)
	case c.DataDir == "":
		return c, errors.New("loadgen: data directory is required")
	case c.ChurnRate < 0 || c.ProbeRate < 0:
		return c, errors.New("loadgen: probe and churn rates must not be negative")
	case c.ProbeAgentsPerServer < 0:
		return c, fmt.Errorf("loadgen: probe agents per server %d: must not be negative", c.ProbeAgentsPerServer)
	}
	if c.ProbeAgentsPerServer == 0 {
		c.ProbeAgentsPerServer = 1
	}
	if c.X509SVIDTTL == 0 {
		c.X509SVIDTTL = time.Hour
	}
	if c.StartConcurrency <= 0 {
		c.StartConcurrency = 64
	}
	if c.Phase == 0 {
		c.Phase = time.Minute
	}
	if c.ProbeRate == 0 {
		c.ProbeRate = 1
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("r%d", time.Now().Unix())
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
