package server

import (
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// maxPageBytes bounds the encoded entries of one response message that
// carries entries (SyncAuthorizedEntries, ListEntries). gRPC clients
// refuse messages over 4 MiB by default, and an agent that cannot receive
// its entries never learns of new ones or of deletions (issue 10, finding
// 6). Half of that leaves room for the message framing; the entry size
// limits (datastore.MaxEntrySelectors and the others) keep any single
// entry far below it, so a page always holds at least one entry.
const maxPageBytes = 2 << 20

// pager cuts a stream of entries into pages of at most count entries and
// maxPageBytes encoded bytes.
type pager struct {
	count int
	page  []*types.Entry
	bytes int
}

// add appends e, of encoded size size, and returns the page completed
// before it, if adding e would have made that page too large.
func (p *pager) add(e *types.Entry, size int) (full []*types.Entry) {
	if len(p.page) > 0 && (len(p.page) >= p.count || p.bytes+size > maxPageBytes) {
		full = p.page
		p.page, p.bytes = nil, 0
	}
	p.page = append(p.page, e)
	p.bytes += size
	return full
}

// fitsOnePage reports whether n entries of total encoded size may be sent
// in a single response, under both the page size count and maxPageBytes.
func fitsOnePage(n, total, count int) bool {
	return n < count && total <= maxPageBytes
}
