package sds_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/svidkit/svidkit/pkg/sds"
)

func TestFetchSecretsNames(t *testing.T) {
	ca := newCA(t, "example.org")
	other := newCA(t, "other.org")
	web := ca.svid(t, "spiffe://example.org/web")
	api := ca.svid(t, "spiffe://example.org/api")
	src := newFakeSource(snapshot(ca, []sds.SVID{web, api}, other))
	client := serve(t, sds.New(sds.Config{Source: src}))
	custom := serve(t, sds.New(sds.Config{Source: src, DefaultSVIDName: "me", DefaultBundleName: "mine", DefaultAllBundlesName: "everything"}))

	type want = wantSecret
	tests := []struct {
		name  string
		names []string
		want  map[string]want
	}{
		{name: "default svid", names: []string{"default"}, want: map[string]want{"default": {svid: &web}}},
		{name: "svid by spiffe id", names: []string{"spiffe://example.org/api"}, want: map[string]want{"spiffe://example.org/api": {svid: &api}}},
		{name: "default bundle", names: []string{"ROOTCA"}, want: map[string]want{"ROOTCA": {tds: []string{"example.org"}}}},
		{name: "all bundles", names: []string{"ALL"}, want: map[string]want{"ALL": {tds: []string{"example.org", "other.org"}}}},
		{name: "rootca and all", names: []string{"ROOTCA", "ALL"}, want: map[string]want{
			"ROOTCA": {tds: []string{"example.org"}}, "ALL": {tds: []string{"example.org", "other.org"}}}},
		{name: "trust domain id", names: []string{"spiffe://example.org"}, want: map[string]want{"spiffe://example.org": {tds: []string{"example.org"}}}},
		{name: "trust domain name", names: []string{"example.org"}, want: map[string]want{"example.org": {tds: []string{"example.org"}}}},
		{name: "federated id", names: []string{"spiffe://other.org"}, want: map[string]want{"spiffe://other.org": {tds: []string{"other.org"}}}},
		{name: "federated name", names: []string{"other.org"}, want: map[string]want{"other.org": {tds: []string{"other.org"}}}},
		{name: "everything mixed", names: []string{"default", "spiffe://example.org/api", "ROOTCA", "ALL", "other.org", "default"}, want: map[string]want{
			"default": {svid: &web}, "spiffe://example.org/api": {svid: &api}, "ROOTCA": {tds: []string{"example.org"}},
			"ALL": {tds: []string{"example.org", "other.org"}}, "other.org": {tds: []string{"other.org"}}}},
		{name: "wildcard", names: nil, want: map[string]want{
			"spiffe://example.org": {tds: []string{"example.org"}}, "spiffe://other.org": {tds: []string{"other.org"}},
			"spiffe://example.org/web": {svid: &web}, "spiffe://example.org/api": {svid: &api}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{ResourceNames: tt.names})
			if err != nil {
				t.Fatal(err)
			}
			checkSecrets(t, resp, tt.want)
		})
	}
	t.Run("configured names", func(t *testing.T) {
		resp, err := custom.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{ResourceNames: []string{"me", "mine", "everything"}})
		if err != nil {
			t.Fatal(err)
		}
		got := secrets(t, resp.Resources)
		if len(got) != 3 || got["me"].GetTlsCertificate() == nil || len(spiffeTrustDomains(t, got["mine"])) != 1 || len(spiffeTrustDomains(t, got["everything"])) != 2 {
			t.Fatalf("got %v", keys(got))
		}
	})
	t.Run("unknown names", func(t *testing.T) {
		for _, name := range []string{"spiffe://example.org/nobody", "spiffe://unknown.org", "unknown.org", "NOT A NAME", "spiffe://bad name"} {
			_, err := client.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default", name}})
			if status.Code(err) != codes.NotFound {
				t.Errorf("%q: got %v, want NotFound", name, err)
			}
		}
	})
}

