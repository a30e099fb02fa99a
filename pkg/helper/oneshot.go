package helper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/pkg/backoff"
	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

// fetched is what one-shot mode collects before its single write.
type fetched struct {
	x509Ctx   *workloadapi.X509Context
	x509      *x509svid.SVID
	jwt       map[string]*jwtsvid.SVID
	jwtBundle *jwtbundle.Set
}

// step is one thing one-shot mode waits for.
type step struct {
	what  string // for the timeout message: `an X.509-SVID (hint "db")`
	fetch func(ctx context.Context, c *workloadapi.Client, f *fetched) error
}

// runOnce waits until everything configured is served, writes it as one
// set and returns.
func (h *Helper) runOnce(ctx context.Context) error {
	start := time.Now()
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if h.cfg.ExitTimeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, h.cfg.ExitTimeout)
	}
	defer cancel()

	// The socket watch starts only once an attempt has failed: when the
	// SVID is already served (the common case) it would cost an inotify
	// instance whose close waits for a kernel grace period (about 10 ms).
	sock := &lazySocketWatch{addr: h.addr, log: h.log, ctx: wctx}
	defer sock.stop()

	f := &fetched{jwt: make(map[string]*jwtsvid.SVID)}
	for _, s := range h.steps() {
		if err := h.await(ctx, wctx, sock, s, f); err != nil {
			return err
		}
	}
	if err := h.writeFetched(f); err != nil {
		return err
	}
	h.log.Info("files written; exiting (daemon_mode = false)", "elapsed", time.Since(start).Round(10*time.Microsecond))
	return nil
}

// steps lists what the configuration asks for, in the order awaited.
func (h *Helper) steps() []step {
	var steps []step
	hint := ""
	if h.cfg.Hint != "" {
		hint = fmt.Sprintf(" (hint %q)", h.cfg.Hint)
	}
	if h.cfg.X509Enabled() {
		steps = append(steps, step{what: "an X.509-SVID" + hint, fetch: func(ctx context.Context, c *workloadapi.Client, f *fetched) error {
			x, err := c.FetchX509Context(ctx)
			if err != nil {
				return err
			}
			svid := pickX509(x.SVIDs, h.cfg.Hint)
			if svid == nil {
				return &noHintError{hint: h.cfg.Hint}
			}
			f.x509Ctx, f.x509 = x, svid
			return nil
		}})
	}
	for _, j := range h.cfg.JWTSVIDs {
		steps = append(steps, step{what: fmt.Sprintf("a JWT-SVID for audience %q%s", j.Audience, hint), fetch: func(ctx context.Context, c *workloadapi.Client, f *fetched) error {
			svid, err := fetchJWT(ctx, c, j, h.cfg.Hint)
			if err != nil {
				return err
			}
			f.jwt[j.FileName] = svid
			return nil
		}})
	}
	if h.cfg.JWTBundleFileName != "" {
		steps = append(steps, step{what: "the JWT bundles", fetch: func(ctx context.Context, c *workloadapi.Client, f *fetched) error {
			set, err := c.FetchJWTBundles(ctx)
			if err != nil {
				return err
			}
			f.jwtBundle = set
			return nil
		}})
	}
	return steps
}

// await retries s until it succeeds, with capped exponential backoff; the
// socket's creation (wake) cuts a backoff short. When wctx's deadline
// passes it returns a *TimeoutError; when ctx ends, ctx's error.
func (h *Helper) await(ctx, wctx context.Context, sock *lazySocketWatch, s step, f *fetched) error {
	bo := backoff.New(minBackoff, maxBackoff)
	var last error
	for attempt := 1; ; attempt++ {
		err := h.attempt(wctx, s, f)
		if err == nil {
			return nil
		}
		if wctx.Err() == nil {
			last = err
			h.log.Info("waiting for the Workload API", "waiting_for", s.what, "workload_api", h.addr, "attempt", attempt, "error", err)
		}
		wake := sock.start()
		d := bo.Next()
		t := time.NewTimer(d)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return fmt.Errorf("helper: stopped while waiting for %s from the Workload API at %s: %w", s.what, h.addr, ctx.Err())
			}
			return &TimeoutError{After: h.cfg.ExitTimeout, Waiting: s.what, Address: h.addr, Last: last}
		case <-wake:
			t.Stop()
			bo.Reset()
		case <-t.C:
		}
	}
}

// attempt runs s once over a fresh connection: a connection that failed
// earlier would wait out gRPC's reconnect backoff.
func (h *Helper) attempt(ctx context.Context, s step, f *fetched) error {
	c, err := h.newClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return s.fetch(ctx, c, f)
}

// writeFetched writes everything one-shot mode collected as one set.
func (h *Helper) writeFetched(f *fetched) error {
	ev := Event{Output: "x509", Received: time.Now()}
	var x509Files = f.x509Ctx != nil
	apply := []func(*state){}
	if x509Files {
		files, err := svidformat.X509Files(f.x509, f.x509Ctx.Bundles, h.format)
		if err != nil {
			return h.failed(ev, "", fmt.Errorf("build X.509 files: %w", err))
		}
		leaf := f.x509.Certificates[0]
		ev.SPIFFEID, ev.Serial = f.x509.ID.String(), leaf.SerialNumber.Text(16)
		apply = append(apply, func(s *state) { s.x509, s.x509Expiry = files, leaf.NotAfter })
	}
	for name, svid := range f.jwt {
		file := svidformat.JWTSVIDFile(name, svid.Marshal(), h.cfg.JWTSVIDFileMode)
		apply = append(apply, func(s *state) { s.jwt[name] = file; s.setStatus(name, statusWritten) })
	}
	if f.jwtBundle != nil {
		file, err := svidformat.JWTBundleFile(f.jwtBundle, h.format)
		if err != nil {
			return h.failed(ev, h.cfg.JWTBundleFileName, fmt.Errorf("build JWT bundle file: %w", err))
		}
		apply = append(apply, func(s *state) { s.jwtBundle = &file; s.setStatus(h.cfg.JWTBundleFileName, statusWritten) })
	}
	if len(apply) == 0 {
		return errors.New("helper: nothing to write")
	}
	err := h.commit(&ev, "", func(s *state) {
		for _, a := range apply {
			a(s)
		}
	})
	if err != nil {
		return fmt.Errorf("helper: %w", err)
	}
	h.log.Info("files written", "spiffe_id", ev.SPIFFEID, "serial", ev.Serial, "jwt_svids", len(f.jwt),
		"jwt_bundle", f.jwtBundle != nil, "changed", ev.Changed, "cert_dir", h.cfg.CertDir)
	return nil
}
