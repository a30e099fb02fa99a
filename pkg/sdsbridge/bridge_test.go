package sdsbridge_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
)

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 10 * time.Second

// runBridge starts a bridge and stops it at the test's end.
func runBridge(t testing.TB, cfg sdsbridge.Config) *sdsbridge.Bridge {
	t.Helper()
	b, err := sdsbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v, want nil on cancel", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	})
	return b
}

// next waits for a snapshot on w whose default SVID is want.
func next(t *testing.T, w sds.Watch, want string) *sds.Snapshot {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case s, ok := <-w.Updates():
			if !ok {
				t.Fatalf("watch ended while waiting for %s", want)
			}
			if len(s.SVIDs) > 0 && s.SVIDs[0].ID.String() == want {
				return s
			}
		case <-deadline:
			t.Fatalf("no snapshot with default SVID %s", want)
		}
	}
}

// watch opens a watch closed at the test's end.
func watch(t *testing.T, b *sdsbridge.Bridge) sds.Watch {
	t.Helper()
	w, err := b.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func TestSnapshotDelivered(t *testing.T) {
	ca, fed := testca.NewForTest(t, "bridge.test"), testca.NewForTest(t, "other.test")
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	api := fakeworkloadapi.Start(t, sock)
	api.SetFederatedBundles(map[string][]byte{"spiffe://other.test": fed.Root().Raw})
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web", "internal"), fakeworkloadapi.X509SVID(t, ca, "/web-ext", "external"))
	b := runBridge(t, sdsbridge.Config{Address: sock})
	if b.Address() != "unix://"+sock {
		t.Errorf("Address() = %q, want unix://%s", b.Address(), sock)
	}
	w := watch(t, b)

	s := next(t, w, "spiffe://bridge.test/web")
	if got := s.TrustDomain.String(); got != "bridge.test" {
		t.Errorf("TrustDomain = %s, want bridge.test", got)
	}
	if len(s.SVIDs) != 2 || s.SVIDs[1].ID.Path() != "/web-ext" || s.SVIDs[0].Hint != "internal" || s.SVIDs[1].Hint != "external" {
		t.Errorf("SVIDs not in Workload API order with hints: %+v", s.SVIDs)
	}
	if len(s.SVIDs[0].Chain) != 1 || s.SVIDs[0].Key == nil {
		t.Errorf("default SVID lacks its chain or key")
	}
	if s.Bundles.Len() != 2 || !s.Bundles.Has(spiffeid.RequireTrustDomainFromString("other.test")) {
		t.Errorf("Bundles = %d trust domains, want own + federated other.test", s.Bundles.Len())
	}
	if !b.Ready() {
		t.Error("Ready() = false after the first snapshot")
	}
	// A watch opened later gets the current snapshot at once.
	next(t, watch(t, b), "spiffe://bridge.test/web")
}

func TestRotationDelivered(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	api := fakeworkloadapi.Start(t, sock)
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/v1", ""))
	b := runBridge(t, sdsbridge.Config{Address: sock})
	watches := []sds.Watch{watch(t, b), watch(t, b), watch(t, b)}
	for _, w := range watches {
		next(t, w, "spiffe://bridge.test/v1")
	}
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/v2", ""))
	for _, w := range watches {
		next(t, w, "spiffe://bridge.test/v2")
	}
}

func TestNotReadyWithoutIdentity(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	api := fakeworkloadapi.Start(t, sock) // answers "no identity issued"
	failed := newLogWaiter(watchFailed)
	b := runBridge(t, sdsbridge.Config{Address: sock, Log: slog.New(failed)})
	w := watch(t, b)
	// The bridge has had the answer: anything it published for it came
	// before.
	failed.wait(t)
	select {
	case s := <-w.Updates():
		t.Fatalf("got a snapshot %+v without any identity issued", s)
	default:
	}
	if b.Ready() {
		t.Error("Ready() = true without an SVID")
	}
	// The first snapshot is the first identity.
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web", ""))
	select {
	case s := <-w.Updates():
		if len(s.SVIDs) == 0 || s.SVIDs[0].ID.String() != "spiffe://bridge.test/web" {
			t.Fatalf("first snapshot %+v, want spiffe://bridge.test/web", s)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no snapshot after the identity was issued")
	}
}

func TestLastSnapshotKeptWhileAPIAway(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	api := fakeworkloadapi.Start(t, sock)
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web", ""))
	failed := newLogWaiter(watchFailed)
	b := runBridge(t, sdsbridge.Config{Address: sock, Log: slog.New(failed)})
	w := watch(t, b)
	first := next(t, w, "spiffe://bridge.test/web")

	api.Stop()
	// Once the bridge knows the Workload API went away, the watch is
	// still open and quiet, and the bridge still ready.
	failed.wait(t)
	select {
	case s, ok := <-w.Updates():
		t.Fatalf("watch yielded (%v, open=%v) after the Workload API went away", s, ok)
	default:
	}
	if !b.Ready() || b.Current() != first {
		t.Error("the last snapshot was dropped while the Workload API is away")
	}
	// New streams still get it.
	next(t, watch(t, b), "spiffe://bridge.test/web")
}

// watchFailed is what the bridge logs when its Workload API watch fails.
const watchFailed = "watching the Workload API failed; retrying"

// logWaiter is a slog.Handler that reports when a record with message msg
// has been logged.
type logWaiter struct {
	msg  string
	once sync.Once
	seen chan struct{}
}

func newLogWaiter(msg string) *logWaiter { return &logWaiter{msg: msg, seen: make(chan struct{})} }

func (l *logWaiter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWaiter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWaiter) WithGroup(string) slog.Handler            { return l }
func (l *logWaiter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.msg {
		l.once.Do(func() { close(l.seen) })
	}
	return nil
}

func (l *logWaiter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-l.seen:
	case <-time.After(waitTimeout):
		t.Fatalf("%q not logged", l.msg)
	}
}

func TestReconnectsWhenSocketRecreated(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	api := fakeworkloadapi.Start(t, sock)
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/before", ""))
	// Retry delays far beyond the wait: only the socket watch can make the
	// bridge reconnect in time.
	b := runBridge(t, sdsbridge.Config{Address: "unix://" + sock, MinBackoff: time.Hour, MaxBackoff: time.Hour, Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	w := watch(t, b)
	next(t, w, "spiffe://bridge.test/before")

	api.Stop()
	// The new agent knows the identity before its socket appears, so the
	// first fetch after the reconnect succeeds.
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/after", ""))
	api.Start(t)
	next(t, w, "spiffe://bridge.test/after")
}

func TestWatchEndsWithBridge(t *testing.T) {
	sock := fakeworkloadapi.SocketPath(t, "api.sock")
	fakeworkloadapi.Start(t, sock)
	b, err := sdsbridge.New(sdsbridge.Config{Address: sock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	w, err := b.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	select {
	case _, ok := <-w.Updates():
		if ok {
			t.Fatal("got a snapshot, want the channel closed")
		}
	case <-time.After(waitTimeout):
		t.Fatal("watch not closed after Run ended")
	}
	w.Close() // idempotent after the end
	if _, err := b.Watch(context.Background()); !errors.Is(err, sdsbridge.ErrStopped) {
		t.Fatalf("Watch after Run = %v, want ErrStopped", err)
	}
}

func TestWatchEndsWithContext(t *testing.T) {
	b, err := sdsbridge.New(sdsbridge.Config{Address: "unix:///nonexistent/api.sock"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-w.Updates():
		if ok {
			t.Fatal("got a snapshot, want the channel closed")
		}
	case <-time.After(waitTimeout):
		t.Fatal("watch not closed after its context ended")
	}
	w.Close()
	w.Close()
}

func TestNormalizeAddress(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "bare path", in: "/run/api.sock", want: "unix:///run/api.sock"},
		{name: "unix url", in: "unix:///run/api.sock", want: "unix:///run/api.sock"},
		{name: "tcp", in: "tcp://127.0.0.1:8081", want: "tcp://127.0.0.1:8081"},
		{name: "empty", in: "", wantErr: "SPIFFE_ENDPOINT_SOCKET"},
		{name: "relative", in: "api.sock", wantErr: "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdsbridge.NormalizeAddress(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NormalizeAddress(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
