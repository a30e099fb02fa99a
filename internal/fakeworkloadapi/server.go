// Package fakeworkloadapi is the one test double of the SPIFFE Workload API:
// a real gRPC server on a real Unix socket serving the X.509-SVIDs, bundles
// and JWT-SVIDs a test sets. Tests use it instead of the agent only where a
// fault must be injected or the served identities must be chosen exactly:
// it can be stopped and restarted on the same socket and made to answer a
// method with an error.
package fakeworkloadapi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/internal/testca"
)

// Server is a fake Workload API. With no X.509-SVIDs (or no JWT bundles)
// set, FetchX509SVID and FetchJWTSVID (or FetchJWTBundles) answer
// PermissionDenied "no identity issued", as SPIRE's agent does. Every Set
// and SetError pushes to the open streams at once: unlike the agent's
// cache it never coalesces. It is safe for concurrent use.
type Server struct {
	sock  string
	calls chan struct{} // one value per FetchX509SVID call (dropped if full)

	life sync.Mutex // serialises Start and Stop
	srv  *grpc.Server
	done chan struct{} // closed when srv's Serve returns

	mu         sync.Mutex
	svids      []*workload.X509SVID
	federated  map[string][]byte
	jwtIssuer  *testca.CA
	jwtBundles map[string][]byte
	errs       map[Method]error
	changed    chan struct{} // closed and replaced on every change
}

// New returns a Server that serves on sock once started.
func New(sock string) *Server {
	return &Server{sock: sock, calls: make(chan struct{}, 100), changed: make(chan struct{}), errs: map[Method]error{}}
}

// Start returns a Server already serving on sock until Stop or the test's end.
func Start(t testing.TB, sock string) *Server {
	t.Helper()
	s := New(sock)
	s.Start(t)
	return s
}

// Start listens on the socket and serves until Stop or the test's end. After
// Stop it may be called again: the agent restarting on the same socket.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
}

func (s *Server) start() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.srv != nil {
		return errors.New("fakeworkloadapi: already serving")
	}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		return fmt.Errorf("fakeworkloadapi: listen: %w", err)
	}
	s.srv, s.done = grpc.NewServer(), make(chan struct{})
	workload.RegisterSpiffeWorkloadAPIServer(s.srv, &handler{s: s})
	go func(srv *grpc.Server, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln)
	}(s.srv, s.done)
	return nil
}

// Stop closes the server, ending every stream, and removes the socket, as an
// agent shutting down does. It is idempotent.
func (s *Server) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Stop()
	<-s.done
	s.srv = nil
	_ = os.Remove(s.sock)
}

// Socket returns the path the server serves on.
func (s *Server) Socket() string { return s.sock }

// X509SVIDCalls receives one value per FetchX509SVID call, so a test can wait
// until a client has asked.
func (s *Server) X509SVIDCalls() <-chan struct{} { return s.calls }
