// Command loadgen runs svidkit servers (one on SQLite, or several on one
// PostgreSQL started from the system's packages) and drives them with
// simulated agents (internal/loadgen), printing attestations and SVIDs
// signed per second, entry propagation latencies with and without churn
// (timed by a prober process of its own: this binary re-executed),
// the servers' CPU and memory and the database calls per second.
// `go tool task loadgen` runs a small load; docs/performance.md gives the
// commands for the documented figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/loadgen"
	"github.com/svidkit/svidkit/internal/pgtest"
)

func main() {
	// Run re-executes this binary as its prober process.
	loadgen.MaybeRunProber()
	var o options
	flag.StringVar(&o.db, "db", "sqlite", `datastore: "sqlite" (one server) or "postgres" (a PostgreSQL started here)`)
	flag.IntVar(&o.servers, "servers", 1, "servers to run (more than one needs -db postgres)")
	flag.StringVar(&o.bin, "server-bin", "", "svidkit-server binary (default: built from ./cmd/server as `go tool task build` does)")
	flag.IntVar(&o.cfg.Agents, "agents", 100, "simulated agents")
	flag.IntVar(&o.cfg.EntriesPerAgent, "entries", 10, "entries per agent")
	flag.DurationVar(&o.cfg.X509SVIDTTL, "svid-ttl", time.Hour, "X.509-SVID lifetime of the entries (agents rotate at half of it)")
	flag.DurationVar(&o.cfg.Phase, "phase", time.Minute, "length of the idle, probe and churn phases")
	flag.Float64Var(&o.cfg.ProbeRate, "probe-rate", 1, "probe entries per second in the probe phase (propagation without churn)")
	flag.Float64Var(&o.cfg.ChurnRate, "churn", 50, "entries created and deleted per second in the churn phase (0: no churn phase)")
	flag.BoolVar(&o.cfg.Rotation, "rotation", false, "wait for every agent to rotate every SVID once (up to -svid-ttl)")
	flag.IntVar(&o.cfg.StartConcurrency, "start-concurrency", 64, "agents attesting at once")
	flag.IntVar(&o.cfg.ProbeAgentsPerServer, "probe-agents", 1, "probe agents per server in the prober process (each probe picks one at random)")
	flag.IntVar(&o.probeCPU, "probe-cpu", -1, "pin the prober process (which times propagation) to this CPU (-1: not pinned)")
	flag.StringVar(&o.dir, "dir", "", "state directory (default: a new temporary one, removed at the end)")
	flag.IntVar(&o.profilingPort, "profiling-port", 0, "serve server i's pprof endpoints on 127.0.0.1:<port+i> (0: none), for curl .../debug/pprof/heap under load")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	db, bin, dir string
	servers      int
	// profilingPort is ClusterConfig.ProfilingPort.
	profilingPort int
	probeCPU      int
	cfg           loadgen.Config
}

func run(ctx context.Context, o options) (err error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "loadgen-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.dir, "svidkit-server")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", o.bin, "./cmd/server")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build svidkit-server (run from the module root, or give -server-bin): %w", err)
		}
	}
	td := spiffeid.RequireTrustDomainFromString("loadgen.test")
	cc := loadgen.ClusterConfig{Binary: o.bin, Dir: o.dir, TrustDomain: td, Servers: o.servers, ProfilingPort: o.profilingPort}
	switch o.db {
	case "sqlite":
	case "postgres":
		pg, err := pgtest.StartStandalone()
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer func() { err = errors.Join(err, pg.Close()) }()
		cc.Postgres = pg.ConnString("postgres")
	default:
		return fmt.Errorf("-db %q: want sqlite or postgres", o.db)
	}
	cluster, err := loadgen.StartCluster(ctx, cc)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cluster.Stop()) }()
	cfg := o.cfg
	cfg.TrustDomain = td
	cfg.Servers = cluster.Targets
	cfg.PostgresConnString = cc.Postgres
	cfg.DataDir = filepath.Join(o.dir, "agents")
	cfg.Log = log
	if o.probeCPU >= 0 {
		cfg.ProberCPUs = []int{o.probeCPU}
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("datastore: %s\n", o.db)
	rep.Write(os.Stdout)
	return nil
}
