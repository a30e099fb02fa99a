package servercli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/servercli"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func id(td, path string) *types.SPIFFEID { return &types.SPIFFEID{TrustDomain: td, Path: path} }

func TestEntryCreate(t *testing.T) {
	dataFile := filepath.Join(t.TempDir(), "entries.json")
	if err := os.WriteFile(dataFile, []byte(`{"entries": [
	  {"spiffe_id": {"trust_domain": "example.org", "path": "/blog"},
	   "parent_id": {"trust_domain": "example.org", "path": "/spire/agent/join_token/t"},
	   "selectors": [{"type": "unix", "value": "uid:111"}],
	   "x509_svid_ttl": 200}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		want       *types.Entry
		wantOut    []string
		wantStderr string
	}{
		{
			name: "all flags",
			args: []string{"-spiffeID", "spiffe://example.org/web", "-parentID", "spiffe://example.org/host",
				"-selector", "unix:uid:1000", "-selector", "k8s:ns:a,b", "-x509SVIDTTL", "3600", "-jwtSVIDTTL", "300",
				"-dns", "a.example.org", "-dns", "b.example.org", "-hint", "web", "-admin", "-downstream",
				"-federatesWith", "spiffe://other.org", "-entryExpiry", "1700000000"},
			want: &types.Entry{
				SpiffeId: id("example.org", "/web"), ParentId: id("example.org", "/host"),
				Selectors:   []*types.Selector{{Type: "unix", Value: "uid:1000"}, {Type: "k8s", Value: "ns:a,b"}},
				X509SvidTtl: 3600, JwtSvidTtl: 300, DnsNames: []string{"a.example.org", "b.example.org"},
				Hint: "web", Admin: true, Downstream: true, FederatesWith: []string{"spiffe://other.org"},
				ExpiresAt: 1700000000,
			},
			wantOut: []string{
				"Entry ID         : id-0\n",
				"SPIFFE ID        : spiffe://example.org/web\n",
				"Parent ID        : spiffe://example.org/host\n",
				"X509-SVID TTL    : 3600\n",
				"JWT-SVID TTL     : 300\n",
				"Selector         : unix:uid:1000\n",
				"Selector         : k8s:ns:a,b\n",
				"DNS name         : b.example.org\n",
				"FederatesWith    : spiffe://other.org\n",
				"Downstream       : true\n",
				"Admin            : true\n",
				"Hint             : web\n",
				"Expiration time  : 2023-11-14 22:13:20 +0000 UTC\n",
			},
		},
		{
			name: "node entry is parented to the server",
			args: []string{"-node", "-spiffeID", "spiffe://example.org/nodes", "-selector", "join_token:abc"},
			want: &types.Entry{
				SpiffeId: id("example.org", "/nodes"), ParentId: id("example.org", "/spire/server"),
				Selectors: []*types.Selector{{Type: "join_token", Value: "abc"}},
			},
			wantOut: []string{"Parent ID        : spiffe://example.org/spire/server\n", "X509-SVID TTL    : default\n"},
		},
		{
			name: "deprecated ttl sets the X.509 TTL",
			args: []string{"-spiffeID", "spiffe://example.org/w", "-parentID", "spiffe://example.org/h",
				"-selector", "unix:uid:1", "-ttl", "60"},
			want: &types.Entry{
				SpiffeId: id("example.org", "/w"), ParentId: id("example.org", "/h"),
				Selectors: []*types.Selector{{Type: "unix", Value: "uid:1"}}, X509SvidTtl: 60,
			},
			wantOut:    []string{"X509-SVID TTL    : 60\n"},
			wantStderr: "-ttl flag is deprecated",
		},
		{
			name: "double-dash flags",
			args: []string{"--spiffeID=spiffe://example.org/w", "--parentID=spiffe://example.org/h", "--selector=unix:uid:1"},
			want: &types.Entry{
				SpiffeId: id("example.org", "/w"), ParentId: id("example.org", "/h"),
				Selectors: []*types.Selector{{Type: "unix", Value: "uid:1"}},
			},
			wantOut: []string{"SPIFFE ID        : spiffe://example.org/w\n"},
		},
		{
			name: "data file",
			args: []string{"-data", dataFile},
			want: &types.Entry{
				SpiffeId: id("example.org", "/blog"), ParentId: id("example.org", "/spire/agent/join_token/t"),
				Selectors: []*types.Selector{{Type: "unix", Value: "uid:111"}}, X509SvidTtl: 200,
			},
			wantOut: []string{"SPIFFE ID        : spiffe://example.org/blog\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, nil)
			args := append([]string{"entry", "create", "-socketPath", sock}, tc.args...)
			code, out, errOut := run(t, servercli.Options{}, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			req, _ := fake.last("BatchCreateEntry").(*entryv1.BatchCreateEntryRequest)
			if req == nil || len(req.Entries) != 1 {
				t.Fatalf("BatchCreateEntry request = %v, want one entry", req)
			}
			if !proto.Equal(req.Entries[0], tc.want) {
				t.Errorf("sent entry\n%v\nwant\n%v", req.Entries[0], tc.want)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantStderr)
			}
		})
	}
}

func TestEntryCreateJSONOutput(t *testing.T) {
	_, sock := startFake(t, nil)
	code, out, errOut := run(t, servercli.Options{}, "entry", "create", "-socketPath", sock, "-output", "json",
		"-spiffeID", "spiffe://example.org/w", "-parentID", "spiffe://example.org/h", "-selector", "unix:uid:1")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var resp entryv1.BatchCreateEntryResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("stdout is not protojson: %v\n%s", err, out)
	}
	if len(resp.Results) != 1 || resp.Results[0].GetEntry().GetId() != "id-0" {
		t.Errorf("decoded response %v, want one result with id-0", &resp)
	}
	if !strings.Contains(out, `"spiffe_id"`) {
		t.Errorf("JSON output does not use proto field names: %s", out)
	}
}

func TestEntryCreateFailedResult(t *testing.T) {
	_, sock := startFake(t, nil)
	code, _, errOut := run(t, servercli.Options{}, "entry", "create", "-socketPath", sock,
		"-spiffeID", "spiffe://example.org/dup", "-parentID", "spiffe://example.org/h", "-selector", "unix:uid:1")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, w := range []string{
		`Failed to create the following entry (code: AlreadyExists, msg: "similar entry already exists")`,
		"SPIFFE ID        : spiffe://example.org/dup",
		"Error: failed to create one or more entries",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestEntryFlagErrors(t *testing.T) {
	base := []string{"-spiffeID", "spiffe://example.org/w", "-parentID", "spiffe://example.org/h", "-selector", "unix:uid:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing spiffeID", []string{"entry", "create", "-parentID", "spiffe://example.org/h", "-selector", "unix:uid:1"},
			"Error: -spiffeID is required"},
		{"missing parent", []string{"entry", "create", "-spiffeID", "spiffe://example.org/w", "-selector", "unix:uid:1"},
			"Error: -parentID is required unless -node is set"},
		{"missing selector", []string{"entry", "create", "-spiffeID", "spiffe://example.org/w", "-node"},
			"Error: at least one -selector is required"},
		{"bad selector", append([]string{"entry", "create", "-selector", "unix"}, base...),
			`Error: invalid selector "unix"`},
		{"bad spiffeID", []string{"entry", "create", "-spiffeID", "example.org/w", "-parentID", "spiffe://example.org/h", "-selector", "a:b"},
			`Error: invalid -spiffeID "example.org/w"`},
		{"bad parentID", []string{"entry", "create", "-spiffeID", "spiffe://example.org/w", "-parentID", "spiffe://Example.org/h", "-selector", "a:b"},
			`Error: invalid -parentID "spiffe://Example.org/h"`},
		{"negative ttl", append([]string{"entry", "create", "-x509SVIDTTL", "-5"}, base...),
			"Error: -x509SVIDTTL must not be negative"},
		{"ttl and x509SVIDTTL", append([]string{"entry", "create", "-x509SVIDTTL", "5", "-ttl", "6"}, base...),
			"Error: use -x509SVIDTTL or the deprecated -ttl, not both"},
		{"node federates", []string{"entry", "create", "-node", "-spiffeID", "spiffe://example.org/w", "-selector", "a:b", "-federatesWith", "spiffe://o.org"},
			"Error: -node entries cannot use -federatesWith"},
		{"ttl not a number", append([]string{"entry", "create", "-x509SVIDTTL", "1h"}, base...),
			`Error: invalid argument "1h" for "--x509SVIDTTL"`},
		{"bad output", append([]string{"entry", "create", "-output", "yaml"}, base...),
			`Error: invalid -output "yaml": want pretty or json`},
		{"unknown flag", append([]string{"entry", "create", "-spifeID", "x"}, base...),
			"Error: unknown flag: --spifeID"},
		{"update without entryID", append([]string{"entry", "update"}, base...),
			"Error: -entryID is required"},
		{"delete without entryID", []string{"entry", "delete"},
			"Error: -entryID is required"},
		{"bad match mode", []string{"entry", "show", "-selector", "a:b", "-matchSelectorsOn", "most"},
			`Error: invalid -matchSelectorsOn "most"`},
		{"data file missing", []string{"entry", "create", "-data", "/nonexistent/e.json"},
			`Error: read -data "/nonexistent/e.json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, nil)
			args := append(append([]string{}, tc.args...), "-socketPath", sock)
			code, _, errOut := run(t, servercli.Options{}, args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q lacks %q", errOut, tc.want)
			}
			if n := fake.count(); n != 0 {
				t.Errorf("%d requests reached the server; flag errors must fail before dialing", n)
			}
		})
	}
}

