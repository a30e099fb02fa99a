package storetest

import (
	"errors"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// testUpdateBundle: UpdateBundle hands fn nil when there is no bundle and
// the stored one otherwise, stores fn's result, leaves the bundle (and the
// revision) alone when fn fails, returns the same data, and refuses a
// result for another trust domain.
func testUpdateBundle(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	set := func(data string) func(*datastore.Bundle) (*datastore.Bundle, error) {
		return func(*datastore.Bundle) (*datastore.Bundle, error) {
			return &datastore.Bundle{TrustDomain: "example.org", Data: []byte(data)}, nil
		}
	}
	var seen *datastore.Bundle
	got, err := s.UpdateBundle(ctx, "example.org", func(cur *datastore.Bundle) (*datastore.Bundle, error) {
		seen = cur
		return set("one")(cur)
	})
	must(t, "UpdateBundle on no bundle", err)
	if seen != nil || string(got.Data) != "one" {
		t.Fatalf("UpdateBundle on no bundle: fn saw %+v, returned %q; want nil and \"one\"", seen, got.Data)
	}
	rev, err := s.BundlesRevision(ctx)
	must(t, "BundlesRevision", err)

	boom := errors.New("boom")
	_, err = s.UpdateBundle(ctx, "example.org", func(cur *datastore.Bundle) (*datastore.Bundle, error) {
		seen = cur
		return nil, boom
	})
	wantErr(t, "UpdateBundle with failing fn", err, boom)
	if seen == nil || string(seen.Data) != "one" {
		t.Errorf("UpdateBundle: fn saw %+v, want the stored bundle \"one\"", seen)
	}
	_, err = s.UpdateBundle(ctx, "example.org", func(*datastore.Bundle) (*datastore.Bundle, error) {
		return &datastore.Bundle{TrustDomain: "other.org", Data: []byte("x")}, nil
	})
	if err == nil {
		t.Error("UpdateBundle returning another trust domain's bundle: no error")
	}
	_, err = s.UpdateBundle(ctx, "example.org", set("one"))
	must(t, "UpdateBundle to the same data", err)
	if r, err := s.BundlesRevision(ctx); err != nil || r != rev {
		t.Errorf("BundlesRevision = %d, %v after failed and no-op updates, want %d", r, err, rev)
	}

	_, err = s.UpdateBundle(ctx, "example.org", set("two"))
	must(t, "UpdateBundle", err)
	b, err := s.GetBundle(ctx, "example.org")
	must(t, "GetBundle", err)
	if string(b.Data) != "two" {
		t.Errorf("GetBundle after UpdateBundle = %q, want \"two\"", b.Data)
	}
	if r, err := s.BundlesRevision(ctx); err != nil || r == rev {
		t.Errorf("BundlesRevision = %d, %v after a change, want other than %d", r, err, rev)
	}
}
