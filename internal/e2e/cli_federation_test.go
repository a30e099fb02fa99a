package e2e_test

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	trustdomainv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/trustdomain/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testenv"
)

// federationFixture holds the foreign trust domains' bundles the CLI
// steps set: other.test from a PEM file, third.test as a SPIFFE bundle on
// stdin, fed.test with a relationship, and a -data document.
type federationFixture struct {
	otherPEM, fedPEM, dataFile string
	other, third               *testca.CA
	thirdSPIFFE                string
}

func newFederationFixture(t *testing.T) *federationFixture {
	t.Helper()
	dir := t.TempDir()
	f := &federationFixture{other: testca.NewForTest(t, "other.test"), third: testca.NewForTest(t, "third.test")}
	writePEM := func(name string, ca *testca.CA) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.otherPEM = writePEM("other.pem", f.other)
	f.fedPEM = writePEM("fed.pem", testca.NewForTest(t, "fed.test"))
	third := spiffebundle.New(spiffeid.RequireTrustDomainFromString("third.test"))
	third.AddX509Authority(f.third.Root())
	if err := third.AddJWTAuthority(f.third.JWTKeyID(), f.third.JWTPublicKey()); err != nil {
		t.Fatal(err)
	}
	third.SetRefreshHint(60e9)
	doc, err := third.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f.thirdSPIFFE = string(doc)
	dataPEM, err := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testca.NewForTest(t, "data2.test").Root().Raw})))
	if err != nil {
		t.Fatal(err)
	}
	f.dataFile = filepath.Join(dir, "relationships.json")
	if err := os.WriteFile(f.dataFile, []byte(`{"federationRelationships": [
	  {"trustDomain": "data1.test", "bundleEndpointURL": "https://data1.test/bundle", "bundleEndpointProfile": "https_web"},
	  {"trustDomain": "data2.test", "bundleEndpointURL": "https://data2.test:8443", "bundleEndpointProfile": "https_spiffe",
	   "endpointSPIFFEID": "spiffe://data2.test/spire/server", "trustDomainBundleFormat": "pem", "trustDomainBundle": `+string(dataPEM)+`}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// federationSteps are TestServerCLI's bundle and federation steps, run
// after the entry and `bundle show` steps: the entry /cli/all federates
// with other.test, whose bundle an earlier step set.
func federationSteps(s *testenv.Server, f *federationFixture) []inputStep {
	prefix := "spiffe://" + trustDomain
	step := func(name, stdin string, a []string, check func(t *testing.T, r cliResult)) inputStep {
		return inputStep{cliStep{name, args(a...), check}, stdin}
	}
	return []inputStep{
		step("bundle set spiffe from stdin", f.thirdSPIFFE, []string{"bundle", "set", "-id", "spiffe://third.test", "-format", "spiffe"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "bundle set.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}),
		step("bundle set with a bad format", "", []string{"bundle", "set", "-id", "spiffe://x.test", "-path", f.otherPEM, "-format", "der"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -format "der": want pem or spiffe`)
		}),
		step("bundle set without -id", "", []string{"bundle", "set", "-path", f.otherPEM}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: id flag is required")
		}),
		step("bundle set of garbage", "not a certificate", []string{"bundle", "set", "-id", "spiffe://x.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: unable to parse bundle data from stdin: no PEM certificates found")
		}),
		step("bundle set of the own trust domain", "", []string{"bundle", "set", "-id", prefix, "-path", f.otherPEM}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: failed to set federated bundle: setting a federated bundle for the server's own trust domain is not allowed")
		}),
		step("bundle list", "", []string{"bundle", "list"}, func(t *testing.T, r cliResult) {
			want := "****************************************\n* other.test\n****************************************\n" +
				string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.other.Root().Raw})) + "\n" +
				"****************************************\n* third.test\n****************************************\n" +
				string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.third.Root().Raw}))
			if r.ok(t).out != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.out, want)
			}
		}),
		step("bundle list one spiffe", "", []string{"bundle", "list", "-id", "spiffe://third.test", "-format", "spiffe"}, func(t *testing.T, r cliResult) {
			b, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString("third.test"), []byte(r.ok(t).out))
			if err != nil {
				t.Fatalf("stdout is not a SPIFFE bundle: %v\n%s", err, r.out)
			}
			if hint, _ := b.RefreshHint(); !b.HasX509Authority(f.third.Root()) || !b.HasJWTAuthority(f.third.JWTKeyID()) || hint.Seconds() != 60 {
				t.Errorf("bundle %s lacks what was set", r.out)
			}
		}),
		step("bundle list json", "", []string{"bundle", "list", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp bundlev1.ListFederatedBundlesResponse
			decodeJSON(t, r.ok(t).out, &resp)
			var tds []string
			for _, b := range resp.Bundles {
				tds = append(tds, b.TrustDomain)
			}
			if !slices.Equal(tds, []string{"other.test", "third.test"}) {
				t.Errorf("bundles of %v, want other.test and third.test (never the own)", tds)
			}
		}),
		step("bundle list of an unknown trust domain", "", []string{"bundle", "list", "-id", "spiffe://nope.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, "NotFound")
		}),
		step("bundle list with a bad format", "", []string{"bundle", "list", "-format", "jwks"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -format "jwks"`)
		}),
		step("bundle count", "", []string{"bundle", "count"}, func(t *testing.T, r cliResult) {
			// The server's own bundle and the two federated ones.
			if r.ok(t).out != "3 bundles\n" {
				t.Errorf("stdout %q", r.out)
			}
		}),
		step("bundle count json", "", []string{"bundle", "count", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp bundlev1.CountBundlesResponse
			if decodeJSON(t, r.ok(t).out, &resp); resp.Count != 3 {
				t.Errorf("count %d, want 3", resp.Count)
			}
		}),
		step("bundle delete in use", "", []string{"bundle", "delete", "-id", "spiffe://other.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: failed to delete federated bundle "spiffe://other.test": failed to delete federated bundle: sqlite: cannot delete bundle "other.test"; federated with 1 registration entries: in use`)
		}),
		step("bundle delete with a bad mode", "", []string{"bundle", "delete", "-id", "spiffe://other.test", "-mode", "cascade"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: unsupported mode "cascade"`)
		}),
		step("bundle delete without -id", "", []string{"bundle", "delete"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: id is required")
		}),
		step("bundle delete dissociate", "", []string{"bundle", "delete", "-id", "spiffe://other.test", "-mode", "dissociate"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "bundle deleted.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}),
		step("entry after dissociate", "", []string{"entry", "show", "-spiffeID", prefix + "/cli/all", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp entryv1.ListEntriesResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Entries) != 1 || len(resp.Entries[0].FederatesWith) != 0 {
				t.Errorf("entries %v, want /cli/all federating with nothing", resp.Entries)
			}
		}),
		step("bundle delete json", "", []string{"bundle", "delete", "-id", "third.test", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp bundlev1.BatchDeleteFederatedBundleResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].GetStatus().GetCode() != int32(codes.OK) {
				t.Errorf("results %v, want one OK", resp.Results)
			}
		}),
		step("bundle list after delete", "", []string{"bundle", "list"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "" {
				t.Errorf("stdout %q, want no bundles", r.out)
			}
		}),
		step("federation create", "", []string{"federation", "create", "-trustDomain", "fed.test", "-bundleEndpointURL", "https://fed.test:8443",
			"-bundleEndpointProfile", "https_spiffe", "-endpointSpiffeID", "spiffe://fed.test/spire/server",
			"-trustDomainBundlePath", f.fedPEM, "-trustDomainBundleFormat", "pem"}, func(t *testing.T, r cliResult) {
			want := "\nTrust domain              : fed.test\nBundle endpoint URL       : https://fed.test:8443\n" +
				"Bundle endpoint profile   : https_spiffe\nEndpoint SPIFFE ID        : spiffe://fed.test/spire/server\n"
			if r.ok(t).out != want {
				t.Errorf("stdout:\n%q\nwant:\n%q", r.out, want)
			}
		}),
		step("federation create json", "", []string{"federation", "create", "-output", "json", "-trustDomain", "web.test",
			"-bundleEndpointURL", "https://web.test/bundle", "-bundleEndpointProfile", "https_web"}, func(t *testing.T, r cliResult) {
			var resp trustdomainv1.BatchCreateFederationRelationshipResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].GetFederationRelationship().GetHttpsWeb() == nil {
				t.Errorf("results %v, want one https_web relationship", resp.Results)
			}
		}),
		step("federation create from a data file", "", []string{"federation", "create", "-data", f.dataFile}, func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"Trust domain": {"data1.test", "data2.test"},
				"Bundle endpoint profile": {"https_web", "https_spiffe"}})
		}),
		step("federation create duplicate", "", []string{"federation", "create", "-trustDomain", "web.test",
			"-bundleEndpointURL", "https://web.test/bundle", "-bundleEndpointProfile", "https_web"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Failed to create the following federation relationship (code: AlreadyExists, msg: "federation relationship with \"web.test\" already exists")`)
			r.fails(t, "Error: failed to create one or more federation relationships")
		}),
		step("federation create with an http URL", "", []string{"federation", "create", "-trustDomain", "plain.test",
			"-bundleEndpointURL", "http://plain.test/", "-bundleEndpointProfile", "https_web"}, func(t *testing.T, r cliResult) {
			r.fails(t, `(code: InvalidArgument, msg: "failed to convert federation relationship: federation relationship \"plain.test\": bundle_endpoint_url: \"http://plain.test/\": must use the https scheme")`)
		}),
		step("federation create with a bad profile", "", []string{"federation", "create", "-trustDomain", "plain.test",
			"-bundleEndpointURL", "https://plain.test/", "-bundleEndpointProfile", "acme"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: unknown bundle endpoint profile type "acme"`)
		}),
		step("federation create with -data and flags", "", []string{"federation", "create", "-data", f.dataFile, "-trustDomain", "x.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: cannot use -trustDomain: -data gives the relationships")
		}),
		step("federation create without -endpointSpiffeID", "", []string{"federation", "create", "-trustDomain", "plain.test",
			"-bundleEndpointURL", "https://plain.test/", "-bundleEndpointProfile", "https_spiffe"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: endpoint SPIFFE ID is required if 'https_spiffe' endpoint profile is set")
		}),
		step("federation list", "", []string{"federation", "list"}, func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Found 4 federation relationships\n\n") {
				t.Errorf("stdout:\n%s", r.out)
			}
			checkFields(t, r.out, map[string][]string{"Trust domain": {"data1.test", "data2.test", "fed.test", "web.test"}})
		}),
		step("federation list json", "", []string{"federation", "list", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp trustdomainv1.ListFederationRelationshipsResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.FederationRelationships) != 4 || resp.FederationRelationships[2].GetTrustDomainBundle() == nil {
				t.Errorf("relationships %v, want 4, fed.test with its bundle", resp.FederationRelationships)
			}
		}),
		step("federation show", "", []string{"federation", "show", "-trustDomain", "fed.test"}, func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Found a federation relationship with trust domain fed.test:\n\n") {
				t.Errorf("stdout:\n%s", r.out)
			}
			checkFields(t, r.out, map[string][]string{"Endpoint SPIFFE ID": {"spiffe://fed.test/spire/server"}})
		}),
		step("federation show without -trustDomain", "", []string{"federation", "show"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: a trust domain name is required")
		}),
		step("federation show unknown", "", []string{"federation", "show", "-trustDomain", "nope.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, "code = NotFound desc = federation relationship does not exist")
		}),
		step("federation update", "", []string{"federation", "update", "-trustDomain", "web.test",
			"-bundleEndpointURL", "https://web2.test/bundle", "-bundleEndpointProfile", "https_web"}, func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"Bundle endpoint URL": {"https://web2.test/bundle"}})
		}),
		step("federation update unknown", "", []string{"federation", "update", "-trustDomain", "nope.test",
			"-bundleEndpointURL", "https://nope.test/", "-bundleEndpointProfile", "https_web"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Failed to update the following federation relationship (code: NotFound`)
		}),
		step("federation refresh unknown", "", []string{"federation", "refresh", "-id", "spiffe://nope.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: there is no federation relationship with trust domain "spiffe://nope.test"`)
		}),
		step("federation refresh", "", []string{"federation", "refresh", "-id", "spiffe://fed.test"}, func(t *testing.T, r cliResult) {
			// fed.test does not exist: whether or not a bundle fetcher
			// runs, the refresh fails and says so.
			r.fails(t, "Error: failed to refresh bundle: rpc error:")
		}),
		step("federation refresh without -id", "", []string{"federation", "refresh"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: id is required")
		}),
		step("federation delete", "", []string{"federation", "delete", "-id", "web.test"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "federation relationship deleted.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}),
		step("federation delete again", "", []string{"federation", "delete", "-id", "web.test"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: failed to delete federation relationship "web.test": federation relationship not found`)
		}),
		step("federation delete json", "", []string{"federation", "delete", "-id", "fed.test", "-output", "json"}, func(t *testing.T, r cliResult) {
			var resp trustdomainv1.BatchDeleteFederationRelationshipResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].GetStatus().GetCode() != int32(codes.OK) {
				t.Errorf("results %v, want one OK", resp.Results)
			}
		}),
		step("bundle of a deleted relationship stays", "", []string{"bundle", "list", "-id", "fed.test", "-output", "json"}, func(t *testing.T, r cliResult) {
			var b types.Bundle
			if decodeJSON(t, r.ok(t).out, &b); b.TrustDomain != "fed.test" || len(b.X509Authorities) != 1 {
				t.Errorf("bundle %v, want fed.test's", &b)
			}
		}),
	}
}
