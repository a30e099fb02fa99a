package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var federationTests = []test{
	{"CreateGetRoundTrip", testRelationshipRoundTrip},
	{"CreateDuplicate", testRelationshipDuplicate},
	{"CreateInvalid", testRelationshipInvalid},
	{"List", testRelationshipList},
	{"Update", testRelationshipUpdate},
	{"Delete", testRelationshipDelete},
}

// spiffeRelationship is a valid https_spiffe relationship with td.
func spiffeRelationship(td string) *datastore.FederationRelationship {
	return &datastore.FederationRelationship{
		TrustDomain:           td,
		BundleEndpointURL:     "https://" + td + ":8443/",
		BundleEndpointProfile: datastore.ProfileHTTPSSPIFFE,
		EndpointSPIFFEID:      "spiffe://" + td + "/spire/server",
	}
}

// relationshipDiff describes how got differs from want, ignoring the
// store's times ("" when equal).
func relationshipDiff(got, want *datastore.FederationRelationship) string {
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	gb, wb := g.TrustDomainBundle, w.TrustDomainBundle
	g.TrustDomainBundle, w.TrustDomainBundle = nil, nil
	switch {
	case g != w:
		return "\n got " + strings.TrimSpace(sprint(g)) + "\nwant " + strings.TrimSpace(sprint(w))
	case (gb == nil) != (wb == nil):
		return "bundle: got " + sprint(gb) + ", want " + sprint(wb)
	case gb != nil && (gb.TrustDomain != wb.TrustDomain || string(gb.Data) != string(wb.Data)):
		return "bundle: got " + gb.TrustDomain + " " + string(gb.Data) + ", want " + wb.TrustDomain + " " + string(wb.Data)
	}
	return ""
}

func testRelationshipRoundTrip(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	in := spiffeRelationship("a.example")
	in.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte(`{"keys":[1]}`)}
	before := time.Now()
	created, err := s.CreateFederationRelationship(ctx, in)
	must(t, "CreateFederationRelationship", err)
	if created.CreatedAt.Before(before.Add(-time.Second)) || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Errorf("CreatedAt %v UpdatedAt %v, want now and equal", created.CreatedAt, created.UpdatedAt)
	}
	if d := relationshipDiff(created, in); d != "" {
		t.Errorf("CreateFederationRelationship returned %s", d)
	}
	got, err := s.GetFederationRelationship(ctx, "a.example")
	must(t, "GetFederationRelationship", err)
	if d := relationshipDiff(got, in); d != "" {
		t.Errorf("GetFederationRelationship returned %s", d)
	}
	if !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("stored CreatedAt %v, returned %v", got.CreatedAt, created.CreatedAt)
	}
	// The bundle given with the relationship is the trust domain's bundle.
	b, err := s.GetBundle(ctx, "a.example")
	must(t, "GetBundle", err)
	if string(b.Data) != `{"keys":[1]}` {
		t.Errorf("bundle %q, want the relationship's", b.Data)
	}

	web := &datastore.FederationRelationship{TrustDomain: "b.example", BundleEndpointURL: "https://b.example/bundle",
		BundleEndpointProfile: datastore.ProfileHTTPSWeb}
	_, err = s.CreateFederationRelationship(ctx, web)
	must(t, "CreateFederationRelationship https_web", err)
	got, err = s.GetFederationRelationship(ctx, "b.example")
	must(t, "GetFederationRelationship", err)
	if d := relationshipDiff(got, web); d != "" {
		t.Errorf("GetFederationRelationship returned %s (want no bundle: none is stored)", d)
	}
	_, err = s.GetFederationRelationship(ctx, "c.example")
	wantErr(t, "GetFederationRelationship of an unknown trust domain", err, datastore.ErrNotFound)
}

func testRelationshipDuplicate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	_, err := s.CreateFederationRelationship(ctx, spiffeRelationship("a.example"))
	must(t, "CreateFederationRelationship", err)
	dup := spiffeRelationship("a.example")
	dup.BundleEndpointURL = "https://elsewhere.example/"
	dup.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte("x")}
	_, err = s.CreateFederationRelationship(ctx, dup)
	wantErr(t, "CreateFederationRelationship twice", err, datastore.ErrAlreadyExists)
	got, err := s.GetFederationRelationship(ctx, "a.example")
	must(t, "GetFederationRelationship", err)
	if got.BundleEndpointURL != "https://a.example:8443/" || got.TrustDomainBundle != nil {
		t.Errorf("after a refused create: %+v, want the first relationship and no bundle", got)
	}
}

