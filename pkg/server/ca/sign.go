package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SignX509SVID signs an X.509-SVID for p.SPIFFEID with the active X.509 CA
// and returns the chain, leaf first. The CA is the trust domain's root, so
// the chain is the leaf alone. The SVID's lifetime is p.TTL (or the default)
// capped at the CA's expiry.
func (m *Manager) SignX509SVID(ctx context.Context, p X509SVIDParams) ([]*x509.Certificate, error) {
	svid, err := m.SignX509SVIDRaw(ctx, p)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(svid.Chain[0])
	if err != nil {
		return nil, fmt.Errorf("ca: parse signed X509-SVID for %q: %w", p.SPIFFEID, err)
	}
	return []*x509.Certificate{leaf}, nil
}

// RawX509SVID is a signed X.509-SVID in DER form.
type RawX509SVID struct {
	// Chain holds the DER certificates, leaf first.
	Chain [][]byte
	// NotAfter is the leaf's expiry, at the one-second precision the
	// certificate encodes.
	NotAfter time.Time
}

// SignX509SVIDRaw is SignX509SVID for callers that only forward the DER
// chain (such as the server APIs): it skips parsing the certificate it has
// just built, which is a noticeable share of the cost of a signature.
func (m *Manager) SignX509SVIDRaw(_ context.Context, p X509SVIDParams) (RawX509SVID, error) {
	if err := m.checkID(p.SPIFFEID); err != nil {
		return RawX509SVID{}, fmt.Errorf("ca: sign X509-SVID: %w", err)
	}
	if p.PublicKey == nil {
		return RawX509SVID{}, errors.New("ca: sign X509-SVID: public key is required")
	}
	ttl, err := ttlOrDefault(p.TTL, m.cfg.X509SVIDTTL)
	if err != nil {
		return RawX509SVID{}, fmt.Errorf("ca: sign X509-SVID for %q: %w", p.SPIFFEID, err)
	}
	signer := m.x509.Load()
	authority := signer.authority
	serial, err := newSerial()
	if err != nil {
		return RawX509SVID{}, fmt.Errorf("ca: sign X509-SVID for %q: %w", p.SPIFFEID, err)
	}
	now := m.clock.Now()
	notAfter := now.Add(ttl)
	if notAfter.After(authority.Cert.NotAfter) {
		notAfter = authority.Cert.NotAfter
	}
	der, err := signer.sign(p, serial, now.Add(-svidBackdate(ttl)), notAfter)
	if err != nil {
		return RawX509SVID{}, fmt.Errorf("ca: sign X509-SVID for %q: %w", p.SPIFFEID, err)
	}
	// The certificate encodes whole seconds.
	return RawX509SVID{Chain: [][]byte{der}, NotAfter: notAfter.Truncate(time.Second)}, nil
}

// SignJWTSVID signs a JWT-SVID for p.SPIFFEID with the active JWT key. The
// token carries sub, aud, iat, exp (capped at the key's expiry) and iss when
// configured; its header carries kid and typ JWT.
func (m *Manager) SignJWTSVID(_ context.Context, p JWTSVIDParams) (string, error) {
	if err := m.checkID(p.SPIFFEID); err != nil {
		return "", fmt.Errorf("ca: sign JWT-SVID: %w", err)
	}
	if len(p.Audience) == 0 {
		return "", fmt.Errorf("ca: sign JWT-SVID for %q: audience is required", p.SPIFFEID)
	}
	for i, aud := range p.Audience {
		if aud == "" {
			return "", fmt.Errorf("ca: sign JWT-SVID for %q: audience[%d] is empty", p.SPIFFEID, i)
		}
	}
	ttl, err := ttlOrDefault(p.TTL, m.cfg.JWTSVIDTTL)
	if err != nil {
		return "", fmt.Errorf("ca: sign JWT-SVID for %q: %w", p.SPIFFEID, err)
	}

	m.mu.RLock()
	s := m.jwt
	m.mu.RUnlock()

	now := m.clock.Now()
	exp := now.Add(ttl)
	if exp.After(s.key.NotAfter) {
		exp = s.key.NotAfter
	}
	claims := jwt.Claims{
		Subject:  p.SPIFFEID.String(),
		Audience: jwt.Audience(p.Audience),
		Issuer:   m.cfg.JWTIssuer,
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(exp),
	}
	token, err := jwt.Signed(s.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("ca: sign JWT-SVID for %q: %w", p.SPIFFEID, err)
	}
	return token, nil
}

// checkID reports why id cannot be signed for, if it cannot.
func (m *Manager) checkID(id spiffeid.ID) error {
	if id.IsZero() {
		return errors.New("spiffe_id is required")
	}
	if !id.MemberOf(m.td) {
		return fmt.Errorf("spiffe_id %q is not in trust domain %q", id, m.td)
	}
	return nil
}

func ttlOrDefault(ttl, def time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("ttl must not be negative, got %s", ttl)
	case ttl == 0:
		return def, nil
	default:
		return ttl, nil
	}
}

// svidBackdate is how far an SVID's NotBefore is moved into the past: the
// usual clock-skew allowance, but at most a quarter of the TTL, so that a
// short-lived SVID's half-life (where holders rotate it) still lies after
// the moment it was issued.
func svidBackdate(ttl time.Duration) time.Duration {
	return min(backdate, ttl/4)
}
