package workloadapi_test

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	gowl "github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFetchX509Context(t *testing.T) {
	ca := newTestCA(t, "example.org")
	fed := newTestCA(t, "partner.org")
	id := ca.identity("/web", "")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: id})
	mgr.setFederated(fed.bundle())
	att := &fakeAttestor{}
	e := serve(t, mgr, att)

	xc, err := e.client(t).FetchX509Context(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509Context: %v", err)
	}
	if got := att.lastPID.Load(); got != int32(os.Getpid()) {
		t.Errorf("attested pid = %d, want %d", got, os.Getpid())
	}
	svid := xc.DefaultSVID()
	t.Run("svid", func(t *testing.T) {
		if svid.ID != id.SPIFFEID {
			t.Errorf("ID = %s, want %s", svid.ID, id.SPIFFEID)
		}
		if !bytes.Equal(svid.Certificates[0].Raw, id.Chain[0].Raw) {
			t.Error("leaf differs from the issued one")
		}
		if !svid.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(id.Key.Public()) {
			t.Error("private key does not match the issued one")
		}
	})
	t.Run("chain verifies against the bundle", func(t *testing.T) {
		gotID, _, err := x509svid.Verify(svid.Certificates, xc.Bundles)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if gotID != id.SPIFFEID {
			t.Errorf("verified ID = %s", gotID)
		}
	})
	t.Run("federated bundle", func(t *testing.T) {
		b, err := xc.Bundles.GetX509BundleForTrustDomain(fed.TrustDomain())
		if err != nil {
			t.Fatalf("federated bundle: %v", err)
		}
		if !b.Equal(x509bundle.FromX509Authorities(fed.TrustDomain(), fed.bundle().X509Authorities())) {
			t.Error("federated bundle differs")
		}
	})
}

func TestFetchX509SVIDsWithHints(t *testing.T) {
	ca := newTestCA(t, "example.org")
	want := []struct{ path, hint string }{{"/internal", "internal"}, {"/external", "external"}, {"/admin", "admin"}}
	var entries []fakeEntry
	for _, w := range want {
		entries = append(entries, fakeEntry{sels: selfSels(), id: ca.identity(w.path, w.hint)})
	}
	entries = append(entries, fakeEntry{sels: otherSels(), id: ca.identity("/not-mine", "")})
	e := serve(t, newFakeManager(ca, entries...), &fakeAttestor{})

	svids, err := e.client(t).FetchX509SVIDs(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509SVIDs: %v", err)
	}
	if len(svids) != len(want) {
		t.Fatalf("got %d SVIDs, want %d", len(svids), len(want))
	}
	for i, w := range want {
		t.Run(w.hint, func(t *testing.T) {
			if got := svids[i].ID.Path(); got != w.path {
				t.Errorf("SVID %d path = %q, want %q", i, got, w.path)
			}
			if svids[i].Hint != w.hint {
				t.Errorf("SVID %d hint = %q, want %q", i, svids[i].Hint, w.hint)
			}
		})
	}
}

// x509Watcher forwards each X509Context to a channel.
type x509Watcher struct {
	updates chan *gowl.X509Context
	errs    chan error
}

func (w x509Watcher) OnX509ContextUpdate(c *gowl.X509Context) { w.updates <- c }
func (w x509Watcher) OnX509ContextWatchError(err error) {
	select {
	case w.errs <- err:
	default:
	}
}