func testRelationshipInvalid(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	tests := []struct {
		name  string
		edit  func(r *datastore.FederationRelationship)
		field string
	}{
		{"no trust domain", func(r *datastore.FederationRelationship) { r.TrustDomain = "" }, "trust_domain"},
		{"bad trust domain", func(r *datastore.FederationRelationship) { r.TrustDomain = "Bad Domain" }, "trust_domain"},
		{"trust domain as ID", func(r *datastore.FederationRelationship) { r.TrustDomain = "spiffe://a.example" }, "trust_domain"},
		{"no URL", func(r *datastore.FederationRelationship) { r.BundleEndpointURL = "" }, "bundle_endpoint_url"},
		{"http URL", func(r *datastore.FederationRelationship) { r.BundleEndpointURL = "http://a.example/" }, "https"},
		{"URL without host", func(r *datastore.FederationRelationship) { r.BundleEndpointURL = "https:///path" }, "host"},
		{"URL with user info", func(r *datastore.FederationRelationship) { r.BundleEndpointURL = "https://u:p@a.example/" }, "user info"},
		{"URL too long", func(r *datastore.FederationRelationship) {
			r.BundleEndpointURL = "https://a.example/" + strings.Repeat("x", datastore.MaxBundleEndpointURLLength)
		}, "bundle_endpoint_url"},
		{"no profile", func(r *datastore.FederationRelationship) { r.BundleEndpointProfile = "" }, "bundle_endpoint_profile"},
		{"unknown profile", func(r *datastore.FederationRelationship) { r.BundleEndpointProfile = "https_acme" }, "bundle_endpoint_profile"},
		{"spiffe without endpoint ID", func(r *datastore.FederationRelationship) { r.EndpointSPIFFEID = "" }, "endpoint_spiffe_id"},
		{"bad endpoint ID", func(r *datastore.FederationRelationship) { r.EndpointSPIFFEID = "not an id" }, "endpoint_spiffe_id"},
		{"endpoint ID of another trust domain", func(r *datastore.FederationRelationship) {
			r.EndpointSPIFFEID = "spiffe://other.example/spire/server"
		}, "endpoint_spiffe_id"},
		{"web with endpoint ID", func(r *datastore.FederationRelationship) { r.BundleEndpointProfile = datastore.ProfileHTTPSWeb }, "endpoint_spiffe_id"},
		{"bundle of another trust domain", func(r *datastore.FederationRelationship) {
			r.TrustDomainBundle = &datastore.Bundle{TrustDomain: "other.example", Data: []byte("{}")}
		}, "trust_domain_bundle"},
		{"empty bundle", func(r *datastore.FederationRelationship) {
			r.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example"}
		}, "trust_domain_bundle"},
	}
	_, err := s.CreateFederationRelationship(ctx, spiffeRelationship("b.example"))
	must(t, "CreateFederationRelationship", err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := spiffeRelationship("a.example")
			tt.edit(r)
			if _, err := s.CreateFederationRelationship(ctx, r); err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("CreateFederationRelationship = %v, want an error naming %s", err, tt.field)
			}
			u := spiffeRelationship("b.example")
			tt.edit(u)
			if u.TrustDomain == "b.example" {
				if _, err := s.UpdateFederationRelationship(ctx, u); err == nil || !strings.Contains(err.Error(), tt.field) {
					t.Errorf("UpdateFederationRelationship = %v, want an error naming %s", err, tt.field)
				}
			}
		})
	}
	if _, err := s.CreateFederationRelationship(ctx, nil); err == nil {
		t.Error("CreateFederationRelationship(nil) succeeded")
	}
	list, err := s.ListFederationRelationships(ctx)
	must(t, "ListFederationRelationships", err)
	if len(list) != 1 {
		t.Errorf("%d relationships stored after invalid creates, want 1", len(list))
	}
	if _, err := s.GetBundle(ctx, "other.example"); err == nil {
		t.Error("the bundle of a refused relationship was stored")
	}
}

