package server

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// protoID converts a SPIFFE ID string to its API form. It never fails: an
// unparsable stored ID is returned with an empty trust domain and the raw
// string as path so that listing still works.
func protoID(id string) *types.SPIFFEID {
	parsed, err := spiffeid.FromString(id)
	if err != nil {
		return &types.SPIFFEID{Path: id}
	}
	return &types.SPIFFEID{TrustDomain: parsed.TrustDomain().Name(), Path: parsed.Path()}
}

// parseProtoID converts an API SPIFFE ID, naming field in errors.
func parseProtoID(field string, id *types.SPIFFEID) (spiffeid.ID, error) {
	if id == nil {
		return spiffeid.ID{}, fmt.Errorf("%s: is required", field)
	}
	td, err := spiffeid.TrustDomainFromString(id.GetTrustDomain())
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%s: invalid trust domain %q: %w", field, id.GetTrustDomain(), err)
	}
	path := id.GetPath()
	if path != "" && !strings.HasPrefix(path, "/") {
		return spiffeid.ID{}, fmt.Errorf("%s: path %q must start with '/'", field, path)
	}
	parsed, err := spiffeid.FromPath(td, path)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%s: invalid path %q: %w", field, path, err)
	}
	return parsed, nil
}

// parseMemberID is parseProtoID plus a check that the ID belongs to td.
func parseMemberID(field string, id *types.SPIFFEID, td spiffeid.TrustDomain) (spiffeid.ID, error) {
	parsed, err := parseProtoID(field, id)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if !parsed.MemberOf(td) {
		return spiffeid.ID{}, fmt.Errorf("%s: %q is not a member of trust domain %q", field, parsed, td)
	}
	return parsed, nil
}

// protoSelectors converts a selector set to its API form.
func protoSelectors(s selector.Set) []*types.Selector {
	out := make([]*types.Selector, len(s))
	for i, sel := range s {
		out[i] = &types.Selector{Type: sel.Type, Value: sel.Value}
	}
	return out
}

// parseSelectors validates API selectors, naming field in errors.
func parseSelectors(field string, in []*types.Selector) (selector.Set, error) {
	sels := make([]selector.Selector, 0, len(in))
	for i, s := range in {
		sel := selector.Selector{Type: s.GetType(), Value: s.GetValue()}
		if err := sel.Validate(); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		sels = append(sels, sel)
	}
	return selector.NewSet(sels...), nil
}

// protoEntry converts a stored entry to its API form.
func protoEntry(e *datastore.Entry) *types.Entry {
	return &types.Entry{
		Id:             e.ID,
		SpiffeId:       protoID(e.SPIFFEID),
		ParentId:       protoID(e.ParentID),
		Selectors:      protoSelectors(e.Selectors),
		X509SvidTtl:    e.X509SVIDTTL,
		JwtSvidTtl:     e.JWTSVIDTTL,
		FederatesWith:  append([]string(nil), e.FederatesWith...),
		Admin:          e.Admin,
		Downstream:     e.Downstream,
		ExpiresAt:      e.ExpiresAt,
		DnsNames:       append([]string(nil), e.DNSNames...),
		RevisionNumber: e.RevisionNumber,
		Hint:           e.Hint,
		CreatedAt:      e.CreatedAt,
	}
}

// maskEntry returns e limited to the fields set in m; the ID is always
// kept. A nil mask returns e itself.
func maskEntry(e *types.Entry, m *types.EntryMask) *types.Entry {
	if m == nil {
		return e
	}
	out := &types.Entry{Id: e.Id}
	if m.SpiffeId {
		out.SpiffeId = e.SpiffeId
	}
	if m.ParentId {
		out.ParentId = e.ParentId
	}
	if m.Selectors {
		out.Selectors = e.Selectors
	}
	if m.X509SvidTtl {
		out.X509SvidTtl = e.X509SvidTtl
	}
	if m.JwtSvidTtl {
		out.JwtSvidTtl = e.JwtSvidTtl
	}
	if m.FederatesWith {
		out.FederatesWith = e.FederatesWith
	}
	if m.Admin {
		out.Admin = e.Admin
	}
	if m.Downstream {
		out.Downstream = e.Downstream
	}
	if m.ExpiresAt {
		out.ExpiresAt = e.ExpiresAt
	}
	if m.DnsNames {
		out.DnsNames = e.DnsNames
	}
	if m.RevisionNumber {
		out.RevisionNumber = e.RevisionNumber
	}
	if m.StoreSvid {
		out.StoreSvid = e.StoreSvid
	}
	if m.Hint {
		out.Hint = e.Hint
	}
	if m.CreatedAt {
		out.CreatedAt = e.CreatedAt
	}
	return out
}

// protoAgent converts a stored agent to its API form, limited by mask m
// (nil means every field).
func protoAgent(a *datastore.Agent, m *types.AgentMask) *types.Agent {
	out := &types.Agent{Id: protoID(a.SPIFFEID)}
	all := m == nil
	if all || m.AttestationType {
		out.AttestationType = a.AttestationType
	}
	if all || m.X509SvidSerialNumber {
		out.X509SvidSerialNumber = a.SerialNumber
	}
	if all || m.X509SvidExpiresAt {
		if !a.ExpiresAt.IsZero() {
			out.X509SvidExpiresAt = a.ExpiresAt.Unix()
		}
	}
	if all || m.Selectors {
		out.Selectors = protoSelectors(a.Selectors)
	}
	if all || m.Banned {
		out.Banned = a.Banned
	}
	if all || m.CanReattest {
		out.CanReattest = a.CanReattest
	}
	return out
}

// protoX509SVID converts a signed chain to its API form.
func protoX509SVID(id spiffeid.ID, chain []*x509.Certificate, hint string) *types.X509SVID {
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	return &types.X509SVID{
		CertChain: raw,
		Id:        &types.SPIFFEID{TrustDomain: id.TrustDomain().Name(), Path: id.Path()},
		ExpiresAt: chain[0].NotAfter.Unix(),
		Hint:      hint,
	}
}

// protoRawX509SVID converts a signed DER chain to its API form.
func protoRawX509SVID(id spiffeid.ID, svid ca.RawX509SVID, hint string) *types.X509SVID {
	return &types.X509SVID{
		CertChain: svid.Chain,
		Id:        &types.SPIFFEID{TrustDomain: id.TrustDomain().Name(), Path: id.Path()},
		ExpiresAt: svid.NotAfter.Unix(),
		Hint:      hint,
	}
}
