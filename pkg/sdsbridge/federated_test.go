package sdsbridge_test

import (
	"encoding/pem"
	"maps"
	"slices"
	"testing"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
)

// validatorRoots returns, per trust domain of a validation context
// secret's SPIFFE certificate validator, the DER of its roots.
func validatorRoots(t *testing.T, s *tlsv3.Secret) map[string][][]byte {
	t.Helper()
	cfg := s.GetValidationContext().GetCustomValidatorConfig()
	if cfg.GetName() != "envoy.tls.cert_validator.spiffe" {
		t.Fatalf("secret %q: validator %q, want the SPIFFE validator", s.GetName(), cfg.GetName())
	}
	spiffe := &tlsv3.SPIFFECertValidatorConfig{}
	if err := cfg.GetTypedConfig().UnmarshalTo(spiffe); err != nil {
		t.Fatalf("secret %q: %v", s.GetName(), err)
	}
	out := make(map[string][][]byte)
	for _, td := range spiffe.GetTrustDomains() {
		rest := td.GetTrustBundle().GetInlineBytes()
		for block, r := pem.Decode(rest); block != nil; block, r = pem.Decode(r) {
			out[td.GetName()] = append(out[td.GetName()], block.Bytes)
		}
	}
	return out
}

// received waits for a response whose secrets satisfy cond, ACKing each,
// and returns its secrets.
func (e *envoy) received(what string, cond func(map[string]*tlsv3.Secret) bool) map[string]*tlsv3.Secret {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case r, ok := <-e.resps:
			if !ok {
				e.t.Fatal("SDS stream ended")
			}
			e.send(r.VersionInfo, r.Nonce)
			got := map[string]*tlsv3.Secret{}
			for _, a := range r.Resources {
				s := &tlsv3.Secret{}
				if err := a.UnmarshalTo(s); err != nil {
					e.t.Fatal(err)
				}
				got[s.Name] = s
			}
			if cond(got) {
				return got
			}
		case <-deadline:
			e.t.Fatalf("no SDS response with %s", what)
		}
	}
}

// TestEnvoyReceivesFederatedBundles: svidkit-sds serves the federated
// bundles of its Workload API identity under the foreign trust domain's
// name (either spelling) and within ALL, one SPIFFE validator trust domain
// per bundle; a federated bundle the Workload API stops sending is
// withdrawn from ALL and its own name.
func TestEnvoyReceivesFederatedBundles(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	foreign, other := testca.NewForTest(t, "foreign.test"), testca.NewForTest(t, "other.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web", ""))
	api.SetFederatedBundles(map[string][]byte{
		"spiffe://foreign.test": foreign.Root().Raw,
		"spiffe://other.test":   other.Root().Raw,
	})
	e := dialEnvoy(t, serveSDS(t, api.Socket()), "foreign.test", "spiffe://other.test", "ALL")

	roots := map[string][]byte{"bridge.test": ca.Root().Raw, "foreign.test": foreign.Root().Raw, "other.test": other.Root().Raw}
	check := func(secrets map[string]*tlsv3.Secret, name string, tds ...string) {
		t.Helper()
		got := validatorRoots(t, secrets[name])
		if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, tds) {
			t.Fatalf("secret %q: validator trust domains %v, want %v", name, names, tds)
		}
		for _, td := range tds {
			if len(got[td]) != 1 || !slices.Equal(got[td][0], roots[td]) {
				t.Errorf("secret %q: trust domain %s does not hold exactly its root", name, td)
			}
		}
	}
	secrets := e.received("both federated names and ALL", func(s map[string]*tlsv3.Secret) bool { return len(s) == 3 })
	check(secrets, "foreign.test", "foreign.test")
	check(secrets, "spiffe://other.test", "other.test")
	check(secrets, "ALL", "bridge.test", "foreign.test", "other.test")

	api.SetFederatedBundles(map[string][]byte{"spiffe://foreign.test": foreign.Root().Raw})
	secrets = e.received("other.test withdrawn", func(s map[string]*tlsv3.Secret) bool { return s["spiffe://other.test"] == nil })
	check(secrets, "foreign.test", "foreign.test")
	check(secrets, "ALL", "bridge.test", "foreign.test")
}