func testRelationshipList(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	list, err := s.ListFederationRelationships(ctx)
	must(t, "ListFederationRelationships", err)
	if len(list) != 0 {
		t.Fatalf("%d relationships in an empty store", len(list))
	}
	federate(t, s, "b.example")
	for _, td := range []string{"c.example", "a.example", "b.example"} {
		_, err := s.CreateFederationRelationship(ctx, spiffeRelationship(td))
		must(t, "CreateFederationRelationship", err)
	}
	list, err = s.ListFederationRelationships(ctx)
	must(t, "ListFederationRelationships", err)
	var got []string
	for _, r := range list {
		got = append(got, r.TrustDomain)
		if (r.TrustDomainBundle != nil) != (r.TrustDomain == "b.example") {
			t.Errorf("relationship %s: bundle %v, want one only for b.example", r.TrustDomain, r.TrustDomainBundle)
		}
	}
	if strings.Join(got, ",") != "a.example,b.example,c.example" {
		t.Errorf("ListFederationRelationships = %v, want ordered by trust domain", got)
	}
}

func testRelationshipUpdate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	in := spiffeRelationship("a.example")
	in.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte("old")}
	created, err := s.CreateFederationRelationship(ctx, in)
	must(t, "CreateFederationRelationship", err)

	// Without a bundle, the update keeps the stored one.
	upd := &datastore.FederationRelationship{TrustDomain: "a.example", BundleEndpointURL: "https://new.example/",
		BundleEndpointProfile: datastore.ProfileHTTPSWeb, CreatedAt: time.Unix(1, 0)}
	got, err := s.UpdateFederationRelationship(ctx, upd)
	must(t, "UpdateFederationRelationship", err)
	want := *upd
	want.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte("old")}
	if d := relationshipDiff(got, &want); d != "" {
		t.Errorf("UpdateFederationRelationship returned %s", d)
	}
	if !got.CreatedAt.Equal(created.CreatedAt) || got.UpdatedAt.Before(created.UpdatedAt) {
		t.Errorf("times after update: created %v updated %v; want created %v kept", got.CreatedAt, got.UpdatedAt, created.CreatedAt)
	}
	stored, err := s.GetFederationRelationship(ctx, "a.example")
	must(t, "GetFederationRelationship", err)
	if d := relationshipDiff(stored, &want); d != "" {
		t.Errorf("stored after update: %s", d)
	}

	// With a bundle, it replaces the stored one.
	upd2 := spiffeRelationship("a.example")
	upd2.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte("new")}
	_, err = s.UpdateFederationRelationship(ctx, upd2)
	must(t, "UpdateFederationRelationship with bundle", err)
	b, err := s.GetBundle(ctx, "a.example")
	must(t, "GetBundle", err)
	if string(b.Data) != "new" {
		t.Errorf("bundle %q after update with a bundle, want %q", b.Data, "new")
	}

	missing := spiffeRelationship("missing.example")
	missing.TrustDomainBundle = &datastore.Bundle{TrustDomain: "missing.example", Data: []byte("x")}
	_, err = s.UpdateFederationRelationship(ctx, missing)
	wantErr(t, "UpdateFederationRelationship of an unknown trust domain", err, datastore.ErrNotFound)
	if _, err := s.GetBundle(ctx, "missing.example"); err == nil {
		t.Error("a refused update stored its bundle")
	}
}

func testRelationshipDelete(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	in := spiffeRelationship("a.example")
	in.TrustDomainBundle = &datastore.Bundle{TrustDomain: "a.example", Data: []byte("b")}
	_, err := s.CreateFederationRelationship(ctx, in)
	must(t, "CreateFederationRelationship", err)
	must(t, "DeleteFederationRelationship", s.DeleteFederationRelationship(ctx, "a.example"))
	_, err = s.GetFederationRelationship(ctx, "a.example")
	wantErr(t, "GetFederationRelationship after delete", err, datastore.ErrNotFound)
	wantErr(t, "DeleteFederationRelationship twice", s.DeleteFederationRelationship(ctx, "a.example"), datastore.ErrNotFound)
	// As in SPIRE, the trust domain's bundle outlives the relationship:
	// entries may still federate with it.
	if _, err := s.GetBundle(ctx, "a.example"); err != nil {
		t.Errorf("bundle deleted with its relationship: %v", err)
	}
	// And a new relationship may be created for it.
	_, err = s.CreateFederationRelationship(ctx, spiffeRelationship("a.example"))
	must(t, "CreateFederationRelationship after delete", err)
}
