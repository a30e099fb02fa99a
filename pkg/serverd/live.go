package serverd

import (
	"context"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// liveTimeout bounds each liveness check, so a hung datastore fails the
// probe instead of hanging it.
const liveTimeout = 5 * time.Second

// liveAudience is the audience of the JWT-SVID signed by the liveness
// check; the token is discarded.
const liveAudience = "svidkit-liveness"

// bundleReader is the datastore read the liveness check makes.
type bundleReader interface {
	GetBundle(ctx context.Context, trustDomain string) (*datastore.Bundle, error)
}

// jwtSigner is the CA operation the liveness check makes.
type jwtSigner interface {
	SignJWTSVID(ctx context.Context, p ca.JWTSVIDParams) (string, error)
}

// liveness returns the server's /live check: the datastore answers a read
// of the trust domain's bundle and the CA signs a JWT-SVID (for the
// server's own ID, thrown away), each within liveTimeout. A server that
// cannot do either cannot attest agents or sign SVIDs, and a restart may
// help (a stale database connection, a wedged signer). Failures are
// logged with their cause, since the probe itself only says false.
func liveness(store bundleReader, signer jwtSigner, td spiffeid.TrustDomain, log *slog.Logger) func() bool {
	serverID, _ := spiffeid.FromSegments(td, "spire", "server")
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
		defer cancel()
		if _, err := store.GetBundle(ctx, td.Name()); err != nil {
			log.Warn("liveness: datastore check failed", "error", err)
			return false
		}
		if _, err := signer.SignJWTSVID(ctx, ca.JWTSVIDParams{
			SPIFFEID: serverID, Audience: []string{liveAudience}, TTL: time.Minute,
		}); err != nil {
			log.Warn("liveness: CA signing check failed", "error", err)
			return false
		}
		return true
	}
}
