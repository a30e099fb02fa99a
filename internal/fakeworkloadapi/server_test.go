package fakeworkloadapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
)

// client dials the fake at sock with go-spiffe's client.
func client(t *testing.T, sock string) *workloadapi.Client {
	t.Helper()
	c, err := workloadapi.New(t.Context(), workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestServesWhatIsSet(t *testing.T) {
	ca := testca.NewForTest(t, "fake.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	c := client(t, api.Socket())

	_, err := c.FetchX509Context(ctx(t))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("FetchX509Context with nothing set = %v, want PermissionDenied", err)
	}

	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/a", "one"), fakeworkloadapi.X509SVID(t, ca, "/b", "two"))
	api.SetFederatedBundles(map[string][]byte{"spiffe://other.test": testca.NewForTest(t, "other.test").Root().Raw})
	x, err := c.FetchX509Context(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(x.SVIDs) != 2 || x.SVIDs[0].ID.String() != "spiffe://fake.test/a" || x.SVIDs[1].Hint != "two" {
		t.Fatalf("SVIDs = %v, want /a and /b (hint two)", x.SVIDs)
	}
	if x.Bundles.Len() != 2 {
		t.Fatalf("bundles for %v, want fake.test and other.test", x.Bundles.Bundles())
	}

	_, err = c.FetchJWTSVID(ctx(t), jwtsvid.Params{Audience: "db"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("FetchJWTSVID without an issuer = %v, want Unimplemented", err)
	}
	api.SetJWTIssuer(ca)
	api.SetJWTBundles(fakeworkloadapi.JWTBundles(t, ca))
	j, err := c.FetchJWTSVID(ctx(t), jwtsvid.Params{Audience: "db", ExtraAudiences: []string{"cache"}})
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := c.FetchJWTBundles(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwtsvid.ParseAndValidate(j.Marshal(), bundles, []string{"cache"}); err != nil {
		t.Fatalf("JWT-SVID does not verify against the served bundle: %v", err)
	}
	if j.ID.String() != "spiffe://fake.test/a" {
		t.Fatalf("JWT-SVID for %s, want the default /a", j.ID)
	}
}

func TestInjectedErrorEndsOpenStream(t *testing.T) {
	ca := testca.NewForTest(t, "fake.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/a", ""))
	c := client(t, api.Socket())
	updates, errs := make(chan struct{}, 10), make(chan error, 10)
	go func() {
		_ = c.WatchX509Context(t.Context(), watcher{updates: updates, errs: errs})
	}()
	select {
	case <-updates:
	case <-ctx(t).Done():
		t.Fatal("no first update")
	}
	api.SetError(fakeworkloadapi.FetchX509SVID, status.Error(codes.Unavailable, "injected"))
	select {
	case err := <-errs:
		if s, _ := status.FromError(err); s.Message() != "injected" {
			t.Fatalf("watch error %v, want the injected one", err)
		}
	case <-ctx(t).Done():
		t.Fatal("injected error never reached the open stream")
	}
	api.SetError(fakeworkloadapi.FetchX509SVID, nil)
	select {
	case <-updates:
	case <-ctx(t).Done():
		t.Fatal("no update after the error was cleared")
	}
}

func TestRestartOnSameSocket(t *testing.T) {
	ca := testca.NewForTest(t, "fake.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/before", ""))
	api.Stop()
	api.Stop() // idempotent
	c := client(t, api.Socket())
	if _, err := c.FetchX509Context(ctx(t)); status.Code(err) != codes.Unavailable {
		t.Fatalf("FetchX509Context while stopped = %v, want Unavailable", err)
	}
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/after", ""))
	api.Start(t)
	x, err := client(t, api.Socket()).FetchX509Context(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := x.DefaultSVID().ID.String(); got != "spiffe://fake.test/after" {
		t.Fatalf("after restart served %s, want /after", got)
	}
}

// watcher forwards X.509 context updates and watch errors.
type watcher struct {
	updates chan<- struct{}
	errs    chan<- error
}

func (w watcher) OnX509ContextUpdate(*workloadapi.X509Context) {
	select {
	case w.updates <- struct{}{}:
	default:
	}
}

func (w watcher) OnX509ContextWatchError(err error) {
	if !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		select {
		case w.errs <- err:
		default:
		}
	}
}
