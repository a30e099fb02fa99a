package loadgen

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
)

// runner holds one run's state.
type runner struct {
	cfg    Config
	admins []*admin
	// prober is the process timing propagation; nil until started.
	prober *proberProc
}

// Run performs one load run against cfg.Servers and reports what it
// measured. The servers must accept join tokens without the attestation
// rate limit (ratelimit { attestation = false }): every simulated agent
// connects from this host's address, which the limit allows one
// attestation per second. Run returns when the last phase ends, or with
// ctx's error.
//
// Propagation is timed by a prober process of its own, with its own probe
// agents (Config.ProbeAgentsPerServer per server), so that the simulated
// fleet's heap, garbage collections and scheduler do not weigh on the
// figures: Run re-executes this program, which must call MaybeRunProber
// first (see there).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	defer func() {
		for _, a := range r.admins {
			_ = a.Close()
		}
	}()
	for _, t := range cfg.Servers {
		a, err := dialAdmin(t.AdminSocket)
		if err != nil {
			return nil, fmt.Errorf("loadgen: server %s: %w", t.Name, err)
		}
		r.admins = append(r.admins, a)
	}
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	rep := &Report{Config: cfg}
	bundle, err := r.trustBundle(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	cfg.Log.Info("setup: creating join tokens and entries", "agents", cfg.Agents, "entries", cfg.Agents*cfg.EntriesPerAgent)
	s0 := r.snap(ctx)
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	// The probe agents attest in the setup phase, before the fleet.
	if r.prober, err = startProber(ctx, r.proberSetup(bundle), cfg.ProberCPUs); err != nil {
		return nil, err
	}
	defer func() { _ = r.prober.close() }()
	cfg.Log.Info("prober started", "pid", r.prober.pid(), "probe_agents", r.probeAgents())
	s1 := r.snap(ctx)
	rep.Setup = phase("setup", s0, s1)

	f, err := newFleet(cfg, bundle, r.token)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	fctx, stop := context.WithCancel(ctx)
	fleetDone := make(chan struct{})
	go func() { defer close(fleetDone); f.run(fctx, cfg.StartConcurrency) }()
	defer func() { stop(); <-fleetDone }()

	cfg.Log.Info("ramp: starting agents", "agents", cfg.Agents)
	if err := r.await(ctx, f, f.allAttested, "every agent attested", 0); err != nil {
		return nil, err
	}
	rep.Attested = time.Duration(f.lastAttested.Load())
	if err := r.await(ctx, f, f.allReady, "every agent holding all its SVIDs", 0); err != nil {
		return nil, err
	}
	rep.Ready = time.Duration(f.lastReady.Load())
	s2 := r.snap(ctx)
	rep.Ramp = phase("ramp", s1, s2)
	rep.Ramp.Duration = rep.Ready // from the first agent's start

	last := s2
	measure := func(name string, rate float64, until <-chan struct{}, limit time.Duration) error {
		cfg.Log.Info("phase", "name", name, "probe_rate", rate)
		if err := r.prober.startPhase(name, rate); err != nil {
			return err
		}
		err := r.await(ctx, f, until, name, limit)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pr, perr := r.prober.stopPhase(ctx, name)
		if perr != nil {
			return perr
		}
		next := r.snap(ctx)
		ph := phase(name, last, next)
		ph.Probes, ph.ProbeRate = pr, rate
		rep.Phases = append(rep.Phases, ph)
		last = next
		return err
	}
	if err := measure("idle", 0, nil, cfg.Phase); err != nil {
		return nil, err
	}
	if err := measure("probe", cfg.ProbeRate, nil, cfg.Phase); err != nil {
		return nil, err
	}
	if cfg.ChurnRate > 0 {
		if err := measure("churn", cfg.ChurnRate, nil, cfg.Phase); err != nil {
			return nil, err
		}
	}
	if cfg.Rotation {
		if err := measure("rotation", cfg.ProbeRate, f.allRotated, cfg.X509SVIDTTL+cfg.Phase); err != nil {
			return nil, err
		}
		rep.Rotated = f.rotated.Load()
	}
	rep.Attestations = f.attested.Load()
	rep.FailedAgents = f.failedAgents.Load()
	if e := f.firstFailure.Load(); e != nil {
		rep.FirstFailure = (*e).Error()
	}
	rep.SVIDsReceived = f.received.Load()
	for _, p := range rep.Phases {
		rep.SVIDsReceived += p.Probes.Received
	}
	rep.ProbeAgents = r.probeAgents()
	rep.Prober.Name = "prober"
	rep.Prober.RSSMiB, rep.Prober.PeakMiB, _ = procMemory(r.prober.pid())
	for _, t := range cfg.Servers {
		m := ServerMemory{Name: t.Name}
		if t.PID != 0 {
			m.RSSMiB, m.PeakMiB, _ = procMemory(t.PID)
		}
		rep.Servers = append(rep.Servers, m)
	}
	rep.Self.RSSMiB, rep.Self.PeakMiB, _ = procMemory(os.Getpid())
	rep.Goroutines = runtime.NumGoroutine()
	return rep, nil
}

// await waits for ch to close, failing on ctx's end, on the prober's
// exit, or after limit when not 0; with ch nil it waits out limit.
func (r *runner) await(ctx context.Context, f *fleet, ch <-chan struct{}, what string, limit time.Duration) error {
	var timeout <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-ch:
			return nil
		case <-r.prober.done:
			return r.prober.exitErr
		case <-timeout:
			if ch == nil {
				return nil
			}
			return fmt.Errorf("loadgen: %s: not within %s", what, limit)
		case <-ctx.Done():
			return fmt.Errorf("loadgen: waiting for %s: %w", what, ctx.Err())
		case <-progress.C:
			r.cfg.Log.Info("waiting", "for", what, "attested", f.attested.Load(), "ready", f.ready.Load(),
				"rotated", f.rotated.Load(), "failed", f.failedAgents.Load(), "svids_received", f.received.Load())
		}
	}
}
