package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var bundleTests = []test{
	{"UpdateBundle", testUpdateBundle},
	{"SetGetReplace", testBundleSetReplace},
	{"List", testBundleList},
	{"Delete", testBundleDelete},
	{"Create", testBundleCreate},
	{"DeleteModes", testBundleDeleteModes},
	{"EntryNeedsFederatedBundle", testEntryNeedsFederatedBundle},
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
	must(t, "DeleteBundle", s.DeleteBundle(ctx, "example.org", datastore.DeleteRestrict))
	_, err := s.GetBundle(ctx, "example.org")
	wantErr(t, "GetBundle after delete", err, datastore.ErrNotFound)
	wantErr(t, "DeleteBundle twice", s.DeleteBundle(ctx, "example.org", datastore.DeleteRestrict), datastore.ErrNotFound)
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
		{"create new", func() error {
			return s.CreateBundle(ctx, &datastore.Bundle{TrustDomain: "c.example", Data: []byte("1")})
		}, true},
		{"create existing", func() error {
			if err := s.CreateBundle(ctx, &datastore.Bundle{TrustDomain: "c.example", Data: []byte("2")}); !errors.Is(err, datastore.ErrAlreadyExists) {
				return fmt.Errorf("CreateBundle of an existing bundle = %v, want ErrAlreadyExists", err)
			}
			return nil
		}, false},
		{"relationship with a bundle", func() error {
			_, err := s.CreateFederationRelationship(ctx, &datastore.FederationRelationship{
				TrustDomain: "d.example", BundleEndpointURL: "https://d.example/bundle", BundleEndpointProfile: datastore.ProfileHTTPSWeb,
				TrustDomainBundle: &datastore.Bundle{TrustDomain: "d.example", Data: []byte("1")},
			})
			return err
		}, true},
		{"relationship updated with the same bundle", func() error {
			_, err := s.UpdateFederationRelationship(ctx, &datastore.FederationRelationship{
				TrustDomain: "d.example", BundleEndpointURL: "https://d.example/other", BundleEndpointProfile: datastore.ProfileHTTPSWeb,
				TrustDomainBundle: &datastore.Bundle{TrustDomain: "d.example", Data: []byte("1")},
			})
			return err
		}, false},
		{"refused delete", func() error {
			if _, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/p",
				Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1"}), FederatesWith: []string{"d.example"}}); err != nil {
				return err
			}
			if err := s.DeleteBundle(ctx, "d.example", datastore.DeleteRestrict); !errors.Is(err, datastore.ErrInUse) {
				return fmt.Errorf("DeleteBundle of a bundle in use = %v, want ErrInUse", err)
			}
			return nil
		}, false},
		{"delete", func() error { return s.DeleteBundle(ctx, "a.example", datastore.DeleteRestrict) }, true},
		{"delete absent", func() error {
			if err := s.DeleteBundle(ctx, "a.example", datastore.DeleteRestrict); !errors.Is(err, datastore.ErrNotFound) {
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
