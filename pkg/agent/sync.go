package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/selector"
)

// syncEntries learns the authorized entries with SyncAuthorizedEntries and
// replaces the cache's entries with them. With few entries the server sends
// them all; with many it sends revisions first and the agent asks only for
// the entries that are new or changed.
//
// With a non-empty wait.entries (the digest of the last response) an
// svidkit server holds the call until the agent's entries change (or, with
// wait.bundles, its bundles) or its wait ends; the call's deadline then
// allows for the wait. It returns the digests the server sent with this
// response, empty from servers without the extension (SPIRE), and whether
// the cached entries changed. opts apply to the call (WaitForReady when
// failing over).
func (a *Agent) syncEntries(ctx context.Context, wait syncDigests, opts ...grpc.CallOption) (digests syncDigests, changed bool, err error) {
	conn, err := a.client()
	if err != nil {
		return syncDigests{}, false, err
	}
	timeout := iterationTimeout
	if wait.entries != "" {
		timeout = a.cfg.SyncWait + syncWaitMargin
		ctx = metadata.AppendToOutgoingContext(ctx,
			waitDigestKey, wait.entries,
			waitTimeoutKey, strconv.FormatInt(a.cfg.SyncWait.Milliseconds(), 10))
		if wait.bundles != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, waitBundlesDigestKey, wait.bundles)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := entryv1.NewEntryClient(conn)
	stream, err := client.SyncAuthorizedEntries(ctx, opts...)
	if err != nil {
		return syncDigests{}, false, fmt.Errorf("sync entries: open stream: %w", err)
	}
	// A Send that fails with io.EOF means the server already ended the
	// call; the Recv below returns its status, which the caller needs
	// (PermissionDenied makes the agent attest again).
	if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{}); err != nil && !errors.Is(err, io.EOF) {
		return syncDigests{}, false, fmt.Errorf("sync entries: send: %w", err)
	}
	resp, err := stream.Recv()
	if status.Code(err) == codes.Unimplemented {
		return syncDigests{}, true, a.fetchEntries(ctx, client)
	}
	if err != nil {
		return syncDigests{}, false, fmt.Errorf("sync entries: %w", err)
	}
	if hdr, err := stream.Header(); err == nil {
		digests = syncDigests{entries: firstValue(hdr, entriesDigestHeader), bundles: firstValue(hdr, bundlesDigestHeader)}
	}
	changed, err = a.applySync(stream, resp)
	return digests, changed, err
}

// firstValue returns the first value of key in md, or "".
func firstValue(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// applySync reads the rest of a sync whose first response is resp and
// updates the cache, reporting whether the entries changed.
func (a *Agent) applySync(stream entryv1.Entry_SyncAuthorizedEntriesClient, resp *entryv1.SyncAuthorizedEntriesResponse) (bool, error) {
	var err error
	var pbEntries []*types.Entry
	if len(resp.GetEntryRevisions()) == 0 {
		// Full mode: every authorized entry, possibly over several pages.
		pbEntries = resp.GetEntries()
		for resp.GetMore() {
			if resp, err = stream.Recv(); err != nil {
				return false, fmt.Errorf("sync entries: %w", err)
			}
			pbEntries = append(pbEntries, resp.GetEntries()...)
		}
		_ = stream.CloseSend()
		if a.unchanged(pbEntries) {
			return false, nil
		}
		a.setEntries(pbEntries, nil)
		return true, nil
	}

	// Revision mode: collect every revision, then fetch what changed, a
	// page at a time with the server's page size (that of its first page).
	revs := resp.GetEntryRevisions()
	pageSize := len(revs)
	for resp.GetMore() {
		if resp, err = stream.Recv(); err != nil {
			return false, fmt.Errorf("sync entries: %w", err)
		}
		revs = append(revs, resp.GetEntryRevisions()...)
	}
	// Compare in place first: with nothing changed, the usual case every
	// sync interval, the round allocates nothing per entry. Entry IDs are
	// unique, so matching as many revisions as the cache holds entries
	// means that none was removed either.
	var want []string
	matched := 0
	for _, r := range revs {
		if rev, created, ok := a.cache.Revision(r.GetId()); ok && !stale(rev, created, r) {
			matched++
			continue
		}
		want = append(want, r.GetId())
	}
	if len(want) == 0 && matched == a.cache.Len() {
		_ = stream.CloseSend()
		return false, nil
	}
	keep := a.keptEntries(revs)
	slices.Sort(want)
	for len(want) > 0 {
		n := min(len(want), pageSize)
		if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{Ids: want[:n]}); err != nil {
			return false, fmt.Errorf("sync entries: request entries: %w", err)
		}
		want = want[n:]
		for {
			if resp, err = stream.Recv(); err != nil {
				return false, fmt.Errorf("sync entries: %w", err)
			}
			pbEntries = append(pbEntries, resp.GetEntries()...)
			if !resp.GetMore() {
				break
			}
		}
	}
	_ = stream.CloseSend()
	a.setEntries(pbEntries, keep)
	return true, nil
}

// stale reports whether a cached entry with the given revision number and
// creation time differs from the server's revision. An entry deleted and
// recreated under the same ID may restart its revision numbers, so a
// different creation time also makes it stale.
func stale(revision int64, createdAt time.Time, r *entryv1.EntryRevision) bool {
	if revision != r.GetRevisionNumber() {
		return true
	}
	return r.GetCreatedAt() != 0 && createdAt.Unix() != r.GetCreatedAt()
}

