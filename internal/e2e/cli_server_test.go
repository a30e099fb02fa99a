package e2e_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testenv"
)

// cliStep is one svidkit-server command line of TestServerCLI. Steps run
// in order against one server: later ones use the IDs earlier ones
// printed, so args is called when the step runs.
type cliStep struct {
	name  string
	args  func() []string
	check func(t *testing.T, r cliResult)
}

// inputStep is a cliStep with the command's standard input.
type inputStep struct {
	cliStep
	stdin string
}

// noInput gives steps an empty standard input.
func noInput(steps ...cliStep) []inputStep {
	out := make([]inputStep, len(steps))
	for i, st := range steps {
		out[i] = inputStep{cliStep: st}
	}
	return out
}

// TestServerCLI runs every svidkit-server admin sub-command, in the
// single-dash flag forms of SPIRE's runbooks, against a real server over
// its admin socket: tokens it generates attest real agents, the entry IDs
// it prints are the server's, and what one command changes the next one
// reads back, in pretty and in -output json form.
func TestServerCLI(t *testing.T) {
	s := startServer(t, testenv.Options{})
	prefix := "spiffe://" + trustDomain
	uidSel := testenv.UID(os.Getuid())
	gidSel := fmt.Sprintf("unix:gid:%d", os.Getgid())
	cliIn := func(stdin string, args ...string) cliResult {
		code, out, errOut := runServerCLIInput(s, stdin, args...)
		return cliResult{code, out, errOut}
	}
	cli := func(args ...string) cliResult { return cliIn("", args...) }
	fed := newFederationFixture(t)
	// State the steps pass on.
	var (
		token, agentID         string // the agent attested with the pretty token
		jsonToken, jsonAgentID string // the agent attested with the JSON token
		entryID, nodeEntryID   string
	)
	expiryAt := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	expiry, expiryTime := fmt.Sprint(expiryAt.Unix()), expiryAt.UTC().String()
	dataFile := filepath.Join(t.TempDir(), "entries.json")
	if err := os.WriteFile(dataFile, []byte(`{"entries": [
	  {"spiffe_id": {"trust_domain": "`+trustDomain+`", "path": "/cli/blog"}, "parent_id": {"trust_domain": "`+trustDomain+`", "path": "/cli-node"},
	   "selectors": [{"type": "unix", "value": "uid:99996"}], "x509_svid_ttl": 200},
	  {"spiffe_id": {"trust_domain": "`+trustDomain+`", "path": "/cli/shop"}, "parent_id": {"trust_domain": "`+trustDomain+`", "path": "/cli-node"},
	   "selectors": [{"type": "unix", "value": "uid:99995"}]}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	webEntry := func() []string {
		return []string{"entry", "create", "-parentID", prefix + "/cli-node", "-spiffeID", prefix + "/cli/web",
			"-selector", uidSel, "-selector", gidSel, "-x509SVIDTTL", "600", "-dns", "web.cli.test", "-hint", "web"}
	}

	steps := []cliStep{
		{"healthcheck", args("healthcheck", "-verbose"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Checking server health...\nServer is healthy.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"healthcheck shallow", args("healthcheck", "-shallow"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Server is healthy.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"token generate", args("token", "generate", "-spiffeID", prefix+"/cli-node", "-ttl", "300"), func(t *testing.T, r cliResult) {
			tok, ok := strings.CutPrefix(r.ok(t).out, "Token: ")
			if !ok || strings.Count(tok, "\n") != 1 || strings.Contains(r.errOut, "Warning") {
				t.Fatalf("stdout %q stderr %q, want one token and no warning", r.out, r.errOut)
			}
			token = strings.TrimSpace(tok)
			agentID = prefix + "/spire/agent/join_token/" + token
			attestWith(t, s, "cli", token)
		}},
		{"token generate json", args("token", "generate", "-output", "json"), func(t *testing.T, r cliResult) {
			var tok types.JoinToken
			decodeJSON(t, r.ok(t).out, &tok)
			// -ttl defaults to 600 seconds, as in SPIRE.
			if left := time.Until(time.Unix(tok.ExpiresAt, 0)); tok.Value == "" || left < 590*time.Second || left > 601*time.Second {
				t.Fatalf("token %q expiring in %s, want a value and 600s", tok.Value, left)
			}
			jsonToken, jsonAgentID = tok.Value, prefix+"/spire/agent/join_token/"+tok.Value
			attestWith(t, s, "json", jsonToken)
		}},
		{"token generate without SPIFFE ID", args("token", "generate"), func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Token: ") || r.errOut != "Warning: Missing SPIFFE ID.\n" {
				t.Errorf("stdout %q stderr %q, want a token and SPIRE's warning", r.out, r.errOut)
			}
		}},
		{"token generate with a bad ttl", args("token", "generate", "-ttl", "0"), func(t *testing.T, r cliResult) {
			r.fails(t, "Error: -ttl must be positive")
		}},
		{"entry create", webEntry, func(t *testing.T, r cliResult) {
			r.ok(t)
			entryID = prettyField(t, r.out, "Entry ID")
			checkFields(t, r.out, map[string][]string{
				"SPIFFE ID": {prefix + "/cli/web"}, "Parent ID": {prefix + "/cli-node"}, "Revision": {"0"},
				"X509-SVID TTL": {"600"}, "Selector": sorted([]string{uidSel, gidSel}), // stored sorted "DNS name": {"web.cli.test"}, "Hint": {"web"},
			})
		}},
		{"entry create json node entry", func() []string {
			return []string{"entry", "create", "-output", "json", "-node", "-spiffeID", prefix + "/cli/nodes", "-selector", "join_token:" + jsonToken}
		}, func(t *testing.T, r cliResult) {
			var resp entryv1.BatchCreateEntryResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].GetStatus().GetCode() != int32(codes.OK) {
				t.Fatalf("results %v, want one OK", resp.Results)
			}
			e := resp.Results[0].Entry
			if e.GetId() == "" || e.GetParentId().GetPath() != "/spire/server" || !strings.Contains(r.out, `"spiffe_id"`) {
				t.Fatalf("entry %v: want an ID, parent /spire/server, SPIRE's field names", e)
			}
			nodeEntryID = e.Id
		}},
		{"entry create duplicate", webEntry, func(t *testing.T, r cliResult) {
			r.fails(t, `Failed to create the following entry (code: AlreadyExists, msg: "similar entry already exists")`)
			r.fails(t, "Error: failed to create one or more entries")
		}},
		{"entry show by ID", func() []string { return []string{"entry", "show", "-entryID=" + entryID} }, func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Found 1 entry\n\n") {
				t.Errorf("stdout:\n%s", r.out)
			}
			checkFields(t, r.out, map[string][]string{"Entry ID": {entryID}, "SPIFFE ID": {prefix + "/cli/web"}})
		}},
		{"entry show by SPIFFE ID", args("entry", "show", "-spiffeID", prefix+"/cli/nodes"), func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"Entry ID": {nodeEntryID}, "Parent ID": {prefix + "/spire/server"}})
		}},
		{"entry show by selector json", args("entry", "show", "-selector", uidSel, "-matchSelectorsOn", "superset", "-output", "json"), func(t *testing.T, r cliResult) {
			var resp entryv1.ListEntriesResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if got := entryIDs(resp.Entries); !slices.Equal(got, []string{entryID}) {
				t.Errorf("entries %v, want [%s]", got, entryID)
			}
		}},
		{"entry count", args("entry", "count"), func(t *testing.T, r cliResult) {
			// The web and node entries and the alias entry of the token
			// generated with -spiffeID.
			if r.ok(t).out != "3 registration entries\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"entry count by parent json", args("entry", "count", "-parentID", prefix+"/cli-node", "-output", "json"), func(t *testing.T, r cliResult) {
			var resp entryv1.CountEntriesResponse
			if decodeJSON(t, r.ok(t).out, &resp); resp.Count != 1 {
				t.Errorf("count %d, want 1", resp.Count)
			}
		}},
		{"entry count by selector", args("entry", "count", "-selector", uidSel), func(t *testing.T, r cliResult) {
			// The default match is superset: the web entry has uid and gid.
			if r.ok(t).out != "1 registration entry\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"entry update", func() []string {
			return []string{"entry", "update", "-entryID", entryID, "-parentID", prefix + "/cli-node", "-spiffeID", prefix + "/cli/web",
				"-selector", uidSel, "-dns", "web2.cli.test", "-jwtSVIDTTL", "120"}
		}, func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"Entry ID": {entryID}, "Revision": {"1"}, "Selector": {uidSel},
				"DNS name": {"web2.cli.test"}, "JWT-SVID TTL": {"120"}, "X509-SVID TTL": {"default"}})
		}},
		{"entry update json", func() []string {
			return []string{"entry", "update", "-output", "json", "-entryID", entryID, "-parentID", prefix + "/cli-node",
				"-spiffeID", prefix + "/cli/web", "-selector", uidSel, "-hint", "web2"}
		}, func(t *testing.T, r cliResult) {
			var resp entryv1.BatchUpdateEntryResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].GetEntry().GetRevisionNumber() != 2 || resp.Results[0].GetEntry().GetHint() != "web2" {
				t.Errorf("results %v, want the entry at revision 2 with hint web2", resp.Results)
			}
		}},
		{"entry show after update json", func() []string { return []string{"entry", "show", "-entryID", entryID, "-output", "json"} }, func(t *testing.T, r cliResult) {
			var resp entryv1.ListEntriesResponse
			decodeJSON(t, r.ok(t).out, &resp)
			// As with spire-server, update replaces the whole entry: the
			// DNS name and JWT TTL of the previous update are gone.
			if len(resp.Entries) != 1 || resp.Entries[0].Hint != "web2" || resp.Entries[0].RevisionNumber != 2 ||
				len(resp.Entries[0].DnsNames) != 0 || resp.Entries[0].JwtSvidTtl != 0 {
				t.Errorf("entries %v, want the entry as the last update gave it", resp.Entries)
			}
		}},
		{"entry delete", func() []string { return []string{"entry", "delete", "-entryID", nodeEntryID} }, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Deleted entry with ID: "+nodeEntryID+"\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"entry delete json", func() []string { return []string{"entry", "delete", "-entryID", entryID, "-output", "json"} }, func(t *testing.T, r cliResult) {
			var resp entryv1.BatchDeleteEntryResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Results) != 1 || resp.Results[0].Id != entryID || resp.Results[0].GetStatus().GetCode() != int32(codes.OK) {
				t.Errorf("results %v, want %s deleted", resp.Results, entryID)
			}
		}},
		{"entry delete again", func() []string { return []string{"entry", "delete", "-entryID", entryID} }, func(t *testing.T, r cliResult) {
			r.fails(t, "(code: NotFound)")
		}},
		{"entry show deleted", func() []string { return []string{"entry", "show", "-entryID", entryID} }, func(t *testing.T, r cliResult) {
			r.fails(t, "NotFound")
		}},
		{"entry count after delete", args("entry", "count"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "1 registration entry\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"entry create federating with an unknown trust domain", args("entry", "create", "-parentID", prefix+"/cli-node", "-spiffeID", prefix+"/cli/all",
			"-selector", "unix:uid:99999", "-federatesWith", "spiffe://other.test"), func(t *testing.T, r cliResult) {
			// As in SPIRE: the trust domain must have a bundle first.
			r.fails(t, `(code: InvalidArgument, msg: "failed to create entry: sqlite: create entry: federates_with \"other.test\": no bundle stored for the federated trust domain")`)
		}},
		{"bundle set from a PEM file", args("bundle", "set", "-id", "spiffe://other.test", "-path", fed.otherPEM), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "bundle set.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"entry create with every flag", args("entry", "create", "-parentID", prefix+"/cli-node", "-spiffeID", prefix+"/cli/all",
			"-selector", "unix:uid:99999", "-x509SVIDTTL", "3600", "-jwtSVIDTTL", "300", "-dns", "a.cli.test", "-dns", "b.cli.test",
			"-hint", "all", "-admin", "-downstream", "-federatesWith", "spiffe://other.test", "-entryExpiry", expiry), func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{
				"SPIFFE ID": {prefix + "/cli/all"}, "X509-SVID TTL": {"3600"}, "JWT-SVID TTL": {"300"}, "Selector": {"unix:uid:99999"},
				"DNS name": {"a.cli.test", "b.cli.test"}, "Hint": {"all"}, "Admin": {"true"}, "Downstream": {"true"},
				// Trust domains print by name, as spire-server prints them.
				"FederatesWith": {"other.test"}, "Expiration time": {expiryTime},
			})
		}},
		{"entry create with the deprecated ttl", args("entry", "create", "-parentID", prefix+"/cli-node", "-spiffeID", prefix+"/cli/ttl",
			"-selector", "unix:uid:99998", "-ttl", "60"), func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"X509-SVID TTL": {"60"}})
			if !strings.Contains(r.errOut, "-ttl flag is deprecated") {
				t.Errorf("stderr %q lacks the deprecation warning", r.errOut)
			}
		}},
		{"entry create with double-dash flags", args("entry", "create", "--parentID="+prefix+"/cli-node", "--spiffeID="+prefix+"/cli/dash",
			"--selector=unix:uid:99997"), func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"SPIFFE ID": {prefix + "/cli/dash"}, "Selector": {"unix:uid:99997"}})
		}},
		{"entry create from a data file", args("entry", "create", "-data", dataFile), func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"SPIFFE ID": {prefix + "/cli/blog", prefix + "/cli/shop"},
				"X509-SVID TTL": {"200", "default"}})
		}},
		{"entry count of the new entries", args("entry", "count", "-parentID", prefix+"/cli-node"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "5 registration entries\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"bundle show", args("bundle", "show"), func(t *testing.T, r cliResult) {
			if want := string(s.BundlePEM(t)); r.ok(t).out != want {
				t.Errorf("stdout:\n%s\nwant the server's CA:\n%s", r.out, want)
			}
		}},
		{"bundle show spiffe", args("bundle", "show", "-format", "spiffe"), func(t *testing.T, r cliResult) {
			b, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString(trustDomain), []byte(r.ok(t).out))
			if err != nil {
				t.Fatalf("stdout is not a SPIFFE bundle: %v\n%s", err, r.out)
			}
			if !slices.EqualFunc(b.X509Authorities(), serverCAs(t, s), (*x509.Certificate).Equal) || len(b.JWTAuthorities()) == 0 {
				t.Errorf("bundle has %d X.509 authorities (want the server's) and %d JWT authorities", len(b.X509Authorities()), len(b.JWTAuthorities()))
			}
			want := serverBundle(t, s)
			seq, _ := b.SequenceNumber()
			hint, _ := b.RefreshHint()
			if seq != want.SequenceNumber || hint != time.Duration(want.RefreshHint)*time.Second {
				t.Errorf("sequence number %d, refresh hint %s; the server has %d, %ds", seq, hint, want.SequenceNumber, want.RefreshHint)
			}
		}},
		{"bundle show json", args("bundle", "show", "-output", "json"), func(t *testing.T, r cliResult) {
			var b types.Bundle
			decodeJSON(t, r.ok(t).out, &b)
			cas := serverCAs(t, s)
			if b.TrustDomain != trustDomain || len(b.X509Authorities) != len(cas) || !cas[0].Equal(mustParseCert(t, b.X509Authorities[0].Asn1)) {
				t.Errorf("bundle of %q with %d X.509 authorities, want the server's", b.TrustDomain, len(b.X509Authorities))
			}
		}},
		{"bundle show with a bad format", args("bundle", "show", "-format", "der"), func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -format "der"`)
		}},
	}
	all := noInput(steps...)
	all = append(all, federationSteps(s, fed)...)
	all = append(all, noInput([]cliStep{
		{"agent list", args("agent", "list"), func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Found 2 attested agents:\n\n") {
				t.Errorf("stdout:\n%s", r.out)
			}
			if got := sorted(prettyFields(r.out, "SPIFFE ID")); !slices.Equal(got, sorted([]string{agentID, jsonAgentID})) {
				t.Errorf("agents %v, want %s and %s", got, agentID, jsonAgentID)
			}
			if got := prettyFields(r.out, "Attestation type"); !slices.Equal(got, []string{"join_token", "join_token"}) {
				t.Errorf("attestation types %v", got)
			}
		}},
		{"agent list json", args("agent", "list", "-attestationType", "join_token", "-output", "json"), func(t *testing.T, r cliResult) {
			var resp agentv1.ListAgentsResponse
			decodeJSON(t, r.ok(t).out, &resp)
			if len(resp.Agents) != 2 {
				t.Errorf("%d agents, want 2", len(resp.Agents))
			}
		}},
		{"agent list by other attestation type", args("agent", "list", "-attestationType", "k8s_psat"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "No attested agents found\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"agent list by selector", func() []string { return []string{"agent", "list", "-selector", "spiffe_id:" + agentID} }, func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"SPIFFE ID": {agentID}})
		}},
		{"agent show", func() []string { return []string{"agent", "show", "-spiffeID", agentID} }, func(t *testing.T, r cliResult) {
			if !strings.HasPrefix(r.ok(t).out, "Found an attested agent given its SPIFFE ID\n\n") {
				t.Errorf("stdout:\n%s", r.out)
			}
			checkFields(t, r.out, map[string][]string{"SPIFFE ID": {agentID}, "Attestation type": {"join_token"}, "Can re-attest": {"false"}})
			if serial := prettyField(t, r.out, "Serial number"); serial == "" {
				t.Error("no serial number")
			}
		}},
		{"agent show json", func() []string { return []string{"agent", "show", "-spiffeID", jsonAgentID, "-output", "json"} }, func(t *testing.T, r cliResult) {
			var a types.Agent
			decodeJSON(t, r.ok(t).out, &a)
			if a.GetId().GetPath() != "/spire/agent/join_token/"+jsonToken || a.Banned || a.X509SvidSerialNumber == "" ||
				time.Unix(a.X509SvidExpiresAt, 0).Before(time.Now()) {
				t.Errorf("agent %v, want the JSON token's agent, not banned, with a current SVID", &a)
			}
		}},
		{"agent ban", func() []string { return []string{"agent", "ban", "-spiffeID", jsonAgentID} }, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Agent banned successfully\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"agent show banned", func() []string { return []string{"agent", "show", "-spiffeID", jsonAgentID} }, func(t *testing.T, r cliResult) {
			checkFields(t, r.ok(t).out, map[string][]string{"Banned": {"true"}})
		}},
		{"agent evict", func() []string { return []string{"agent", "evict", "-spiffeID", agentID} }, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Agent evicted successfully\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"agent evict json", func() []string { return []string{"agent", "evict", "-spiffeID", jsonAgentID, "-output", "json"} }, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "{}\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"agent show evicted", func() []string { return []string{"agent", "show", "-spiffeID", agentID} }, func(t *testing.T, r cliResult) {
			r.fails(t, "NotFound")
		}},
		{"agent ban without SPIFFE ID", args("agent", "ban"), func(t *testing.T, r cliResult) {
			r.fails(t, "Error: -spiffeID is required")
		}},
		{"agent evict with a bad SPIFFE ID", args("agent", "evict", "-spiffeID", "nope"), func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -spiffeID "nope"`)
		}},
		{"agent list after evict", args("agent", "list"), func(t *testing.T, r cliResult) {
			if r.ok(t).out != "No attested agents found\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"token generate with a bad SPIFFE ID", args("token", "generate", "-spiffeID", "cli-node"), func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -spiffeID "cli-node"`)
		}},
	}...)...)
	for _, st := range all {
		if !t.Run(st.name, func(t *testing.T) { st.check(t, cliIn(st.stdin, st.args()...)) }) {
			t.FailNow() // later steps use what this one should have made
		}
	}

	t.Run("healthcheck of a stopped server", func(t *testing.T) {
		s.Stop()
		cli("healthcheck").fails(t, "Error: server is unhealthy: unable to determine health")
		cli("entry", "count").fails(t, "Error: count entries: rpc error: code = Unavailable")
	})
}

