package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// jwtMinter signs JWT-SVIDs with the server's NewJWTSVID RPC for the cache.
type jwtMinter struct{ a *Agent }

// MintJWTSVID asks the server for a JWT-SVID of entryID for audience.
func (m jwtMinter) MintJWTSVID(ctx context.Context, entryID string, audience []string) (workloadapi.JWTSVID, error) {
	conn, err := m.a.client()
	if err != nil {
		return workloadapi.JWTSVID{}, err
	}
	resp, err := svidv1.NewSVIDClient(conn).NewJWTSVID(ctx, &svidv1.NewJWTSVIDRequest{EntryId: entryID, Audience: audience})
	if err != nil {
		return workloadapi.JWTSVID{}, fmt.Errorf("new JWT-SVID: %w", err)
	}
	svid := resp.GetSvid()
	if svid.GetToken() == "" {
		return workloadapi.JWTSVID{}, errors.New("new JWT-SVID: server returned no token")
	}
	id, err := idFromProto(svid.GetId())
	if err != nil {
		return workloadapi.JWTSVID{}, fmt.Errorf("new JWT-SVID: spiffe_id: %w", err)
	}
	return workloadapi.JWTSVID{
		SPIFFEID:  id,
		Hint:      svid.GetHint(),
		Token:     svid.GetToken(),
		ExpiresAt: time.Unix(svid.GetExpiresAt(), 0),
	}, nil
}
