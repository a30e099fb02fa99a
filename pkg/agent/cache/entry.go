package cache

import (
	"crypto"
	"crypto/x509"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/selector"
)

// Entry is an authorized registration entry as the agent keeps it.
type Entry struct {
	ID       string
	SPIFFEID spiffeid.ID
	ParentID spiffeid.ID
	// Selectors are the workload selectors; a workload matches when they
	// are a subset of its attested selectors.
	Selectors     selector.Set
	FederatesWith []spiffeid.TrustDomain
	DNSNames      []string
	Hint          string
	// RevisionNumber changes each time the entry is updated on the server.
	RevisionNumber int64
	// CreatedAt orders the identities a workload receives.
	CreatedAt time.Time
	// X509SVIDTTL and JWTSVIDTTL are the entry's TTLs in seconds (zero means
	// the server's default).
	X509SVIDTTL int32
	JWTSVIDTTL  int32
}

// SVID is an X.509-SVID minted for an entry, with its private key.
type SVID struct {
	// Chain is leaf first.
	Chain []*x509.Certificate
	Key   crypto.Signer
	// EntryRevision is the entry revision the SVID was minted for; an
	// updated entry needs a new SVID.
	EntryRevision int64
	// MintedAt is when the agent received the SVID. Servers backdate
	// NotBefore to tolerate clock skew (SPIRE by 10s), so rotation is timed
	// from the later of the two: with short TTLs, half of the backdated
	// window may already be over when the SVID arrives.
	MintedAt time.Time
}

// RotationDue reports whether an SVID valid over [notBefore, notAfter] and
// received at mintedAt (zero if unknown) should be replaced at now: when
// half of its usable lifetime, from the later of notBefore and mintedAt, has
// passed.
func RotationDue(notBefore, notAfter, mintedAt, now time.Time) bool {
	start := notBefore
	if mintedAt.After(start) {
		start = mintedAt
	}
	return HalfLifeReached(start, notAfter, now)
}

// HalfLifeReached reports whether now is at or past the middle of the
// [notBefore, notAfter] validity window, the point where SVIDs are rotated.
func HalfLifeReached(notBefore, notAfter, now time.Time) bool {
	return !now.Before(notBefore.Add(notAfter.Sub(notBefore) / 2))
}
