package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	trustdomainv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/trustdomain/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// recordingController stands in for package federation's controller,
// which is not part of this package: it records the calls and answers
// RefreshBundle with err for trust domains it does not know, so that the
// API's mapping of both outcomes can be checked.
type recordingController struct {
	mu        sync.Mutex
	changed   int
	refreshed []string
	known     map[string]bool
	err       error
}

func (c *recordingController) RefreshBundle(_ context.Context, td spiffeid.TrustDomain) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshed = append(c.refreshed, td.Name())
	if !c.known[td.Name()] {
		return fmt.Errorf("no relationship with %q: %w", td.Name(), datastore.ErrNotFound)
	}
	return c.err
}

func (c *recordingController) RelationshipsChanged() {
	c.mu.Lock()
	c.changed++
	c.mu.Unlock()
}

func (c *recordingController) changes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

func spiffeProfile(id string) *types.FederationRelationship_HttpsSpiffe {
	return &types.FederationRelationship_HttpsSpiffe{HttpsSpiffe: &types.HTTPSSPIFFEProfile{EndpointSpiffeId: id}}
}

func webProfile() *types.FederationRelationship_HttpsWeb {
	return &types.FederationRelationship_HttpsWeb{HttpsWeb: &types.HTTPSWebProfile{}}
}

