package storetest

import (
	"bytes"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var bundleTests = []test{
	{"SetGetReplace", testBundleSetReplace},
	{"List", testBundleList},
	{"Delete", testBundleDelete},
	{"Create", testBundleCreate},
	{"DeleteModes", testBundleDeleteModes},
	{"EntryNeedsFederatedBundle", testEntryNeedsFederatedBundle},
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