func TestWatchX509ContextRotation(t *testing.T) {
	ca := newTestCA(t, "example.org")
	first := ca.identity("/web", "")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: first})
	e := serve(t, mgr, &fakeAttestor{})

	ctx, cancel := context.WithCancel(context.Background())
	w := x509Watcher{updates: make(chan *gowl.X509Context, 4), errs: make(chan error, 1)}
	watchDone := make(chan error, 1)
	go func() { watchDone <- e.client(t).WatchX509Context(ctx, w) }()
	t.Cleanup(func() {
		cancel()
		<-watchDone
	})

	next := func() *x509svid.SVID {
		t.Helper()
		select {
		case xc := <-w.updates:
			return xc.DefaultSVID()
		case err := <-w.errs:
			t.Fatalf("watch error: %v", err)
		case <-testCtx(t).Done():
			t.Fatal("no update before the deadline")
		}
		return nil
	}
	if got := next(); got.Certificates[0].SerialNumber.Cmp(first.Chain[0].SerialNumber) != 0 {
		t.Fatalf("first update has serial %v, want %v", got.Certificates[0].SerialNumber, first.Chain[0].SerialNumber)
	}
	rotated := ca.identity("/web", "")
	mgr.setEntries(fakeEntry{sels: selfSels(), id: rotated})
	if got := next(); got.Certificates[0].SerialNumber.Cmp(rotated.Chain[0].SerialNumber) != 0 {
		t.Fatalf("rotated update has serial %v, want %v", got.Certificates[0].SerialNumber, rotated.Chain[0].SerialNumber)
	}
}

// TestFetchX509BundlesSkipsUnchanged shows the bundles stream sends only
// real changes: the handler takes each SVID-only update before the next
// change (waitTaken), so a duplicate would arrive before the changed bundle.
func TestFetchX509BundlesSkipsUnchanged(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	e := serve(t, mgr, &fakeAttestor{})

	stream, err := e.raw(t).FetchX509Bundles(withHeader(testCtx(t)), &workload.X509BundlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	if got := first.GetBundles()[ca.TrustDomain().IDString()]; !bytes.Equal(got, ca.Root().Raw) {
		t.Fatalf("first bundle = %x, want the CA certificate", got)
	}

	// A new SVID leaves the bundles as they were: nothing must be sent.
	for range 2 {
		mgr.waitTaken(t, mgr.setEntries(fakeEntry{sels: selfSels(), id: ca.identity("/web", "")}))
	}
	// A new CA certificate is a change.
	next := newTestCA(t, "example.org")
	b := ca.bundle()
	b.AddX509Authority(next.Root())
	mgr.setBundle(b)

	second, err := stream.Recv()
	if err != nil {
		t.Fatalf("second Recv: %v", err)
	}
	want := append(append([]byte{}, ca.Root().Raw...), next.Root().Raw...)
	if got := second.GetBundles()[ca.TrustDomain().IDString()]; !bytes.Equal(got, want) {
		t.Fatalf("second response is not the changed bundle (duplicate sent?)")
	}
}

func TestFetchX509BundlesWithClient(t *testing.T) {
	ca := newTestCA(t, "example.org")
	fed := newTestCA(t, "partner.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	mgr.setFederated(fed.bundle())
	e := serve(t, mgr, &fakeAttestor{})

	set, err := e.client(t).FetchX509Bundles(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509Bundles: %v", err)
	}
	for _, c := range []*testCA{ca, fed} {
		t.Run(c.TrustDomain().String(), func(t *testing.T) {
			if _, ok := set.Get(c.TrustDomain()); !ok {
				t.Errorf("bundle for %s missing", c.TrustDomain())
			}
		})
	}
}

func TestNoIdentityIssued(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: otherSels(), id: ca.identity("/not-mine", "")})
	e := serve(t, mgr, &fakeAttestor{})
	raw := e.raw(t)

	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"FetchX509SVID", func(ctx context.Context) error {
			s, err := raw.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
		{"FetchX509Bundles", func(ctx context.Context) error {
			s, err := raw.FetchX509Bundles(ctx, &workload.X509BundlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
		{"FetchJWTBundles", func(ctx context.Context) error {
			s, err := raw.FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
		{"FetchJWTSVID", func(ctx context.Context) error {
			_, err := raw.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"db"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(withHeader(testCtx(t)))
			if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != "no identity issued" {
				t.Fatalf("err = %v, want PermissionDenied \"no identity issued\"", err)
			}
		})
	}
	t.Run("go-spiffe FetchX509SVID", func(t *testing.T) {
		_, err := e.client(t).FetchX509SVID(testCtx(t))
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("err = %v, want PermissionDenied", err)
		}
	})
}