// args returns a cliStep's fixed arguments.
func args(a ...string) func() []string { return func() []string { return a } }

// attestWith runs agent name with token until it has attested, then stops
// it: the server keeps it as an attested agent for `agent` commands.
func attestWith(t *testing.T, s *testenv.Server, name, token string) {
	t.Helper()
	ag := s.StartAgent(t, name, token)
	select {
	case <-ag.Agent.Attested():
	case <-time.After(30 * time.Second):
		t.Fatalf("agent %s did not attest with token %q within 30s", name, token)
	}
	ag.Stop()
}

// checkFields fails the test unless each named field of the pretty output
// has exactly the values given, in order.
func checkFields(t *testing.T, out string, want map[string][]string) {
	t.Helper()
	for name, vals := range want {
		if got := prettyFields(out, name); !slices.Equal(got, vals) {
			t.Errorf("%s: %q, want %q\noutput:\n%s", name, got, vals, out)
		}
	}
}

func entryIDs(entries []*types.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Id
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// serverCAs returns the server's X.509 authorities, read over the admin
// API without the CLI.
func serverCAs(t *testing.T, s *testenv.Server) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := s.BundlePEM(t); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return out
		}
		out = append(out, mustParseCert(t, block.Bytes))
	}
}

func mustParseCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serverBundle returns the server's bundle, read over the admin API
// without the CLI.
func serverBundle(t *testing.T, s *testenv.Server) *types.Bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bundlev1.NewBundleClient(s.Conn()).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatalf("GetBundle: %v", err)
	}
	return b
}
