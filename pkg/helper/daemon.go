package helper

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/backoff"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// JWT-SVID fetch retry schedule, spiffe-helper's.
const (
	jwtRetryMin = time.Second
	jwtRetryMax = 60 * time.Second
)

// session watches the X.509 context and the JWT bundles and keeps the
// JWT-SVIDs fresh over one client connection until ctx ends or a watch
// gives up.
func (h *Helper) session(ctx context.Context) error {
	client, err := h.newClient(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && status.Code(err) != codes.Canceled && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // restart the whole session
			}
		}()
	}
	if h.cfg.X509Enabled() {
		run(func() error { return client.WatchX509Context(ctx, &x509Watcher{h: h}) })
	}
	if h.cfg.JWTBundleFileName != "" {
		run(func() error { return client.WatchJWTBundles(ctx, &jwtBundleWatcher{h: h}) })
	}
	for _, j := range h.cfg.JWTSVIDs {
		run(func() error { h.refreshJWT(ctx, client, j); return nil })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// x509Watcher writes each X.509 context update.
type x509Watcher struct{ h *Helper }

// OnX509ContextUpdate implements workloadapi.X509ContextWatcher.
func (w *x509Watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	received := time.Now()
	svid := pickX509(c.SVIDs, w.h.cfg.Hint)
	if svid == nil {
		w.h.log.Warn("no X.509-SVID with the configured hint in the update; keeping the files on disk", "hint", w.h.cfg.Hint, "svids", len(c.SVIDs))
		return
	}
	_ = w.h.writeX509(svid, c, received) // logged and counted by writeX509
}

// OnX509ContextWatchError implements workloadapi.X509ContextWatcher.
func (w *x509Watcher) OnX509ContextWatchError(err error) {
	if status.Code(err) != codes.Canceled {
		w.h.log.Warn("watching X.509-SVIDs failed; files on disk are kept", "workload_api", w.h.addr, "error", err)
	}
}

// jwtBundleWatcher writes each JWT bundle update.
type jwtBundleWatcher struct{ h *Helper }

// OnJWTBundlesUpdate implements workloadapi.JWTBundleWatcher.
func (w *jwtBundleWatcher) OnJWTBundlesUpdate(set *jwtbundle.Set) {
	_ = w.h.writeJWTBundles(set, time.Now())
}

// OnJWTBundlesWatchError implements workloadapi.JWTBundleWatcher.
func (w *jwtBundleWatcher) OnJWTBundlesWatchError(err error) {
	if status.Code(err) != codes.Canceled {
		w.h.log.Warn("watching JWT bundles failed; files on disk are kept", "workload_api", w.h.addr, "error", err)
	}
}

// refreshJWT fetches the JWT-SVID of j, writes it, and fetches it again at
// half its remaining lifetime plus one second (spiffe-helper's schedule),
// retrying failures with backoff, until ctx ends.
func (h *Helper) refreshJWT(ctx context.Context, client *workloadapi.Client, j helperconfig.JWTSVID) {
	bo := backoff.New(jwtRetryMin, jwtRetryMax)
	for {
		var wait time.Duration
		svid, err := fetchJWT(ctx, client, j, h.cfg.Hint)
		if err == nil {
			err = h.writeJWTSVID(j.FileName, svid, time.Now())
		} else if ctx.Err() == nil {
			h.log.Warn("fetching JWT-SVID failed", "audience", j.Audience, "error", err)
		}
		if err == nil {
			bo.Reset()
			wait = time.Until(svid.Expiry)/2 + time.Second
		} else {
			wait = bo.Next()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// fetchJWT fetches the JWT-SVIDs for j's audiences and picks one by hint.
func fetchJWT(ctx context.Context, client *workloadapi.Client, j helperconfig.JWTSVID, hint string) (*jwtsvid.SVID, error) {
	svids, err := client.FetchJWTSVIDs(ctx, jwtsvid.Params{Audience: j.Audience, ExtraAudiences: j.ExtraAudiences})
	if err != nil {
		return nil, err
	}
	svid := pickJWT(svids, hint)
	if svid == nil {
		return nil, &noHintError{hint: hint}
	}
	return svid, nil
}

// noHintError reports that no SVID carries the configured hint.
type noHintError struct{ hint string }

func (e *noHintError) Error() string {
	return "no SVID with hint \"" + e.hint + "\" is served"
}