// wantSecret is the expected content of one secret: the trust domains of a
// SPIFFE validation context, or the SVID of a tls certificate.
type wantSecret struct {
	tds  []string
	svid *sds.SVID
}

// checkSecrets fails unless resp holds exactly the secrets of want.
func checkSecrets(t *testing.T, resp *discoveryv3.DiscoveryResponse, want map[string]wantSecret) {
	t.Helper()
	got := secrets(t, resp.Resources)
	if len(got) != len(want) {
		t.Fatalf("got secrets %v, want %d", keys(got), len(want))
	}
	for name, w := range want {
		s := got[name]
		if s == nil {
			t.Fatalf("secret %q missing from %v", name, keys(got))
		}
		if w.svid == nil {
			if tds := spiffeTrustDomains(t, s); !slices.Equal(tds, w.tds) {
				t.Fatalf("%q: trust domains %v, want %v", name, tds, w.tds)
			}
			continue
		}
		tc := s.GetTlsCertificate()
		pair, err := tls.X509KeyPair(tc.GetCertificateChain().GetInlineBytes(), tc.GetPrivateKey().GetInlineBytes())
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if !pair.Leaf.Equal(w.svid.Chain[0]) {
			t.Fatalf("%q: wrong SVID %v", name, pair.Leaf.URIs)
		}
	}
}

func TestValidationContextShape(t *testing.T) {
	ca := newCA(t, "example.org")
	other := newCA(t, "other.org")
	src := newFakeSource(snapshot(ca, nil, other))
	meta := func(v *structpb.Value) *corev3.Node {
		return &corev3.Node{Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{"disable_spiffe_cert_validation": v}}}
	}
	envoy := func(major, minor uint32) *corev3.Node {
		return &corev3.Node{UserAgentVersionType: &corev3.Node_UserAgentBuildVersion{UserAgentBuildVersion: &corev3.BuildVersion{
			Version: &typev3.SemanticVersion{MajorNumber: major, MinorNumber: minor}}}}
	}
	tests := []struct {
		name    string
		disable bool
		node    *corev3.Node
		spiffe  bool
	}{
		{name: "default", spiffe: true},
		{name: "disabled by config", disable: true},
		{name: "disabled by metadata bool", node: meta(structpb.NewBoolValue(true))},
		{name: "disabled by metadata string", node: meta(structpb.NewStringValue("true"))},
		{name: "metadata re-enables", disable: true, node: meta(structpb.NewBoolValue(false)), spiffe: true},
		{name: "metadata of other type ignored", node: meta(structpb.NewNumberValue(1)), spiffe: true},
		{name: "envoy 1.18", node: envoy(1, 18), spiffe: true},
		{name: "envoy 1.17 lacks the validator", node: envoy(1, 17)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := serve(t, sds.New(sds.Config{Source: src, DisableSPIFFECertValidation: tt.disable}))
			resp, err := client.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{Node: tt.node, ResourceNames: []string{"ROOTCA", "ALL"}})
			if err != nil {
				t.Fatal(err)
			}
			got := secrets(t, resp.Resources)
			if tt.spiffe {
				spiffeTrustDomains(t, got["ROOTCA"])
				spiffeTrustDomains(t, got["ALL"])
				return
			}
			for name, roots := range map[string][]*x509.Certificate{"ROOTCA": {ca.Root()}, "ALL": {ca.Root(), other.Root()}} {
				vc := got[name].GetValidationContext()
				if vc.GetCustomValidatorConfig() != nil {
					t.Fatalf("%s: SPIFFE validator set, want trusted_ca only", name)
				}
				if gotRoots := parseCerts(t, vc.GetTrustedCa().GetInlineBytes()); !sameCerts(gotRoots, roots) {
					t.Fatalf("%s: trusted_ca has %d roots, want %d", name, len(gotRoots), len(roots))
				}
			}
		})
	}
}

func parseCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
