package workloadapi_test

import (
	"context"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	gowl "github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestJWTSVID(t *testing.T) {
	ca := newTestCA(t, "example.org")
	web, api := ca.identity("/web", "web"), ca.identity("/api", "api")
	mgr := newFakeManager(ca,
		fakeEntry{sels: selfSels(), id: web},
		fakeEntry{sels: selfSels(), id: api},
	)
	e := serve(t, mgr, &fakeAttestor{})
	client := e.client(t)
	raw := e.raw(t)

	svid, err := client.FetchJWTSVID(testCtx(t), jwtsvid.Params{Audience: "db", ExtraAudiences: []string{"cache"}})
	if err != nil {
		t.Fatalf("FetchJWTSVID: %v", err)
	}
	if svid.ID != web.SPIFFEID {
		t.Errorf("default JWT-SVID is for %s, want %s", svid.ID, web.SPIFFEID)
	}

	t.Run("all identities", func(t *testing.T) {
		svids, err := client.FetchJWTSVIDs(testCtx(t), jwtsvid.Params{Audience: "db"})
		if err != nil {
			t.Fatal(err)
		}
		if len(svids) != 2 || svids[1].ID != api.SPIFFEID || svids[1].Hint != "api" {
			t.Fatalf("got %d SVIDs (%v), want web and api with hints", len(svids), svids)
		}
	})
	t.Run("requested spiffe id", func(t *testing.T) {
		got, err := client.FetchJWTSVID(testCtx(t), jwtsvid.Params{Audience: "db", Subject: api.SPIFFEID})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != api.SPIFFEID {
			t.Errorf("ID = %s, want %s", got.ID, api.SPIFFEID)
		}
	})

	tests := []struct {
		name     string
		call     func(ctx context.Context) error
		wantCode codes.Code
	}{
		{"validate valid token", func(ctx context.Context) error {
			got, err := client.ValidateJWTSVID(ctx, svid.Marshal(), "cache")
			if err == nil && (got.ID != web.SPIFFEID || got.Claims["sub"] != web.SPIFFEID.String()) {
				t.Errorf("validated ID %s claims %v", got.ID, got.Claims)
			}
			return err
		}, codes.OK},
		{"validate wrong audience", func(ctx context.Context) error {
			_, err := client.ValidateJWTSVID(ctx, svid.Marshal(), "other")
			return err
		}, codes.InvalidArgument},
		{"validate token of an unknown authority", func(ctx context.Context) error {
			stranger := newTestCA(t, "example.org")
			token, _, err := stranger.signJWT(web.SPIFFEID, []string{"db"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.ValidateJWTSVID(ctx, token, "db")
			return err
		}, codes.InvalidArgument},
		{"validate without audience", func(ctx context.Context) error {
			_, err := raw.ValidateJWTSVID(withHeader(ctx), &workload.ValidateJWTSVIDRequest{Svid: svid.Marshal()})
			return err
		}, codes.InvalidArgument},
		{"validate without token", func(ctx context.Context) error {
			_, err := raw.ValidateJWTSVID(withHeader(ctx), &workload.ValidateJWTSVIDRequest{Audience: "db"})
			return err
		}, codes.InvalidArgument},
		{"fetch without audience", func(ctx context.Context) error {
			_, err := raw.FetchJWTSVID(withHeader(ctx), &workload.JWTSVIDRequest{})
			return err
		}, codes.InvalidArgument},
		{"fetch with malformed spiffe id", func(ctx context.Context) error {
			_, err := raw.FetchJWTSVID(withHeader(ctx), &workload.JWTSVIDRequest{Audience: []string{"db"}, SpiffeId: "not a spiffe id"})
			return err
		}, codes.InvalidArgument},
		{"fetch for an identity not held", func(ctx context.Context) error {
			_, err := raw.FetchJWTSVID(withHeader(ctx), &workload.JWTSVIDRequest{Audience: []string{"db"}, SpiffeId: "spiffe://example.org/other"})
			return err
		}, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(testCtx(t)); status.Code(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %v", err, tt.wantCode)
			}
		})
	}
}

// jwtWatcher forwards each JWT bundle set to a channel.
type jwtWatcher struct {
	updates chan *jwtbundle.Set
}

func (w jwtWatcher) OnJWTBundlesUpdate(s *jwtbundle.Set) { w.updates <- s }
func (w jwtWatcher) OnJWTBundlesWatchError(error)        {}

var _ gowl.JWTBundleWatcher = jwtWatcher{}

func TestWatchJWTBundlesPushesChange(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	e := serve(t, mgr, &fakeAttestor{})

	ctx, cancel := context.WithCancel(context.Background())
	w := jwtWatcher{updates: make(chan *jwtbundle.Set, 4)}
	watchDone := make(chan error, 1)
	go func() { watchDone <- e.client(t).WatchJWTBundles(ctx, w) }()
	t.Cleanup(func() {
		cancel()
		<-watchDone
	})
	next := func() *jwtbundle.Bundle {
		t.Helper()
		select {
		case s := <-w.updates:
			b, ok := s.Get(ca.TrustDomain())
			if !ok {
				t.Fatalf("no JWT bundle for %s", ca.TrustDomain())
			}
			return b
		case <-testCtx(t).Done():
			t.Fatal("no JWT bundle update before the deadline")
		}
		return nil
	}

	first := ca.JWTKeyID()
	if b := next(); !b.HasJWTAuthority(first) {
		t.Fatalf("first bundle lacks %s: %v", first, b.JWTAuthorities())
	}
	// An SVID rotation leaves the JWT bundle unchanged: no update. The
	// handler takes it before the next change, so a duplicate would arrive
	// before the rotated bundle.
	mgr.waitTaken(t, mgr.setEntries(fakeEntry{sels: selfSels(), id: ca.identity("/web", "")}))
	second := ca.rotateJWTKey()
	mgr.setBundle(ca.bundle())
	b := next()
	if !b.HasJWTAuthority(second) || b.HasJWTAuthority(first) {
		t.Fatalf("second bundle = %v, want only %s (duplicate sent?)", b.JWTAuthorities(), second)
	}
}
