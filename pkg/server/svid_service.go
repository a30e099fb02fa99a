package server

import (
	"context"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// svidService implements spire.api.server.svid.v1.SVID.
type svidService struct {
	svidv1.UnimplementedSVIDServer
	*deps
}

// authorizedEntries returns the calling agent's authorized entry set.
func (s *svidService) authorizedEntries(ctx context.Context) (*authorizedSet, error) {
	agent, err := requireAgent(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := s.cache.snapshot(ctx)
	if err != nil {
		return nil, internalStatus("load entries: %w", err)
	}
	return snap.authorizedFor(agent.SPIFFEID, s.serverID.String(), agent.Selectors, s.cfg.Clock.Now()), nil
}

// BatchNewX509SVID signs one X509-SVID per requested entry the calling
// agent is authorized for; each result carries its own status.
func (s *svidService) BatchNewX509SVID(ctx context.Context, req *svidv1.BatchNewX509SVIDRequest) (*svidv1.BatchNewX509SVIDResponse, error) {
	set, err := s.authorizedEntries(ctx)
	if err != nil {
		return nil, err
	}
	resp := &svidv1.BatchNewX509SVIDResponse{Results: make([]*svidv1.BatchNewX509SVIDResponse_Result, len(req.Params))}
	for i, p := range req.Params {
		resp.Results[i] = s.newX509SVID(ctx, set, p)
	}
	return resp, nil
}

func (s *svidService) newX509SVID(ctx context.Context, set *authorizedSet, p *svidv1.NewX509SVIDParams) *svidv1.BatchNewX509SVIDResponse_Result {
	fail := func(code codes.Code, format string, args ...any) *svidv1.BatchNewX509SVIDResponse_Result {
		return &svidv1.BatchNewX509SVIDResponse_Result{Status: &types.Status{Code: int32(code), Message: fmt.Sprintf(format, args...)}}
	}
	if p.GetEntryId() == "" {
		return fail(codes.InvalidArgument, "entry_id: is required")
	}
	ce, ok := set.byID[p.EntryId]
	if !ok {
		return fail(codes.PermissionDenied, "entry_id: entry %q does not exist or is not authorized for the caller", p.EntryId)
	}
	csr, err := parseCSR("csr", p.Csr)
	if err != nil {
		return fail(codes.InvalidArgument, "%v", err)
	}
	id, err := ce.id, ce.idErr
	if err != nil {
		return fail(codes.Internal, "entry %q has an invalid SPIFFE ID: %v", ce.entry.ID, err)
	}
	svid, err := s.signX509Raw(ctx, "x509", id, csr.PublicKey, ttlSeconds(ce.entry.X509SVIDTTL, s.cfg.DefaultX509SVIDTTL), ce.entry.DNSNames)
	if err != nil {
		return fail(codes.Internal, "%v", err)
	}
	return &svidv1.BatchNewX509SVIDResponse_Result{
		Status: &types.Status{Code: int32(codes.OK), Message: "OK"},
		Svid:   protoRawX509SVID(id, svid, ce.entry.Hint),
	}
}

// NewJWTSVID signs a JWT-SVID for an entry the calling agent is
// authorized for.
func (s *svidService) NewJWTSVID(ctx context.Context, req *svidv1.NewJWTSVIDRequest) (*svidv1.NewJWTSVIDResponse, error) {
	set, err := s.authorizedEntries(ctx)
	if err != nil {
		return nil, err
	}
	if req.EntryId == "" {
		return nil, status.Error(codes.InvalidArgument, "entry_id: is required")
	}
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience: at least one audience is required")
	}
	ce, ok := set.byID[req.EntryId]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "entry_id: entry %q does not exist or is not authorized for the caller", req.EntryId)
	}
	id, err := ce.id, ce.idErr
	if err != nil {
		return nil, internalStatus("entry %q has an invalid SPIFFE ID: %w", ce.entry.ID, err)
	}
	svid, err := s.jwtSVID(ctx, id, req.Audience, ttlSeconds(ce.entry.JWTSVIDTTL, s.cfg.DefaultJWTSVIDTTL), ce.entry.Hint)
	if err != nil {
		return nil, err
	}
	return &svidv1.NewJWTSVIDResponse{Svid: svid}, nil
}

// MintX509SVID signs an X509-SVID for the single URI SAN of an admin's CSR.
func (s *svidService) MintX509SVID(ctx context.Context, req *svidv1.MintX509SVIDRequest) (*svidv1.MintX509SVIDResponse, error) {
	csr, err := parseCSR("csr", req.Csr)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if len(csr.URIs) != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "csr: must carry exactly one URI SAN, got %d", len(csr.URIs))
	}
	id, err := spiffeid.FromURI(csr.URIs[0])
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr: URI SAN is not a valid SPIFFE ID: %v", err)
	}
	if !id.MemberOf(s.cfg.TrustDomain) {
		return nil, status.Errorf(codes.InvalidArgument, "csr: SPIFFE ID %q is not a member of trust domain %q", id, s.cfg.TrustDomain)
	}
	if err := checkWorkloadID("csr", id); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if req.Ttl < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "ttl: must not be negative, got %d", req.Ttl)
	}
	for i, name := range csr.DNSNames {
		if err := validateDNSName(name); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "csr: dns_names[%d]: %v", i, err)
		}
	}
	svid, err := s.signX509Raw(ctx, "x509", id, csr.PublicKey, ttlSeconds(req.Ttl, s.cfg.DefaultX509SVIDTTL), csr.DNSNames)
	if err != nil {
		return nil, internalStatus("%w", err)
	}
	return &svidv1.MintX509SVIDResponse{Svid: protoRawX509SVID(id, svid, "")}, nil
}

// MintJWTSVID signs a JWT-SVID for any ID in the trust domain (admin only).
func (s *svidService) MintJWTSVID(ctx context.Context, req *svidv1.MintJWTSVIDRequest) (*svidv1.MintJWTSVIDResponse, error) {
	id, err := parseWorkloadID("id", req.Id, s.cfg.TrustDomain)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience: at least one audience is required")
	}
	if req.Ttl < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "ttl: must not be negative, got %d", req.Ttl)
	}
	svid, err := s.jwtSVID(ctx, id, req.Audience, ttlSeconds(req.Ttl, s.cfg.DefaultJWTSVIDTTL), "")
	if err != nil {
		return nil, err
	}
	return &svidv1.MintJWTSVIDResponse{Svid: svid}, nil
}

// jwtAlgorithms are the signature algorithms a CA may use for JWT-SVIDs.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// jwtSVID signs a JWT-SVID and reads its times back from the token, since
// the CA may shorten the requested lifetime.
func (s *svidService) jwtSVID(ctx context.Context, id spiffeid.ID, audience []string, ttl time.Duration, hint string) (*types.JWTSVID, error) {
	tok, err := s.signJWT(ctx, id, audience, ttl)
	if err != nil {
		return nil, internalStatus("%w", err)
	}
	parsed, err := jwt.ParseSigned(tok, jwtAlgorithms)
	if err != nil {
		return nil, internalStatus("parse signed JWT-SVID: %w", err)
	}
	var claims jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return nil, internalStatus("read JWT-SVID claims: %w", err)
	}
	out := &types.JWTSVID{Token: tok, Id: protoID(id.String()), Hint: hint}
	if claims.Expiry != nil {
		out.ExpiresAt = claims.Expiry.Time().Unix()
	}
	if claims.IssuedAt != nil {
		out.IssuedAt = claims.IssuedAt.Time().Unix()
	}
	return out, nil
}
