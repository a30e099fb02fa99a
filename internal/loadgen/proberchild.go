package loadgen

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// proberReadyTimeout bounds the probe agents' attestation.
const proberReadyTimeout = time.Minute

// MaybeRunProber runs this process as the load generator's prober and
// exits, when Run started it so (Run re-executes its own program with
// SVIDKIT_LOADGEN_PROBER=1); otherwise it returns at once. A program that
// calls Run must call MaybeRunProber first in main, and its tests first in
// TestMain.
//
// The prober times entry propagation away from the simulated fleet: in a
// real deployment each agent has a machine of its own, so the probe must
// not share the fleet's heap, garbage collections and scheduler.
func MaybeRunProber() {
	if os.Getenv(proberEnv) != "1" {
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := runProber(context.Background(), os.Stdin, os.Stdout); err != nil {
		log.Error("loadgen prober", "error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runProber serves the load generator's requests from in, replying on
// out, until in ends. A failure is also sent as an error reply.
func runProber(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	enc := json.NewEncoder(out)
	err := serveProber(ctx, in, enc)
	if err != nil {
		_ = enc.Encode(proberReply{Error: err.Error()})
	}
	return err
}

// runningPhase is a phase being probed; res is set once done closes.
type runningPhase struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *probes
}

func serveProber(ctx context.Context, in io.Reader, enc *json.Encoder) error {
	reqs := make(chan proberRequest)
	readErr := make(chan error, 1)
	go func() {
		defer close(reqs)
		dec := json.NewDecoder(in)
		for {
			var req proberRequest
			if err := dec.Decode(&req); err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- fmt.Errorf("read request: %w", err)
				}
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	req, ok := <-reqs
	if !ok {
		return recvErr(readErr)
	}
	if req.Setup == nil {
		return errors.New("first request is not the setup")
	}
	p, stop, err := startProbeAgents(ctx, *req.Setup)
	if err != nil {
		return err
	}
	defer stop()
	if err := enc.Encode(proberReply{Ready: true}); err != nil {
		return fmt.Errorf("write reply: %w", err)
	}
	var cur *runningPhase
	defer func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
		}
	}()
	for req := range reqs {
		switch {
		case req.Phase != nil:
			if cur != nil {
				return fmt.Errorf("phase %s requested while one runs", req.Phase.Name)
			}
			pctx, pcancel := context.WithCancel(ctx)
			cur = &runningPhase{cancel: pcancel, done: make(chan struct{})}
			go func(ph *runningPhase, rate float64) {
				defer close(ph.done)
				ph.res = p.run(pctx, rate)
			}(cur, req.Phase.Rate)
		case req.Stop:
			if cur == nil {
				return errors.New("stop requested with no phase running")
			}
			cur.cancel()
			<-cur.done
			res := cur.res
			cur = nil
			if err := enc.Encode(proberReply{Result: res}); err != nil {
				return fmt.Errorf("write reply: %w", err)
			}
		default:
			return errors.New("empty request")
		}
	}
	return recvErr(readErr)
}

// recvErr returns the reader's error, nil when its input simply ended.
func recvErr(ch <-chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// startProbeAgents dials the servers' admin sockets and runs a probe
// agent per token until stop, returning once each attested.
func startProbeAgents(ctx context.Context, s proberSetup) (*prober, func(), error) {
	td, err := spiffeid.TrustDomainFromString(s.TrustDomain)
	if err != nil {
		return nil, nil, fmt.Errorf("setup: trust domain: %w", err)
	}
	if len(s.Servers) == 0 || len(s.Tokens) < len(s.Servers) {
		return nil, nil, fmt.Errorf("setup: %d servers and %d tokens: want at least one server and a token for each", len(s.Servers), len(s.Tokens))
	}
	var bundle []*x509.Certificate
	for i, der := range s.Bundle {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("setup: bundle authority %d: %w", i, err)
		}
		bundle = append(bundle, c)
	}
	cfg := Config{TrustDomain: td, Agents: len(s.Tokens), X509SVIDTTL: s.X509SVIDTTL, DataDir: s.DataDir, RunID: s.RunID}
	var admins []*admin
	closeAdmins := func() {
		for _, a := range admins {
			_ = a.Close()
		}
	}
	for _, srv := range s.Servers {
		cfg.Servers = append(cfg.Servers, Target{Name: srv.Name, Address: srv.Address, AdminSocket: srv.AdminSocket})
		a, err := dialAdmin(srv.AdminSocket)
		if err != nil {
			closeAdmins()
			return nil, nil, fmt.Errorf("setup: server %s: %w", srv.Name, err)
		}
		admins = append(admins, a)
	}
	f, err := newFleet(cfg, bundle, func(i int) string { return s.Tokens[i] })
	if err != nil {
		closeAdmins()
		return nil, nil, fmt.Errorf("setup: probe %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.run(fctx, len(f.agents)) }()
	stop := func() { cancel(); <-done; closeAdmins() }
	t := time.NewTimer(proberReadyTimeout)
	defer t.Stop()
	select {
	case <-f.allReady:
	case <-t.C:
		stop()
		return nil, nil, fmt.Errorf("setup: probe agents: %d of %d attested within %s", f.attested.Load(), len(f.agents), proberReadyTimeout)
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	}
	if e := f.firstFailure.Load(); e != nil {
		stop()
		return nil, nil, fmt.Errorf("setup: probe %w", *e)
	}
	return &prober{cfg: cfg, admins: admins, fleet: f}, stop, nil
}
