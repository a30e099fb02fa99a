package server

import (
	"sync"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/protobuf/proto"
)

// setResponses memoises what the agent RPCs send for one authorized set:
// the (masked) API entries and the revision pages. A set is replaced
// whenever the entries revision or the agent's selectors change, so an
// agent polling with nothing changed gets the already-built messages and
// the server does no conversion work. The messages are shared by
// concurrent RPCs and never modified after they are built.
type setResponses struct {
	mu       sync.Mutex
	byMask   map[maskKey]*maskedSet
	revPages []*entryv1.SyncAuthorizedEntriesResponse
	pageSize int
}

// maskKey identifies an EntryMask by the fields it selects; noMask stands
// for a nil mask (every field).
type maskKey uint32

const noMask maskKey = 1 << 31

func keyOfMask(m *types.EntryMask) maskKey {
	if m == nil {
		return noMask
	}
	var k maskKey
	for i, set := range []bool{
		m.SpiffeId, m.ParentId, m.Selectors, m.X509SvidTtl, m.JwtSvidTtl, m.FederatesWith, m.Admin,
		m.Downstream, m.ExpiresAt, m.DnsNames, m.RevisionNumber, m.StoreSvid, m.Hint, m.CreatedAt,
	} {
		if set {
			k |= 1 << i
		}
	}
	return k
}

// maskedEntries returns the set's entries in API form limited to mask, in
// the order of s.entries.
func (s *authorizedSet) maskedEntries(mask *types.EntryMask) []*types.Entry {
	return s.masked(mask).entries
}

// maskedSet is a set's entries in API form under one mask, with their
// encoded sizes, which decide how they are paged.
type maskedSet struct {
	entries []*types.Entry
	sizes   []int
	total   int
}

// masked returns the set's entries under mask with their sizes, built on
// first use.
func (s *authorizedSet) masked(mask *types.EntryMask) *maskedSet {
	key := keyOfMask(mask)
	r := &s.responses
	r.mu.Lock()
	defer r.mu.Unlock()
	if out, ok := r.byMask[key]; ok {
		return out
	}
	out := &maskedSet{entries: make([]*types.Entry, len(s.entries)), sizes: make([]int, len(s.entries))}
	for i, ce := range s.entries {
		out.entries[i] = maskEntry(ce.proto, mask)
		out.sizes[i] = proto.Size(out.entries[i])
		out.total += out.sizes[i]
	}
	if r.byMask == nil {
		r.byMask = make(map[maskKey]*maskedSet)
	}
	r.byMask[key] = out
	return out
}

// revisionPages returns the SyncAuthorizedEntries revision pages of the
// set for the given page size.
func (s *authorizedSet) revisionPages(page int) []*entryv1.SyncAuthorizedEntriesResponse {
	r := &s.responses
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revPages != nil && r.pageSize == page {
		return r.revPages
	}
	var pages []*entryv1.SyncAuthorizedEntriesResponse
	for start := 0; start < len(s.entries); start += page {
		end := min(start+page, len(s.entries))
		revs := make([]*entryv1.EntryRevision, 0, end-start)
		for _, ce := range s.entries[start:end] {
			revs = append(revs, &entryv1.EntryRevision{
				Id: ce.entry.ID, RevisionNumber: ce.entry.RevisionNumber, CreatedAt: ce.entry.CreatedAt,
			})
		}
		pages = append(pages, &entryv1.SyncAuthorizedEntriesResponse{EntryRevisions: revs, More: end < len(s.entries)})
	}
	r.revPages, r.pageSize = pages, page
	return pages
}
