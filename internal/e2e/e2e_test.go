package e2e_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/testenv"
)

// watcher records every X.509 context pushed to a go-spiffe watcher.
type watcher struct {
	updates chan *workloadapi.X509Context
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	select {
	case w.updates <- c:
	default:
		// Drop the oldest so the newest is always observable.
		select {
		case <-w.updates:
		default:
		}
		w.updates <- c
	}
}

func (w *watcher) OnX509ContextWatchError(error) {}

// watch starts a watcher on the client and returns it.
func watch(t testing.TB, c *workloadapi.Client) *watcher {
	t.Helper()
	w := &watcher{updates: make(chan *workloadapi.X509Context, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.WatchX509Context(ctx, w)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// waitFor returns the first update satisfying cond, or fails after timeout.
func (w *watcher) waitFor(t testing.TB, timeout time.Duration, what string, cond func(*workloadapi.X509Context) bool) *workloadapi.X509Context {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case c := <-w.updates:
			if cond(c) {
				return c
			}
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
			return nil
		}
	}
}

func ids(c *workloadapi.X509Context) map[string]*x509svid.SVID {
	m := make(map[string]*x509svid.SVID)
	for _, s := range c.SVIDs {
		m[s.ID.String()] = s
	}
	return m
}

func TestEndToEnd(t *testing.T) {
	e := startServer(t, testenv.Options{SVIDTTL: 4 * time.Second})
	token := e.JoinToken(t, "/node")
	ag := e.StartAgent(t, "a", token)

	const appPath = "/app"
	e.CreateEntry(t, workloadEntry("/node", appPath, 4))
	c := ag.Client(t)
	w := watch(t, c)
	appID := "spiffe://" + trustDomain + appPath

	first := w.waitFor(t, 10*time.Second, "the first SVID", func(x *workloadapi.X509Context) bool { return ids(x)[appID] != nil })

	t.Run("x509 chain verifies against the bundle", func(t *testing.T) {
		svid := ids(first)[appID]
		if _, _, err := x509svid.Verify(svid.Certificates, first.Bundles); err != nil {
			t.Fatalf("verify: %v", err)
		}
		if n := len(svid.Certificates[0].URIs); n != 1 {
			t.Fatalf("leaf has %d URI SANs, want 1", n)
		}
	})

	t.Run("jwt svid fetched and validated", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svid, err := c.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "db"})
		if err != nil {
			t.Fatalf("FetchJWTSVID: %v", err)
		}
		if svid.ID.String() != appID {
			t.Fatalf("JWT-SVID for %s, want %s", svid.ID, appID)
		}
		got, err := c.ValidateJWTSVID(ctx, svid.Marshal(), "db")
		if err != nil {
			t.Fatalf("ValidateJWTSVID: %v", err)
		}
		if got.ID != svid.ID {
			t.Fatalf("validated ID %s, want %s", got.ID, svid.ID)
		}
		if _, err := c.ValidateJWTSVID(ctx, svid.Marshal(), "other"); err == nil {
			t.Fatal("ValidateJWTSVID with the wrong audience succeeded")
		}
		bundles, err := c.FetchJWTBundles(ctx)
		if err != nil {
			t.Fatalf("FetchJWTBundles: %v", err)
		}
		if _, err := jwtsvid.ParseAndValidate(svid.Marshal(), bundles, []string{"db"}); err != nil {
			t.Fatalf("token does not validate against the fetched JWT bundles: %v", err)
		}
	})

	t.Run("rotation observed", func(t *testing.T) {
		serial := ids(first)[appID].Certificates[0].SerialNumber
		rotated := w.waitFor(t, 15*time.Second, "a rotated SVID", func(x *workloadapi.X509Context) bool {
			s := ids(x)[appID]
			return s != nil && s.Certificates[0].SerialNumber.Cmp(serial) != 0
		})
		if _, _, err := x509svid.Verify(ids(rotated)[appID].Certificates, rotated.Bundles); err != nil {
			t.Fatalf("rotated SVID does not verify: %v", err)
		}
	})

	t.Run("new entry served within 1s and withdrawn on delete", func(t *testing.T) {
		newID := "spiffe://" + trustDomain + "/app2"
		start := time.Now()
		entryID := e.CreateEntry(t, workloadEntry("/node", "/app2", 60))
		w.waitFor(t, 5*time.Second, "the new entry's SVID", func(x *workloadapi.X509Context) bool { return ids(x)[newID] != nil })
		if d := time.Since(start); d > time.Second {
			t.Errorf("new entry took %v to be served, want at most 1s", d)
		}
		e.DeleteEntry(t, entryID)
		w.waitFor(t, 5*time.Second, "the deleted entry's SVID to be withdrawn", func(x *workloadapi.X509Context) bool {
			return ids(x)[newID] == nil && ids(x)[appID] != nil
		})
	})
}

func TestUnregisteredWorkloadDenied(t *testing.T) {
	e := startServer(t, testenv.Options{})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	// An entry for a different uid: this process matches nothing.
	entry := workloadEntry("/node", "/other", 0)
	entry.Selectors = []string{testenv.UID(os.Getuid() + 12345)}
	e.CreateEntry(t, entry)

	c := ag.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.FetchX509SVID(ctx)
	if status.Code(errors.Unwrap(err)) != codes.PermissionDenied && status.Code(err) != codes.PermissionDenied {
		t.Fatalf("FetchX509SVID error = %v, want PermissionDenied", err)
	}
}
