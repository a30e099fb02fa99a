package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

const syncMethod = "/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries"

// slowSyncStore is a fault injection: the first entry sync's read of the
// entries revision (holdEntries) or of the bundles revision waits until
// the caller has gone away, as reads did on an overloaded server whose
// agents gave up, and then reads with the caller's done context, failing
// as the real store does. A failed entries read fails the sync; a failed
// bundles read does not (the agent polls bundles instead), and the
// handler goes on to set the response header on a stream the client has
// reset. blocked receives when the wait begins.
type slowSyncStore struct {
	datastore.Store
	holdEntries bool
	// blocked has room for one value: only the first sync waits.
	blocked chan struct{}
	waited  atomic.Bool
}

func (s *slowSyncStore) hold(ctx context.Context) {
	if m, _ := grpc.Method(ctx); m == syncMethod && s.waited.CompareAndSwap(false, true) {
		s.blocked <- struct{}{}
		<-ctx.Done()
	}
}

func (s *slowSyncStore) EntriesRevision(ctx context.Context) (int64, error) {
	if s.holdEntries {
		s.hold(ctx)
	}
	return s.Store.EntriesRevision(ctx)
}

func (s *slowSyncStore) BundlesRevision(ctx context.Context) (int64, error) {
	if !s.holdEntries {
		s.hold(ctx)
	}
	return s.Store.BundlesRevision(ctx)
}

// TestSyncOfCallerGoneIsNotInternal: an entry sync whose agent went away
// (cancelled, or its deadline passed) while the server worked on it ends
// with Canceled or DeadlineExceeded in the server's own accounting, never
// Internal (load finding: 11,766 "Internal" syncs in a 5,000-agent SQLite
// run: store reads cut short by the agent's context, and gRPC's SetHeader,
// which answers Internal on a stream the agent has reset). The real
// server and store; the slow read is a fault injection (slowSyncStore).
func TestSyncOfCallerGoneIsNotInternal(t *testing.T) {
	for _, tt := range []struct {
		name        string
		holdEntries bool
		deadline    bool
		// want is the code the agent sees.
		want codes.Code
	}{
		{"cancelled during the entries read", true, false, codes.Canceled},
		{"cancelled before the response header", false, false, codes.Canceled},
		{"deadline passed during the entries read", true, true, codes.DeadlineExceeded},
		{"deadline passed before the response header", false, true, codes.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &slowSyncStore{holdEntries: tt.holdEntries, blocked: make(chan struct{}, 1)}
			e := newEnv(t, func(c *server.Config) {
				store.Store = c.Store
				c.Store = store
			})
			svid := e.mustAttest("tok")
			// The caches trust what they read for 50 ms on a store that
			// does not announce its writes (this wrapper hides the
			// SQLite store's announcements): wait that out, so that the
			// sync reads the revision the fault is injected into rather
			// than answering from the read the attestation just made.
			time.Sleep(100 * time.Millisecond)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.deadline {
				ctx, cancel = context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
			} else {
				go func() {
					select {
					case <-store.blocked:
						cancel()
					case <-ctx.Done():
					}
				}()
			}
			stream, err := entryv1.NewEntryClient(e.tcpConn(svid)).SyncAuthorizedEntries(ctx)
			if err == nil {
				// A failed Send says only io.EOF; Recv returns the status.
				_ = stream.Send(&entryv1.SyncAuthorizedEntriesRequest{})
				_, err = stream.Recv()
			}
			if got := status.Code(err); got != tt.want {
				t.Fatalf("client: %v, want code %v", err, tt.want)
			}
			if !store.waited.Load() {
				t.Fatal("the sync never reached the held read")
			}
			// Stopping waits for the handler to end and be counted.
			if err := e.stop(); err != nil {
				t.Fatal(err)
			}
			// The server sees the agent's reset stream, which may arrive
			// before its own copy of the deadline fires: either code is
			// true, Internal never is.
			gone := rpcCount(t, e, syncMethod, codes.Canceled.String()) + rpcCount(t, e, syncMethod, codes.DeadlineExceeded.String())
			if n := rpcCount(t, e, syncMethod, codes.Internal.String()); n != 0 || gone != 1 {
				t.Errorf("server counted %v syncs as Internal and %v as Canceled or DeadlineExceeded, want 0 and 1", n, gone)
			}
		})
	}
}
