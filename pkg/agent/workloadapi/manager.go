package workloadapi

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Identity is one X.509-SVID the workload is entitled to, with its key.
// The chain and the key are given parsed (Chain, Key), encoded (ChainDER,
// KeyPKCS8), or both; when both, they must agree. The Workload API sends
// the encoded form, so a Manager that keeps SVIDs encoded spares it the
// encoding on every call and the memory of parsed certificates; use
// Certificates and PrivateKey to read either form.
type Identity struct {
	// EntryID is the registration entry the SVID was issued for.
	EntryID  string
	SPIFFEID spiffeid.ID
	// Hint is the entry's hint, passed to workloads to tell SVIDs apart.
	Hint string
	// Chain is leaf first, then any intermediates.
	Chain []*x509.Certificate
	// Key is the SVID's private key.
	Key crypto.Signer
	// ChainDER is the chain's certificates, leaf first, as concatenated
	// ASN.1 DER: the Workload API's x509_svid field.
	ChainDER []byte
	// KeyPKCS8 is the private key as unencrypted PKCS #8 DER: the Workload
	// API's x509_svid_key field.
	KeyPKCS8 []byte
}

// Update is the complete identity state of a workload at one moment. It is
// an immutable snapshot: a Manager may hand the same Update to every
// subscriber it applies to, and the Workload API caches the response built
// from it, so nobody may modify an Update after publishing it.
type Update struct {
	// Identities are ordered by entry creation, then entry ID, so the first
	// is the workload's "default" SVID. Empty means no identity is issued.
	Identities []Identity
	// Bundle is the workload's own trust domain bundle (X.509 and JWT
	// authorities).
	Bundle *spiffebundle.Bundle
	// FederatedBundles are the bundles of trust domains that the matching
	// entries federate with, keyed by trust domain.
	FederatedBundles map[spiffeid.TrustDomain]*spiffebundle.Bundle
}

// Subscription delivers a workload's Update each time it changes.
type Subscription interface {
	// Updates yields the current Update at once, then every change. The
	// channel is closed when the subscription ends.
	Updates() <-chan *Update
	// Finish ends the subscription; it is idempotent.
	Finish()
}

// JWTSVID is a signed JWT-SVID.
type JWTSVID struct {
	SPIFFEID  spiffeid.ID
	Hint      string
	Token     string
	ExpiresAt time.Time
}

// Manager is what the Workload API needs from the agent's SVID cache.
// The agent's cache manager implements it; tests may use any implementation.
type Manager interface {
	// Subscribe starts delivering the identities matching the attested
	// selectors of a workload.
	Subscribe(ctx context.Context, sels selector.Set) (Subscription, error)
	// FetchJWTSVIDs returns JWT-SVIDs for the given audience for every entry
	// matching sels, or only for spiffeID when it is not zero. Cached tokens
	// are reused until they near expiry.
	FetchJWTSVIDs(ctx context.Context, sels selector.Set, audience []string, spiffeID spiffeid.ID) ([]JWTSVID, error)
}

// Attestor turns a caller's process identity into selectors.
type Attestor interface {
	// Attest returns the selectors of process p, the caller identified at
	// the connection's handshake. The uid and gid come from the socket's
	// peer credentials. It fails, with an error wrapping procid.ErrGone or
	// procid.ErrExeChanged, when what it read about the process may not be
	// of the process that connected, running the program it ran then.
	Attest(ctx context.Context, p *procid.Process, uid, gid uint32) (selector.Set, error)
}