func TestFederationRelationshipCRUD(t *testing.T) {
	ctl := &recordingController{}
	e := newEnv(t, func(c *server.Config) { c.Federation = ctl })
	client := trustdomainv1.NewTrustDomainClient(e.admin)
	ctx := context.Background()
	aBundle := e.foreignBundle("a.org")
	a := &types.FederationRelationship{TrustDomain: "a.org", BundleEndpointUrl: "https://a.org:8443/",
		BundleEndpointProfile: spiffeProfile("spiffe://a.org/spire/server"), TrustDomainBundle: aBundle}
	b := &types.FederationRelationship{TrustDomain: "spiffe://b.org", BundleEndpointUrl: "https://b.org/bundle", BundleEndpointProfile: webProfile()}

	resp, err := client.BatchCreateFederationRelationship(ctx, &trustdomainv1.BatchCreateFederationRelationshipRequest{
		FederationRelationships: []*types.FederationRelationship{a, b, a},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []codes.Code
	for _, r := range resp.Results {
		got = append(got, resultCode(r.Status))
	}
	if !slices.Equal(got, []codes.Code{codes.OK, codes.OK, codes.AlreadyExists}) {
		t.Fatalf("create results %v, want OK, OK, AlreadyExists", resp.Results)
	}
	if r := resp.Results[1].FederationRelationship; r.TrustDomain != "b.org" || r.GetHttpsWeb() == nil {
		t.Errorf("created %v, want b.org by name with https_web", r)
	}
	if ctl.changes() != 1 {
		t.Errorf("RelationshipsChanged called %d times for one batch, want 1", ctl.changes())
	}
	// The relationship's bundle is the trust domain's federated bundle.
	fb, err := bundlev1.NewBundleClient(e.admin).GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"})
	if err != nil || len(fb.X509Authorities) != 1 {
		t.Fatalf("federated bundle of a.org: %v, %v", fb, err)
	}

	g, err := client.GetFederationRelationship(ctx, &trustdomainv1.GetFederationRelationshipRequest{TrustDomain: "a.org"})
	if err != nil || g.BundleEndpointUrl != a.BundleEndpointUrl || g.GetHttpsSpiffe().GetEndpointSpiffeId() != "spiffe://a.org/spire/server" || g.TrustDomainBundle == nil {
		t.Fatalf("GetFederationRelationship = %v, %v", g, err)
	}
	_, err = client.GetFederationRelationship(ctx, &trustdomainv1.GetFederationRelationshipRequest{TrustDomain: "c.org"})
	wantCode(t, err, codes.NotFound)

	var names []string
	token := ""
	for pages := 0; pages < 4; pages++ {
		l, err := client.ListFederationRelationships(ctx, &trustdomainv1.ListFederationRelationshipsRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.FederationRelationships {
			names = append(names, r.TrustDomain)
		}
		if token = l.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(names, []string{"a.org", "b.org"}) {
		t.Errorf("paged list %v, want [a.org b.org]", names)
	}

	// A masked update changes only the URL.
	up, err := client.BatchUpdateFederationRelationship(ctx, &trustdomainv1.BatchUpdateFederationRelationshipRequest{
		FederationRelationships: []*types.FederationRelationship{
			{TrustDomain: "a.org", BundleEndpointUrl: "https://a2.org/"},
			{TrustDomain: "c.org", BundleEndpointUrl: "https://c.org/", BundleEndpointProfile: webProfile()},
		},
		InputMask: &types.FederationRelationshipMask{BundleEndpointUrl: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resultCode(up.Results[0].Status) != codes.OK || resultCode(up.Results[1].Status) != codes.NotFound {
		t.Fatalf("update results %v, want OK and NotFound", up.Results)
	}
	if r := up.Results[0].FederationRelationship; r.BundleEndpointUrl != "https://a2.org/" || r.GetHttpsSpiffe().GetEndpointSpiffeId() != "spiffe://a.org/spire/server" {
		t.Errorf("updated %v, want the new URL and the old profile", r)
	}
	// A full update switching to https_web drops the endpoint ID.
	up, err = client.BatchUpdateFederationRelationship(ctx, &trustdomainv1.BatchUpdateFederationRelationshipRequest{
		FederationRelationships: []*types.FederationRelationship{{TrustDomain: "a.org", BundleEndpointUrl: "https://a3.org/", BundleEndpointProfile: webProfile()}},
	})
	if err != nil || resultCode(up.Results[0].Status) != codes.OK || up.Results[0].FederationRelationship.GetHttpsWeb() == nil {
		t.Fatalf("full update: %v, %v", up, err)
	}
	if ctl.changes() != 3 {
		t.Errorf("RelationshipsChanged called %d times after three successful batches, want 3", ctl.changes())
	}

	del, err := client.BatchDeleteFederationRelationship(ctx, &trustdomainv1.BatchDeleteFederationRelationshipRequest{TrustDomains: []string{"a.org", "a.org", ""}})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, r := range del.Results {
		got = append(got, resultCode(r.Status))
	}
	if !slices.Equal(got, []codes.Code{codes.OK, codes.NotFound, codes.InvalidArgument}) {
		t.Fatalf("delete results %v", del.Results)
	}
	// As in SPIRE, the bundle outlives the relationship.
	if _, err := bundlev1.NewBundleClient(e.admin).GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: "a.org"}); err != nil {
		t.Errorf("bundle of a.org after its relationship was deleted: %v", err)
	}
	if ctl.changes() != 4 {
		t.Errorf("RelationshipsChanged called %d times, want 4", ctl.changes())
	}
}

func TestFederationRelationshipInvalid(t *testing.T) {
	ctl := &recordingController{}
	e := newEnv(t, func(c *server.Config) { c.Federation = ctl })
	client := trustdomainv1.NewTrustDomainClient(e.admin)
	good := func() *types.FederationRelationship {
		return &types.FederationRelationship{TrustDomain: "a.org", BundleEndpointUrl: "https://a.org/",
			BundleEndpointProfile: spiffeProfile("spiffe://a.org/spire/server")}
	}
	edit := func(f func(r *types.FederationRelationship)) *types.FederationRelationship {
		r := good()
		f(r)
		return r
	}
	tests := []struct {
		name string
		r    *types.FederationRelationship
		msg  string
	}{
		{"own trust domain", edit(func(r *types.FederationRelationship) {
			r.TrustDomain = td.Name()
			r.BundleEndpointProfile = webProfile()
		}), "server trust domain"},
		{"bad trust domain", edit(func(r *types.FederationRelationship) { r.TrustDomain = "A B" }), "trust_domain"},
		{"http URL", edit(func(r *types.FederationRelationship) { r.BundleEndpointUrl = "http://a.org/" }), "https"},
		{"no URL", edit(func(r *types.FederationRelationship) { r.BundleEndpointUrl = "" }), "bundle_endpoint_url"},
		{"URL with user info", edit(func(r *types.FederationRelationship) { r.BundleEndpointUrl = "https://u:p@a.org/" }), "user info"},
		{"no profile", edit(func(r *types.FederationRelationship) { r.BundleEndpointProfile = nil }), "bundle_endpoint_profile"},
		{"no endpoint ID", edit(func(r *types.FederationRelationship) { r.BundleEndpointProfile = spiffeProfile("") }), "endpoint_spiffe_id"},
		{"endpoint ID elsewhere", edit(func(r *types.FederationRelationship) {
			r.BundleEndpointProfile = spiffeProfile("spiffe://b.org/spire/server")
		}), "endpoint_spiffe_id"},
		{"bundle of another trust domain", edit(func(r *types.FederationRelationship) { r.TrustDomainBundle = e.foreignBundle("b.org") }), "trust_domain_bundle"},
		{"empty bundle", edit(func(r *types.FederationRelationship) { r.TrustDomainBundle = &types.Bundle{TrustDomain: "a.org"} }), "trust_domain_bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.BatchCreateFederationRelationship(context.Background(), &trustdomainv1.BatchCreateFederationRelationshipRequest{
				FederationRelationships: []*types.FederationRelationship{tt.r},
			})
			if err != nil {
				t.Fatal(err)
			}
			if st := resp.Results[0].Status; resultCode(st) != codes.InvalidArgument || !strings.Contains(st.Message, tt.msg) {
				t.Errorf("status %v, want InvalidArgument containing %q", st, tt.msg)
			}
		})
	}
	if n := ctl.changes(); n != 0 {
		t.Errorf("RelationshipsChanged called %d times after refused creates, want 0", n)
	}
	l, err := client.ListFederationRelationships(context.Background(), &trustdomainv1.ListFederationRelationshipsRequest{})
	if err != nil || len(l.FederationRelationships) != 0 {
		t.Errorf("relationships after refused creates: %v, %v", l, err)
	}
}

func TestRefreshBundle(t *testing.T) {
	t.Run("without a controller", func(t *testing.T) {
		e := newEnv(t)
		client := trustdomainv1.NewTrustDomainClient(e.admin)
		ctx := context.Background()
		_, err := client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "a.org"})
		wantCode(t, err, codes.NotFound)
		if _, err := client.BatchCreateFederationRelationship(ctx, &trustdomainv1.BatchCreateFederationRelationshipRequest{
			FederationRelationships: []*types.FederationRelationship{{TrustDomain: "a.org", BundleEndpointUrl: "https://a.org/", BundleEndpointProfile: webProfile()}},
		}); err != nil {
			t.Fatal(err)
		}
		_, err = client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "a.org"})
		wantCode(t, err, codes.FailedPrecondition)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "no federation bundle fetcher") {
			t.Errorf("message %q does not say why", msg)
		}
	})
	t.Run("with a controller", func(t *testing.T) {
		ctl := &recordingController{known: map[string]bool{"a.org": true, "b.org": true}}
		e := newEnv(t, func(c *server.Config) { c.Federation = ctl })
		client := trustdomainv1.NewTrustDomainClient(e.admin)
		ctx := context.Background()
		if _, err := client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "spiffe://a.org"}); err != nil {
			t.Fatalf("RefreshBundle: %v", err)
		}
		_, err := client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "c.org"})
		wantCode(t, err, codes.NotFound)
		ctl.mu.Lock()
		ctl.err = errors.New("endpoint unreachable")
		ctl.mu.Unlock()
		_, err = client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "b.org"})
		wantCode(t, err, codes.Internal)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "endpoint unreachable") {
			t.Errorf("message %q lacks the cause", msg)
		}
		_, err = client.RefreshBundle(ctx, &trustdomainv1.RefreshBundleRequest{TrustDomain: "not a td"})
		wantCode(t, err, codes.InvalidArgument)
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		if !slices.Equal(ctl.refreshed, []string{"a.org", "c.org", "b.org"}) {
			t.Errorf("controller asked to refresh %v", ctl.refreshed)
		}
	})
	t.Run("admin only", func(t *testing.T) {
		e := newEnv(t)
		svid := e.mustAttest("td-token")
		_, err := trustdomainv1.NewTrustDomainClient(e.tcpConn(svid)).ListFederationRelationships(context.Background(), &trustdomainv1.ListFederationRelationshipsRequest{})
		wantCode(t, err, codes.PermissionDenied)
	})
}
