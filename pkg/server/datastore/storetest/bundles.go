package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var bundleTests = []test{
	{"SetGetReplace", testBundleSetReplace},
	{"List", testBundleList},
	{"Delete", testBundleDelete},
	{"Revision", testBundlesRevision},
}

func testBundleSetReplace(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for _, data := range []string{`{"keys":[1]}`, `{"keys":[2]}`} {
		must(t, "SetBundle", s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "example.org", Data: []byte(data)}))
		got, err := s.GetBundle(ctx, "example.org")
		must(t, "GetBundle", err)
		if got.TrustDomain != "example.org" || !bytes.Equal(got.Data, []byte(data)) {
			t.Errorf("GetBundle = %s %q, want example.org %q", got.TrustDomain, got.Data, data)
		}
	}
	list, err := s.ListBundles(ctx)
	must(t, "ListBundles", err)
	if len(list) != 1 {
		t.Errorf("ListBundles returned %d bundles after a replace, want 1", len(list))
	}
	if err := s.SetBundle(ctx, &datastore.Bundle{Data: []byte("{}")}); err == nil {
		t.Error("SetBundle without trust domain succeeded, want a validation error")
	}
}

func testBundleList(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	list, err := s.ListBundles(ctx)
	must(t, "ListBundles", err)
	if len(list) != 0 {
		t.Fatalf("ListBundles on an empty store returned %d bundles", len(list))
	}
	for _, td := range []string{"c.example", "a.example", "b.example"} {
		must(t, "SetBundle", s.SetBundle(ctx, &datastore.Bundle{TrustDomain: td, Data: []byte(td)}))
	}
	list, err = s.ListBundles(ctx)
	must(t, "ListBundles", err)
	want := []string{"a.example", "b.example", "c.example"}
	if len(list) != len(want) {
		t.Fatalf("ListBundles returned %d bundles, want %d", len(list), len(want))
	}
	for i, b := range list {
		if b.TrustDomain != want[i] || string(b.Data) != want[i] {
			t.Errorf("bundle %d = %s %q, want %s", i, b.TrustDomain, b.Data, want[i])
		}
	}
}

func testBundleDelete(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	must(t, "SetBundle", s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "example.org", Data: []byte("{}")}))
	must(t, "DeleteBundle", s.DeleteBundle(ctx, "example.org"))
	_, err := s.GetBundle(ctx, "example.org")
	wantErr(t, "GetBundle after delete", err, datastore.ErrNotFound)
	wantErr(t, "DeleteBundle twice", s.DeleteBundle(ctx, "example.org"), datastore.ErrNotFound)
}

// testBundlesRevision checks that every bundle change, and only a change,
// advances BundlesRevision.
func testBundlesRevision(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	last, err := s.BundlesRevision(ctx)
	must(t, "BundlesRevision", err)
	steps := []struct {
		name    string
		write   func() error
		changes bool
	}{
		{"create", func() error { return s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "a.example", Data: []byte("1")}) }, true},
		{"set same data", func() error { return s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "a.example", Data: []byte("1")}) }, false},
		{"replace", func() error { return s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "a.example", Data: []byte("2")}) }, true},
		{"create another", func() error { return s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "b.example", Data: []byte("2")}) }, true},
		{"delete", func() error { return s.DeleteBundle(ctx, "a.example") }, true},
		{"delete absent", func() error {
			if err := s.DeleteBundle(ctx, "a.example"); !errors.Is(err, datastore.ErrNotFound) {
				return fmt.Errorf("DeleteBundle of an absent bundle = %v, want ErrNotFound", err)
			}
			return nil
		}, false},
		{"invalid", func() error {
			if err := s.SetBundle(ctx, &datastore.Bundle{Data: []byte("3")}); err == nil {
				return errors.New("SetBundle without trust domain succeeded")
			}
			return nil
		}, false},
	}
	for _, st := range steps {
		must(t, st.name, st.write())
		rev, err := s.BundlesRevision(ctx)
		must(t, "BundlesRevision", err)
		if changed := rev != last; changed != st.changes {
			t.Errorf("%s: BundlesRevision %d -> %d, want a change: %v", st.name, last, rev, st.changes)
		}
		last = rev
	}
}
