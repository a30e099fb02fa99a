package testenv

import (
	"fmt"
	"slices"
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
	// ParentPath defaults to NodePath: a workload of Start's agent.
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
	// FederatesWith names the trust domains whose bundles the entry's
	// workloads receive.
	FederatesWith []string
}

// Proto converts e to the API type for the trust domain td.
func (e Entry) Proto(td string) (*types.Entry, error) {
	parent := e.ParentPath
	if parent == "" {
		parent = NodePath
	}
	out := &types.Entry{
		SpiffeId:      &types.SPIFFEID{TrustDomain: td, Path: e.Path},
		ParentId:      &types.SPIFFEID{TrustDomain: td, Path: parent},
		DnsNames:      e.DNSNames,
		Hint:          e.Hint,
		X509SvidTtl:   int32(e.X509TTL / time.Second),
		FederatesWith: e.FederatesWith,
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
func (a *Admin) CreateEntry(t testing.TB, e Entry) string {
	t.Helper()
	p, err := e.Proto(a.td.Name())
	if err != nil {
		t.Fatalf("testenv: entry %s: %v", e.Path, err)
	}
	return a.CreateEntries(t, []*types.Entry{p})[0].Id
}

// CreateEntries creates entries as given, in batches of 100, and returns
// them as stored (with their IDs).
func (a *Admin) CreateEntries(t testing.TB, entries []*types.Entry) []*types.Entry {
	t.Helper()
	client := entryv1.NewEntryClient(a.conn)
	out := make([]*types.Entry, 0, len(entries))
	for batch := range slices.Chunk(entries, 100) {
		ctx, cancel := callCtx()
		resp, err := client.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: batch})
		cancel()
		if err != nil {
			t.Fatalf("testenv: BatchCreateEntry: %v", err)
		}
		for i, r := range resp.Results {
			if codes.Code(r.Status.Code) != codes.OK {
				t.Fatalf("testenv: BatchCreateEntry %s: %s", batch[i].GetSpiffeId().GetPath(), r.Status.Message)
			}
			out = append(out, r.Entry)
		}
	}
	return out
}

// DeleteEntry deletes the entry with id.
func (a *Admin) DeleteEntry(t testing.TB, id string) {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	resp, err := entryv1.NewEntryClient(a.conn).BatchDeleteEntry(ctx, &entryv1.BatchDeleteEntryRequest{Ids: []string{id}})
	if err != nil {
		t.Fatalf("testenv: BatchDeleteEntry %s: %v", id, err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK {
		t.Fatalf("testenv: BatchDeleteEntry %s: %s", id, r.Status.Message)
	}
}

// SetDNSNames replaces the DNS names of the entry with id, which makes
// agents mint a new SVID for it at their next sync.
func (a *Admin) SetDNSNames(t testing.TB, id string, names ...string) {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	resp, err := entryv1.NewEntryClient(a.conn).BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{
		Entries:   []*types.Entry{{Id: id, DnsNames: names}},
		InputMask: &types.EntryMask{DnsNames: true},
	})
	if err != nil {
		t.Fatalf("testenv: BatchUpdateEntry %s: %v", id, err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK {
		t.Fatalf("testenv: BatchUpdateEntry %s: %s", id, r.Status.Message)
	}
}

// UID is the selector of a unix uid, for Entry.Selectors.
func UID(uid int) string { return fmt.Sprintf("unix:uid:%d", uid) }