func TestEntryShow(t *testing.T) {
	entries := []*types.Entry{
		{Id: "e1", SpiffeId: id("example.org", "/a"), ParentId: id("example.org", "/h"),
			Selectors: []*types.Selector{{Type: "unix", Value: "uid:1"}}, RevisionNumber: 2},
		{Id: "e2", SpiffeId: id("example.org", "/b"), ParentId: id("example.org", "/h"),
			Selectors: []*types.Selector{{Type: "unix", Value: "uid:2"}}, X509SvidTtl: 90},
	}
	seed := func(f *fakeAdmin) { f.entries = entries }

	t.Run("list with filters follows pages", func(t *testing.T) {
		fake, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "entry", "show", "-socketPath", sock,
			"-spiffeID", "spiffe://example.org/a", "-parentID", "spiffe://example.org/h",
			"-selector", "unix:uid:1", "-matchSelectorsOn", "exact", "-hint", "h", "-downstream=false")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if !strings.HasPrefix(out, "Found 2 entries\n\nEntry ID         : e1\n") ||
			!strings.Contains(out, "Entry ID         : e2\n") || !strings.Contains(out, "Revision         : 2\n") {
			t.Errorf("unexpected output:\n%s", out)
		}
		req, _ := fake.last("ListEntries").(*entryv1.ListEntriesRequest)
		want := &entryv1.ListEntriesRequest_Filter{
			BySpiffeId: id("example.org", "/a"), ByParentId: id("example.org", "/h"),
			BySelectors: &types.SelectorMatch{Selectors: []*types.Selector{{Type: "unix", Value: "uid:1"}},
				Match: types.SelectorMatch_MATCH_EXACT},
			ByHint: wrapperspb.String("h"), ByDownstream: wrapperspb.Bool(false),
		}
		if req == nil || !proto.Equal(req.Filter, want) {
			t.Errorf("filter sent %v, want %v", req.GetFilter(), want)
		}
		if req.GetPageToken() != "1" {
			t.Errorf("last page token %q, want 1 (second page)", req.GetPageToken())
		}
	})
	t.Run("by entry ID", func(t *testing.T) {
		fake, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "entry", "show", "-socketPath", sock, "-entryID", "e2")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if !strings.HasPrefix(out, "Found 1 entry\n\nEntry ID         : e2\n") || !strings.Contains(out, "X509-SVID TTL    : 90\n") {
			t.Errorf("unexpected output:\n%s", out)
		}
		if req, _ := fake.last("GetEntry").(*entryv1.GetEntryRequest); req.GetId() != "e2" {
			t.Errorf("GetEntry id %q, want e2", req.GetId())
		}
	})
	t.Run("unknown entry ID", func(t *testing.T) {
		_, sock := startFake(t, seed)
		code, _, errOut := run(t, servercli.Options{}, "entry", "show", "-socketPath", sock, "-entryID", "nope")
		if code != 1 || !strings.Contains(errOut, `get entry "nope"`) || !strings.Contains(errOut, "NotFound") {
			t.Errorf("exit %d stderr %q, want NotFound error", code, errOut)
		}
	})
	t.Run("json", func(t *testing.T) {
		_, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "entry", "show", "-socketPath", sock, "-output", "json")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		var resp entryv1.ListEntriesResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil || len(resp.Entries) != 2 {
			t.Errorf("JSON output %q: err %v, %d entries; want 2", out, err, len(resp.Entries))
		}
	})
	t.Run("count", func(t *testing.T) {
		fake, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "entry", "count", "-socketPath", sock, "-selector", "unix:uid:1")
		if code != 0 || out != "2 registration entries\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		req, _ := fake.last("CountEntries").(*entryv1.CountEntriesRequest)
		if req.GetFilter().GetBySelectors().GetMatch() != types.SelectorMatch_MATCH_SUPERSET {
			t.Errorf("count filter %v, want superset selector match", req.GetFilter())
		}
	})
}

