package grpcstop_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/svidkit/svidkit/pkg/grpcstop"
)

// server is a real gRPC server on a Unix socket whose every method
// (through the unknown-service handler) receives one message, signals that
// it is running, and answers once released or ends with its stream.
type server struct {
	srv     *grpc.Server
	addr    string
	started chan string   // method of each call that is running
	release chan struct{} // closed to let every call answer
	closed  chan struct{} // closed when the listener is closed (stop began)
}

func newServer(t *testing.T) *server {
	t.Helper()
	lis, err := net.Listen("unix", t.TempDir()+"/grpc.sock")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{
		addr:    "unix://" + lis.Addr().String(),
		started: make(chan string, 4),
		release: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	s.srv = grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
			return err
		}
		method, _ := grpc.MethodFromServerStream(stream)
		s.started <- method
		select {
		case <-s.release:
			return stream.SendMsg(&emptypb.Empty{})
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}))
	served := make(chan struct{})
	go func() { defer close(served); _ = s.srv.Serve(&notifyListener{Listener: lis, closed: s.closed}) }()
	t.Cleanup(func() { s.srv.Stop(); <-served })
	return s
}

// notifyListener reports its Close, the first step of a graceful stop.
type notifyListener struct {
	net.Listener
	closed chan struct{}
	once   sync.Once
}

func (l *notifyListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// calls starts a unary call and, when stream is set, a server stream on s,
// and waits until both are running on the server. It returns the channel
// of their results (unary first).
func (s *server) calls(t *testing.T, ctx context.Context, stream bool) <-chan error {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	results := make(chan error, 2)
	go func() {
		results <- conn.Invoke(ctx, "/test.Test/Unary", &emptypb.Empty{}, &emptypb.Empty{})
	}()
	n := 1
	if stream {
		n++
		go func() {
			cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/test.Test/Stream")
			if err == nil {
				err = cs.SendMsg(&emptypb.Empty{})
			}
			if err == nil {
				err = cs.CloseSend()
			}
			if err == nil {
				err = cs.RecvMsg(&emptypb.Empty{})
			}
			results <- err
		}()
	}
	for range n {
		select {
		case <-s.started:
		case <-ctx.Done():
			t.Fatal("calls did not reach the server before the test deadline")
		}
	}
	return results
}

// TestGracefulWaitsForCalls: a graceful stop lets an in-flight unary call
// finish and reports that nothing was forced.
func TestGracefulWaitsForCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newServer(t)
	results := s.calls(t, ctx, false)

	forced := make(chan bool, 1)
	go func() { forced <- grpcstop.Graceful(time.Hour, s.srv) }()
	select {
	case <-s.closed:
	case <-ctx.Done():
		t.Fatal("stop did not begin")
	}
	select {
	case <-forced:
		t.Fatal("Graceful returned while a call was in flight")
	default:
	}
	close(s.release)
	if err := <-results; err != nil {
		t.Fatalf("in-flight unary call = %v, want it answered", err)
	}
	select {
	case f := <-forced:
		if f {
			t.Fatal("Graceful reported a forced stop, want graceful")
		}
	case <-ctx.Done():
		t.Fatal("Graceful did not return after the call finished")
	}
}

// TestGracefulForcesAfterGrace: calls still running after the grace period
// (a stream that never ends, a unary call that never answers) are cut, on
// every server given, and the stop reports it was forced.
func TestGracefulForcesAfterGrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := newServer(t), newServer(t)
	resultsA := a.calls(t, ctx, true)
	resultsB := b.calls(t, ctx, true)

	if !grpcstop.Graceful(50*time.Millisecond, a.srv, b.srv) {
		t.Fatal("Graceful = false, want true: calls never end on their own")
	}
	for name, results := range map[string]<-chan error{"a": resultsA, "b": resultsB} {
		for range 2 {
			select {
			case err := <-results:
				if status.Code(err) != codes.Unavailable {
					t.Errorf("server %s: call ended with %v, want Unavailable (connection closed)", name, err)
				}
			case <-ctx.Done():
				t.Fatalf("server %s: a call did not end after the forced stop", name)
			}
		}
	}
}