// keptEntries returns the cached entries that revs still list unchanged.
func (a *Agent) keptEntries(revs []*entryv1.EntryRevision) map[string]cache.Entry {
	known := make(map[string]cache.Entry, a.cache.Len())
	for _, e := range a.cache.Entries() {
		known[e.ID] = e
	}
	keep := make(map[string]cache.Entry, len(revs))
	for _, r := range revs {
		if e, ok := known[r.GetId()]; ok && !stale(e.RevisionNumber, e.CreatedAt, r) {
			keep[e.ID] = e
		}
	}
	return keep
}

// unchanged reports whether a full set of entries from the server is the
// one the cache holds: same IDs, revisions and creation times, none
// expired. It compares in place, so an unchanged set costs no conversion.
func (a *Agent) unchanged(pbEntries []*types.Entry) bool {
	if len(pbEntries) != a.cache.Len() {
		return false
	}
	now := a.cfg.Clock.Now().Unix()
	for _, pb := range pbEntries {
		rev, created, ok := a.cache.Revision(pb.GetId())
		if !ok || rev != pb.GetRevisionNumber() || created.Unix() != pb.GetCreatedAt() {
			return false
		}
		if exp := pb.GetExpiresAt(); exp != 0 && now >= exp {
			return false
		}
	}
	return true
}

// fetchEntries gets every authorized entry with GetAuthorizedEntries, for
// servers without SyncAuthorizedEntries.
func (a *Agent) fetchEntries(ctx context.Context, client entryv1.EntryClient) error {
	resp, err := client.GetAuthorizedEntries(ctx, &entryv1.GetAuthorizedEntriesRequest{})
	if err != nil {
		return fmt.Errorf("get authorized entries: %w", err)
	}
	a.setEntries(resp.GetEntries(), nil)
	return nil
}

// setEntries converts the received entries, adds the unchanged kept ones and
// hands the full set to the cache. Invalid or expired entries are skipped
// with a warning naming the entry.
func (a *Agent) setEntries(pbEntries []*types.Entry, keep map[string]cache.Entry) {
	now := a.cfg.Clock.Now()
	entries := make([]cache.Entry, 0, len(pbEntries)+len(keep))
	for _, e := range keep {
		entries = append(entries, e)
	}
	for _, pb := range pbEntries {
		e, err := entryFromProto(pb)
		if err != nil {
			a.log.Warn("ignoring invalid entry", "entry_id", pb.GetId(), "error", err)
			continue
		}
		if exp := pb.GetExpiresAt(); exp != 0 && !now.Before(time.Unix(exp, 0)) {
			continue
		}
		entries = append(entries, e)
	}
	a.cache.SetEntries(entries)
	a.metrics.entries.Set(float64(len(entries)))
}

// entryFromProto converts an API entry, validating the fields the agent uses.
func entryFromProto(pb *types.Entry) (cache.Entry, error) {
	if pb.GetId() == "" {
		return cache.Entry{}, errors.New("entry has no id")
	}
	id, err := idFromProto(pb.GetSpiffeId())
	if err != nil {
		return cache.Entry{}, fmt.Errorf("spiffe_id: %w", err)
	}
	parent, err := idFromProto(pb.GetParentId())
	if err != nil {
		return cache.Entry{}, fmt.Errorf("parent_id: %w", err)
	}
	sels := make([]selector.Selector, 0, len(pb.GetSelectors()))
	for _, s := range pb.GetSelectors() {
		sel := selector.Selector{Type: s.GetType(), Value: s.GetValue()}
		if err := sel.Validate(); err != nil {
			return cache.Entry{}, fmt.Errorf("selectors: %w", err)
		}
		sels = append(sels, sel)
	}
	feds := make([]spiffeid.TrustDomain, 0, len(pb.GetFederatesWith()))
	for _, f := range pb.GetFederatesWith() {
		td, err := spiffeid.TrustDomainFromString(f)
		if err != nil {
			return cache.Entry{}, fmt.Errorf("federates_with %q: %w", f, err)
		}
		feds = append(feds, td)
	}
	return cache.Entry{
		ID:             pb.GetId(),
		SPIFFEID:       id,
		ParentID:       parent,
		Selectors:      selector.NewSet(sels...),
		FederatesWith:  feds,
		DNSNames:       pb.GetDnsNames(),
		Hint:           pb.GetHint(),
		RevisionNumber: pb.GetRevisionNumber(),
		CreatedAt:      time.Unix(pb.GetCreatedAt(), 0),
		X509SVIDTTL:    pb.GetX509SvidTtl(),
		JWTSVIDTTL:     pb.GetJwtSvidTtl(),
	}, nil
}

// idFromProto converts an API SPIFFE ID.
func idFromProto(pb *types.SPIFFEID) (spiffeid.ID, error) {
	if pb == nil {
		return spiffeid.ID{}, errors.New("missing")
	}
	td, err := spiffeid.TrustDomainFromString(pb.GetTrustDomain())
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("trust domain: %w", err)
	}
	id, err := spiffeid.FromPath(td, pb.GetPath())
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("path: %w", err)
	}
	return id, nil
}
