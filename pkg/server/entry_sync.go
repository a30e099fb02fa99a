package server

import (
	"context"
	"errors"
	"io"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// callerAuthorized returns the calling agent's authorized entry set.
func (s *entryService) callerAuthorized(ctx context.Context) (*authorizedSet, error) {
	agent, err := requireAgent(ctx)
	if err != nil {
		return nil, err
	}
	return s.authorizedFor(ctx, agent)
}

// authorizedFor returns the authorized entry set of agent.
func (d *deps) authorizedFor(ctx context.Context, agent *datastore.Agent) (*authorizedSet, error) {
	_, set, err := d.authorizedIn(ctx, agent)
	return set, err
}

// authorizedIn returns the authorized entry set of agent and the snapshot
// it was computed from.
func (d *deps) authorizedIn(ctx context.Context, agent *datastore.Agent) (*entrySnapshot, *authorizedSet, error) {
	snap, err := d.cache.snapshot(ctx)
	if err != nil {
		return nil, nil, internalStatus("load entries: %w", err)
	}
	return snap, snap.authorizedFor(agent.SPIFFEID, d.serverID.String(), agent.Selectors, d.cfg.Clock.Now()), nil
}

// GetAuthorizedEntries returns every entry the calling agent is authorized
// for.
func (s *entryService) GetAuthorizedEntries(ctx context.Context, req *entryv1.GetAuthorizedEntriesRequest) (*entryv1.GetAuthorizedEntriesResponse, error) {
	set, err := s.callerAuthorized(ctx)
	if err != nil {
		return nil, err
	}
	return &entryv1.GetAuthorizedEntriesResponse{Entries: set.maskedEntries(req.OutputMask)}, nil
}

// SyncAuthorizedEntries streams the caller's authorized entries following
// the protocol documented in entry.proto: fewer entries than the page size
// are sent in full at once; otherwise the revisions are paged down and the
// caller then asks for the IDs it needs, which are paged down in full.
//
// svidkit extension: the response header entriesDigestHeader carries the
// digest of the caller's authorized set, bundlesDigestHeader that of the
// bundles it fetches; a caller that sends them back as waitDigestKey and
// waitBundlesDigestKey metadata is held until either changes (see
// holdSync).
// Calls without that metadata are answered at once, as SPIRE does.
func (s *entryService) SyncAuthorizedEntries(stream entryv1.Entry_SyncAuthorizedEntriesServer) error {
	ctx := stream.Context()
	agent, err := requireAgent(ctx)
	if err != nil {
		return err
	}
	w, err := waitParams(ctx)
	if err != nil {
		return err
	}
	if w.entries != "" {
		if agent, err = s.holdSync(ctx, agent, w); err != nil {
			return err
		}
	}
	set, err := s.authorizedFor(ctx, agent)
	if err != nil {
		return err
	}
	hdr := metadata.Pairs(entriesDigestHeader, set.digestHex())
	if d := s.bundlesDigest(ctx, set); d != "" {
		hdr.Set(bundlesDigestHeader, d)
	}
	if err := stream.SetHeader(hdr); err != nil {
		return err
	}
	req, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if len(req.Ids) > 0 {
		return status.Error(codes.InvalidArgument, "ids: must not be set on the initial request")
	}
	mask := req.OutputMask
	if mask != nil {
		// Callers need the revision to detect updated entries.
		mask = proto.Clone(mask).(*types.EntryMask)
		mask.RevisionNumber = true
	}
	page := s.cfg.EntryPageSize
	// Full mode is a single message: SPIRE agents read only the first
	// response of it. A set too large for one message goes the paged
	// revision way even when it has few entries.
	if m := set.masked(mask); fitsOnePage(len(m.entries), m.total, page) {
		return stream.Send(&entryv1.SyncAuthorizedEntriesResponse{Entries: m.entries})
	}
	for _, resp := range set.revisionPages(page) {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sendRequested(stream, set, req.Ids, mask, page); err != nil {
			return err
		}
	}
}

// sendRequested pages down the requested entries, at most page entries
// and maxPageBytes per message; IDs outside the authorized set are
// skipped.
func sendRequested(stream entryv1.Entry_SyncAuthorizedEntriesServer, set *authorizedSet, ids []string, mask *types.EntryMask, page int) error {
	m := set.masked(mask)
	p := pager{count: page}
	for _, id := range ids {
		j, ok := set.index[id]
		if !ok {
			continue
		}
		if full := p.add(m.entries[j], m.sizes[j]); full != nil {
			if err := stream.Send(&entryv1.SyncAuthorizedEntriesResponse{Entries: full, More: true}); err != nil {
				return err
			}
		}
	}
	return stream.Send(&entryv1.SyncAuthorizedEntriesResponse{Entries: p.page})
}
