package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
)

// Entry is a registration entry to create, in the terms of
// `svidkit-server entry create`.
type Entry struct {
	// Path is the SPIFFE ID's path; required.
	Path string
	// ParentPath defaults to NodePath: a workload of the Env's agent.
	ParentPath string
	// Selectors are "type:value" strings, such as "unix:uid:1000".
	Selectors []string
	// DNSNames go into the X.509-SVID; the first one is also its subject
	// common name.
	DNSNames []string
	// Hint tells apart the SVIDs served to one workload.
	Hint string
	// X509TTL is the X.509-SVID lifetime; 0 uses the server's default.
	// Whole seconds, as the API carries it.
	X509TTL time.Duration
}

// proto converts e to the API type.
func (e Entry) proto(td string) (*types.Entry, error) {
	parent := e.ParentPath
	if parent == "" {
		parent = NodePath
	}
	out := &types.Entry{
		SpiffeId:    &types.SPIFFEID{TrustDomain: td, Path: e.Path},
		ParentId:    &types.SPIFFEID{TrustDomain: td, Path: parent},
		DnsNames:    e.DNSNames,
		Hint:        e.Hint,
		X509SvidTtl: int32(e.X509TTL / time.Second),
	}
	for _, s := range e.Selectors {
		typ, value, ok := strings.Cut(s, ":")
		if !ok || typ == "" || value == "" {
			return nil, fmt.Errorf("selector %q: want type:value", s)
		}
		out.Selectors = append(out.Selectors, &types.Selector{Type: typ, Value: value})
	}
	return out, nil
}

// CreateEntry creates e and returns its entry ID.
func (s *Server) CreateEntry(t testing.TB, e Entry) string {
	t.Helper()
	p, err := e.proto(s.td.Name())
	if err != nil {
		t.Fatalf("testenv: entry %s: %v", e.Path, err)
	}
	resp, err := entryv1.NewEntryClient(s.Admin).BatchCreateEntry(callCtx(t), &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{p}})
	if err != nil {
		t.Fatalf("testenv: BatchCreateEntry %s: %v", e.Path, err)
	}
	r := resp.Results[0]
	if codes.Code(r.Status.Code) != codes.OK {
		t.Fatalf("testenv: BatchCreateEntry %s: %s", e.Path, r.Status.Message)
	}
	return r.Entry.Id
}

// UID is the selector of a unix uid, for Entry.Selectors.
func UID(uid int) string { return fmt.Sprintf("unix:uid:%d", uid) }
