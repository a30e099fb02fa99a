package server

import (
	"context"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// entryListFilter is what the list and count filters have in common.
type entryListFilter interface {
	GetBySpiffeId() *types.SPIFFEID
	GetByParentId() *types.SPIFFEID
	GetBySelectors() *types.SelectorMatch
	GetByFederatesWith() *types.FederatesWithMatch
	GetByHint() *wrapperspb.StringValue
	GetByDownstream() *wrapperspb.BoolValue
}

// listFiltered returns the entries matching f (nil: all), ordered by ID.
func (s *entryService) listFiltered(ctx context.Context, f entryListFilter) ([]*datastore.Entry, error) {
	var df datastore.EntryFilter
	var fed *types.FederatesWithMatch
	if f != nil {
		if f.GetBySpiffeId() != nil {
			id, err := parseProtoID("filter.by_spiffe_id", f.GetBySpiffeId())
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			df.SPIFFEID = id.String()
		}
		if f.GetByParentId() != nil {
			id, err := parseProtoID("filter.by_parent_id", f.GetByParentId())
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			df.ParentID = id.String()
		}
		if m := f.GetBySelectors(); m != nil {
			if len(m.Selectors) == 0 {
				return nil, status.Error(codes.InvalidArgument, "filter.by_selectors: at least one selector is required")
			}
			sels, err := parseSelectors("filter.by_selectors.selectors", m.Selectors)
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			df.Selectors = sels
			switch m.Match {
			case types.SelectorMatch_MATCH_EXACT:
				df.SelectorMatch = datastore.MatchExact
			case types.SelectorMatch_MATCH_SUBSET:
				df.SelectorMatch = datastore.MatchSubset
			case types.SelectorMatch_MATCH_SUPERSET:
				df.SelectorMatch = datastore.MatchSuperset
			case types.SelectorMatch_MATCH_ANY:
				df.SelectorMatch = datastore.MatchAny
			default:
				return nil, status.Errorf(codes.InvalidArgument, "filter.by_selectors.match: unknown match behavior %d", m.Match)
			}
		}
		if h := f.GetByHint(); h != nil {
			df.Hint = h.Value
		}
		if d := f.GetByDownstream(); d != nil {
			v := d.Value
			df.Downstream = &v
		}
		if m := f.GetByFederatesWith(); m != nil {
			if len(m.TrustDomains) == 0 {
				return nil, status.Error(codes.InvalidArgument, "filter.by_federates_with: at least one trust domain is required")
			}
			names := make([]string, len(m.TrustDomains))
			for i, name := range m.TrustDomains {
				td, err := spiffeid.TrustDomainFromString(name)
				if err != nil {
					return nil, status.Errorf(codes.InvalidArgument, "filter.by_federates_with.trust_domains[%d]: %q: %v", i, name, err)
				}
				names[i] = td.Name()
			}
			fed = &types.FederatesWithMatch{TrustDomains: names, Match: m.Match}
			// Every match mode keeps only entries sharing a trust domain
			// with the filter's (SUBSET needs a non-empty set), so the
			// store narrows by "any" and federatesMatch is exact.
			df.FederatesWith = names
		}
	}
	if err := df.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	entries, err := s.cfg.Store.ListEntries(ctx, df)
	if err != nil {
		return nil, internalStatus("list entries: %w", err)
	}
	if fed != nil {
		entries = slices.DeleteFunc(entries, func(e *datastore.Entry) bool { return !federatesMatch(e.FederatesWith, fed) })
	}
	return entries, nil
}

// federatesMatch reports whether an entry's federated trust domains match m.
func federatesMatch(have []string, m *types.FederatesWithMatch) bool {
	want := m.TrustDomains
	contains := func(list []string) func(string) bool {
		return func(s string) bool { return slices.Contains(list, s) }
	}
	switch m.Match {
	case types.FederatesWithMatch_MATCH_SUBSET:
		return len(have) > 0 && !slices.ContainsFunc(have, func(s string) bool { return !slices.Contains(want, s) })
	case types.FederatesWithMatch_MATCH_SUPERSET:
		return !slices.ContainsFunc(want, func(s string) bool { return !slices.Contains(have, s) })
	case types.FederatesWithMatch_MATCH_ANY:
		return slices.ContainsFunc(want, contains(have))
	default:
		a, b := slices.Clone(have), slices.Clone(want)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(slices.Compact(a), slices.Compact(b))
	}
}

// ListEntries lists entries ordered by ID. The page token is the last ID
// of the previous page.
func (s *entryService) ListEntries(ctx context.Context, req *entryv1.ListEntriesRequest) (*entryv1.ListEntriesResponse, error) {
	if req.PageSize < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", req.PageSize)
	}
	var f entryListFilter
	if req.Filter != nil {
		f = req.Filter
	}
	entries, err := s.listFiltered(ctx, f)
	if err != nil {
		return nil, err
	}
	// Pages end at the requested size or at maxPageBytes, whichever comes
	// first, even when the caller asked for no paging: a client could not
	// receive a larger message anyway, and SPIRE's and svidkit's CLIs
	// follow next_page_token.
	resp := &entryv1.ListEntriesResponse{}
	bytes, last := 0, ""
	for _, e := range entries {
		if req.PageToken != "" && e.ID <= req.PageToken {
			continue
		}
		pe := maskEntry(protoEntry(e), req.OutputMask)
		size := proto.Size(pe)
		if n := len(resp.Entries); n > 0 && (req.PageSize > 0 && n == int(req.PageSize) || bytes+size > maxPageBytes) {
			resp.NextPageToken = last
			break
		}
		resp.Entries = append(resp.Entries, pe)
		bytes += size
		last = e.ID
	}
	return resp, nil
}

// CountEntries counts entries matching the filter.
func (s *entryService) CountEntries(ctx context.Context, req *entryv1.CountEntriesRequest) (*entryv1.CountEntriesResponse, error) {
	if req.Filter == nil {
		n, err := s.cfg.Store.CountEntries(ctx)
		if err != nil {
			return nil, internalStatus("count entries: %w", err)
		}
		return &entryv1.CountEntriesResponse{Count: int32(n)}, nil
	}
	entries, err := s.listFiltered(ctx, req.Filter)
	if err != nil {
		return nil, err
	}
	return &entryv1.CountEntriesResponse{Count: int32(len(entries))}, nil
}
