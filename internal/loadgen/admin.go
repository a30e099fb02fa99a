package loadgen

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// adminCallTimeout bounds one admin API call.
const adminCallTimeout = time.Minute

// entryBatch is how many entries one BatchCreateEntry carries.
const entryBatch = 100

// admin is a client of one server's admin API socket.
type admin struct {
	conn *grpc.ClientConn
}

func dialAdmin(socket string) (*admin, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial admin socket %s: %w", socket, err)
	}
	return &admin{conn: conn}, nil
}

func (a *admin) Close() error { return a.conn.Close() }

// bundle returns the trust domain's X.509 authorities.
func (a *admin) bundle(ctx context.Context) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, adminCallTimeout)
	defer cancel()
	b, err := bundlev1.NewBundleClient(a.conn).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		return nil, fmt.Errorf("get bundle: %w", err)
	}
	var out []*x509.Certificate
	for i, au := range b.GetX509Authorities() {
		c, err := x509.ParseCertificate(au.GetAsn1())
		if err != nil {
			return nil, fmt.Errorf("get bundle: authority %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// createToken creates the join token value, valid for ttl.
func (a *admin) createToken(ctx context.Context, value string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, adminCallTimeout)
	defer cancel()
	_, err := agentv1.NewAgentClient(a.conn).CreateJoinToken(ctx, &agentv1.CreateJoinTokenRequest{
		Token: value, Ttl: int32(ttl / time.Second),
	})
	if err != nil {
		return fmt.Errorf("create join token: %w", err)
	}
	return nil
}

// createEntries creates at most entryBatch entries in one call and
// returns their IDs.
func (a *admin) createEntries(ctx context.Context, entries []*types.Entry) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, adminCallTimeout)
	defer cancel()
	resp, err := entryv1.NewEntryClient(a.conn).BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("create entries: %w", err)
	}
	ids := make([]string, 0, len(entries))
	for i, r := range resp.GetResults() {
		if c := codes.Code(r.GetStatus().GetCode()); c != codes.OK {
			return nil, fmt.Errorf("create entry %s: %s: %s", entries[i].GetSpiffeId().GetPath(), c, r.GetStatus().GetMessage())
		}
		ids = append(ids, r.GetEntry().GetId())
	}
	return ids, nil
}

// deleteEntry deletes one entry.
func (a *admin) deleteEntry(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, adminCallTimeout)
	defer cancel()
	resp, err := entryv1.NewEntryClient(a.conn).BatchDeleteEntry(ctx, &entryv1.BatchDeleteEntryRequest{Ids: []string{id}})
	if err != nil {
		return fmt.Errorf("delete entry %s: %w", id, err)
	}
	if r := resp.GetResults(); len(r) != 1 || codes.Code(r[0].GetStatus().GetCode()) != codes.OK {
		return fmt.Errorf("delete entry %s: %v", id, r)
	}
	return nil
}
