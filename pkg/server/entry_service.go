package server

import (
	"context"
	"errors"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// entryService implements spire.api.server.entry.v1.Entry.
type entryService struct {
	entryv1.UnimplementedEntryServer
	*deps
}

func okStatus() *types.Status { return &types.Status{Code: int32(codes.OK), Message: "OK"} }

func errStatus(code codes.Code, msg string) *types.Status {
	return &types.Status{Code: int32(code), Message: msg}
}

// BatchCreateEntry creates entries; each result carries its own status.
func (s *entryService) BatchCreateEntry(ctx context.Context, req *entryv1.BatchCreateEntryRequest) (*entryv1.BatchCreateEntryResponse, error) {
	resp := &entryv1.BatchCreateEntryResponse{Results: make([]*entryv1.BatchCreateEntryResponse_Result, len(req.Entries))}
	defer s.cache.invalidate()
	for i, in := range req.Entries {
		resp.Results[i] = s.createEntry(ctx, in, req.OutputMask)
	}
	return resp, nil
}

func (s *entryService) createEntry(ctx context.Context, in *types.Entry, mask *types.EntryMask) *entryv1.BatchCreateEntryResponse_Result {
	e, err := entryFromProto(in, s.cfg.TrustDomain)
	if err != nil {
		return &entryv1.BatchCreateEntryResponse_Result{Status: errStatus(codes.InvalidArgument, "failed to convert entry: "+err.Error())}
	}
	e.RevisionNumber = 0
	created, err := s.cfg.Store.CreateEntry(ctx, e)
	if errors.Is(err, datastore.ErrAlreadyExists) {
		res := &entryv1.BatchCreateEntryResponse_Result{Status: errStatus(codes.AlreadyExists, "similar entry already exists")}
		if existing := s.findSimilar(ctx, e); existing != nil {
			res.Entry = maskEntry(protoEntry(existing), mask)
		}
		return res
	}
	if err != nil {
		return &entryv1.BatchCreateEntryResponse_Result{Status: errStatus(storeCode(err), "failed to create entry: "+err.Error())}
	}
	return &entryv1.BatchCreateEntryResponse_Result{Status: okStatus(), Entry: maskEntry(protoEntry(created), mask)}
}

// findSimilar returns the stored entry with e's ID, or with the same
// SPIFFE ID, parent ID and selectors.
func (s *entryService) findSimilar(ctx context.Context, e *datastore.Entry) *datastore.Entry {
	if e.ID != "" {
		if got, err := s.cfg.Store.GetEntry(ctx, e.ID); err == nil {
			return got
		}
	}
	list, err := s.cfg.Store.ListEntries(ctx, datastore.EntryFilter{
		SPIFFEID: e.SPIFFEID, ParentID: e.ParentID, Selectors: e.Selectors, SelectorMatch: datastore.MatchExact,
	})
	if err != nil || len(list) == 0 {
		return nil
	}
	return list[0]
}

// BatchUpdateEntry updates the fields named by the input mask (all fields
// when it is absent).
func (s *entryService) BatchUpdateEntry(ctx context.Context, req *entryv1.BatchUpdateEntryRequest) (*entryv1.BatchUpdateEntryResponse, error) {
	resp := &entryv1.BatchUpdateEntryResponse{Results: make([]*entryv1.BatchUpdateEntryResponse_Result, len(req.Entries))}
	defer s.cache.invalidate()
	for i, in := range req.Entries {
		resp.Results[i] = s.updateEntry(ctx, in, req.InputMask, req.OutputMask)
	}
	return resp, nil
}

func (s *entryService) updateEntry(ctx context.Context, in *types.Entry, inMask, outMask *types.EntryMask) *entryv1.BatchUpdateEntryResponse_Result {
	fail := func(code codes.Code, msg string) *entryv1.BatchUpdateEntryResponse_Result {
		return &entryv1.BatchUpdateEntryResponse_Result{Status: errStatus(code, msg)}
	}
	if in.GetId() == "" {
		return fail(codes.InvalidArgument, "id: is required")
	}
	current, err := s.cfg.Store.GetEntry(ctx, in.Id)
	if err != nil {
		return fail(storeCode(err), "failed to get entry "+in.Id+": "+err.Error())
	}
	merged := mergeEntry(protoEntry(current), in, inMask)
	e, err := entryFromProto(merged, s.cfg.TrustDomain)
	if err != nil {
		return fail(codes.InvalidArgument, "failed to convert entry: "+err.Error())
	}
	e.CreatedAt = current.CreatedAt
	e.RevisionNumber = current.RevisionNumber
	updated, err := s.cfg.Store.UpdateEntry(ctx, e)
	if err != nil {
		return fail(storeCode(err), "failed to update entry: "+err.Error())
	}
	return &entryv1.BatchUpdateEntryResponse_Result{Status: okStatus(), Entry: maskEntry(protoEntry(updated), outMask)}
}

// mergeEntry overlays the fields of in selected by m (all when nil) onto cur.
func mergeEntry(cur, in *types.Entry, m *types.EntryMask) *types.Entry {
	all := m == nil
	if all || m.SpiffeId {
		cur.SpiffeId = in.SpiffeId
	}
	if all || m.ParentId {
		cur.ParentId = in.ParentId
	}
	if all || m.Selectors {
		cur.Selectors = in.Selectors
	}
	if all || m.X509SvidTtl {
		cur.X509SvidTtl = in.X509SvidTtl
	}
	if all || m.JwtSvidTtl {
		cur.JwtSvidTtl = in.JwtSvidTtl
	}
	if all || m.FederatesWith {
		cur.FederatesWith = in.FederatesWith
	}
	if all || m.Admin {
		cur.Admin = in.Admin
	}
	if all || m.Downstream {
		cur.Downstream = in.Downstream
	}
	if all || m.ExpiresAt {
		cur.ExpiresAt = in.ExpiresAt
	}
	if all || m.DnsNames {
		cur.DnsNames = in.DnsNames
	}
	if all || m.Hint {
		cur.Hint = in.Hint
	}
	if all || m.StoreSvid {
		cur.StoreSvid = in.StoreSvid
	}
	return cur
}

// BatchDeleteEntry deletes entries by ID.
func (s *entryService) BatchDeleteEntry(ctx context.Context, req *entryv1.BatchDeleteEntryRequest) (*entryv1.BatchDeleteEntryResponse, error) {
	resp := &entryv1.BatchDeleteEntryResponse{Results: make([]*entryv1.BatchDeleteEntryResponse_Result, len(req.Ids))}
	defer s.cache.invalidate()
	for i, id := range req.Ids {
		res := &entryv1.BatchDeleteEntryResponse_Result{Id: id, Status: okStatus()}
		if id == "" {
			res.Status = errStatus(codes.InvalidArgument, "id: is required")
		} else if _, err := s.cfg.Store.DeleteEntry(ctx, id); err != nil {
			res.Status = errStatus(storeCode(err), "failed to delete entry: "+err.Error())
		}
		resp.Results[i] = res
	}
	return resp, nil
}

// GetEntry returns one entry.
func (s *entryService) GetEntry(ctx context.Context, req *entryv1.GetEntryRequest) (*types.Entry, error) {
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "id: is required")
	}
	e, err := s.cfg.Store.GetEntry(ctx, req.Id)
	if err != nil {
		return nil, storeStatus(err, "get entry %q", req.Id)
	}
	return maskEntry(protoEntry(e), req.OutputMask), nil
}
