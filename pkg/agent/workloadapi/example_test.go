package workloadapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	gowl "github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// emptyCache is a Manager for an agent that holds no identity yet.
type emptyCache struct{}

func (emptyCache) Subscribe(context.Context, selector.Set) (workloadapi.Subscription, error) {
	s := &emptySub{ch: make(chan *workloadapi.Update, 1)}
	s.ch <- &workloadapi.Update{}
	return s, nil
}

func (emptyCache) FetchJWTSVIDs(context.Context, selector.Set, []string, spiffeid.ID) ([]workloadapi.JWTSVID, error) {
	return nil, nil
}

type emptySub struct {
	once sync.Once
	ch   chan *workloadapi.Update
}

func (s *emptySub) Updates() <-chan *workloadapi.Update { return s.ch }
func (s *emptySub) Finish()                             { s.once.Do(func() { close(s.ch) }) }

// Example serves the Workload API on a socket like SPIRE's default public
// one (/tmp/spire-agent/public/api.sock) until its context ends (SIGTERM in
// the agent). The Manager is the agent's SVID cache.
func Example() {
	var cache workloadapi.Manager = emptyCache{} // the agent's cache, built elsewhere

	dir, err := os.MkdirTemp("", "spire-agent")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "public", "api.sock")
	lis, err := workloadapi.ListenUnix(context.Background(), sock, unixsock.Config{})
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	h := workloadapi.New(workloadapi.Config{
		Manager:    cache,
		Attestor:   unix.New(unix.Config{}),
		Log:        slog.New(slog.DiscardHandler),
		Registerer: prometheus.NewRegistry(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, lis) }()

	// Every workload may connect; the caller's identity comes from the
	// socket's peer credentials, not from the file's permissions.
	if fi, err := os.Stat(sock); err == nil {
		fmt.Println(fi.Mode().Type() == os.ModeSocket, fi.Mode().Perm())
	}
	// A workload (this process) asks for its X.509-SVID; the cache has none.
	_, err = gowl.FetchX509SVID(ctx, gowl.WithAddr("unix://"+sock))
	fmt.Println("fetch:", status.Code(err))
	cancel()
	fmt.Println("serve:", <-done)
	// Output:
	// true -rwxrwxrwx
	// fetch: PermissionDenied
	// serve: <nil>
}
