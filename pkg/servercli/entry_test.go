package servercli_test

import (
	"strings"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/servercli"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func id(td, path string) *types.SPIFFEID { return &types.SPIFFEID{TrustDomain: td, Path: path} }

// TestEntryFlagErrors uses the recording fake to prove that bad flags fail
// before any request reaches a server. Every command's success and
// server-side failures are tested against the real server in
// internal/e2e (TestServerCLI).
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

// TestEntryShowPagesAndFilters injects paging the real server does only
// past 4 MiB of entries (one entry per page here) and checks the filter
// each flag puts in the request.
func TestEntryShowPagesAndFilters(t *testing.T) {
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
}