func TestEntryUpdateAndDelete(t *testing.T) {
	t.Run("update", func(t *testing.T) {
		fake, sock := startFake(t, nil)
		code, out, errOut := run(t, servercli.Options{}, "entry", "update", "-socketPath", sock, "-entryID", "e1",
			"-spiffeID", "spiffe://example.org/a", "-parentID", "spiffe://example.org/h", "-selector", "unix:uid:9",
			"-jwtSVIDTTL", "120")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		req, _ := fake.last("BatchUpdateEntry").(*entryv1.BatchUpdateEntryRequest)
		want := &types.Entry{Id: "e1", SpiffeId: id("example.org", "/a"), ParentId: id("example.org", "/h"),
			Selectors: []*types.Selector{{Type: "unix", Value: "uid:9"}}, JwtSvidTtl: 120}
		if req == nil || len(req.Entries) != 1 || !proto.Equal(req.Entries[0], want) {
			t.Errorf("update sent %v, want %v", req, want)
		}
		if !strings.Contains(out, "Entry ID         : e1\n") || !strings.Contains(out, "Revision         : 1\n") {
			t.Errorf("unexpected output:\n%s", out)
		}
	})
	t.Run("delete", func(t *testing.T) {
		fake, sock := startFake(t, nil)
		code, out, errOut := run(t, servercli.Options{}, "entry", "delete", "-socketPath", sock, "-entryID", "e1")
		if code != 0 || out != "Deleted entry with ID: e1\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if req, _ := fake.last("BatchDeleteEntry").(*entryv1.BatchDeleteEntryRequest); len(req.GetIds()) != 1 || req.Ids[0] != "e1" {
			t.Errorf("delete sent %v, want [e1]", req)
		}
	})
	t.Run("delete missing", func(t *testing.T) {
		_, sock := startFake(t, nil)
		code, _, errOut := run(t, servercli.Options{}, "entry", "delete", "-socketPath", sock, "-entryID", "missing")
		if code != 1 || !strings.Contains(errOut, `delete entry "missing" (code: NotFound): entry not found`) {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
}

func TestServerUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	code, _, errOut := run(t, servercli.Options{}, "entry", "count", "-socketPath", sock)
	if code != 1 || !strings.Contains(errOut, "count entries:") || !strings.Contains(errOut, "Unavailable") {
		t.Errorf("exit %d stderr %q, want an Unavailable error", code, errOut)
	}
}
