package peercred_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/svidkit/svidkit/pkg/peercred"
)

// connectEnv makes the test binary a process that connects to the socket
// it names and exits.
const connectEnv = "PEERCRED_TEST_CONNECT"

func TestMain(m *testing.M) {
	if sock := os.Getenv(connectEnv); sock != "" {
		if _, err := net.Dial("unix", sock); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// checkSelf checks that info describes this process, with a live process
// handle.
func checkSelf(t *testing.T, info peercred.Info) {
	t.Helper()
	want := peercred.Info{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if got := (peercred.Info{PID: info.PID, UID: info.UID, GID: info.GID}); got != want {
		t.Errorf("info = %+v, want %+v", got, want)
	}
	if info.Process == nil {
		t.Fatal("info has no process handle")
	}
	if info.Process.PID() != want.PID {
		t.Errorf("process handle is of pid %d, want %d", info.Process.PID(), want.PID)
	}
	if err := info.Process.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// shortDir returns a temp dir short enough for a socket path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// acceptedPair listens on network, dials it and returns the accepted end.
func acceptedPair(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	lis, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	client, err := net.Dial(network, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server
}

func TestServerHandshake(t *testing.T) {
	pipeA, pipeB := net.Pipe()
	t.Cleanup(func() { pipeA.Close(); pipeB.Close() })

	tests := []struct {
		name    string
		conn    func(t *testing.T) net.Conn
		wantErr bool
	}{
		{name: "unix socket", conn: func(t *testing.T) net.Conn {
			return acceptedPair(t, "unix", filepath.Join(shortDir(t), "s.sock"))
		}},
		{name: "tcp socket refused", conn: func(t *testing.T) net.Conn {
			return acceptedPair(t, "tcp", "127.0.0.1:0")
		}, wantErr: true},
		{name: "in-memory pipe refused", conn: func(*testing.T) net.Conn { return pipeA }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ai, err := peercred.New().ServerHandshake(tt.conn(t))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ServerHandshake succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ServerHandshake: %v", err)
			}
			got := ai.(peercred.AuthInfo)
			checkSelf(t, got.Info)
			if got.AuthType() != peercred.AuthType {
				t.Errorf("AuthType = %q", got.AuthType())
			}
		})
	}
}

func TestFromContextOverGRPC(t *testing.T) {
	sock := filepath.Join(shortDir(t), "g.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan peercred.Info, 1)
	srv := grpc.NewServer(
		grpc.Creds(peercred.New()),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			info, ok := peercred.FromContext(ctx)
			if !ok {
				t.Errorf("FromContext reported no peer credentials")
			}
			seen <- info
			return h(ctx, req)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	checkSelf(t, <-seen)
}

// TestServerHandshakeReleasesProcess: closing the connection releases the
// handle on its peer, which then verifies no more.
func TestServerHandshakeReleasesProcess(t *testing.T) {
	conn, ai, err := peercred.New().ServerHandshake(acceptedPair(t, "unix", filepath.Join(shortDir(t), "s.sock")))
	if err != nil {
		t.Fatal(err)
	}
	proc := ai.(peercred.AuthInfo).Info.Process
	if err := proc.Verify(); err != nil {
		t.Fatalf("Verify before Close: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := proc.Verify(); err == nil {
		t.Fatal("Verify after the connection closed succeeded, want error")
	}
}

// TestServerHandshakeRefusesExitedPeer: a peer that has exited by the time
// its connection is accepted is refused, whatever process has its pid by
// then.
func TestServerHandshakeRefusesExitedPeer(t *testing.T) {
	sock := filepath.Join(shortDir(t), "s.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), connectEnv+"="+sock)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("peer: %v", err)
	}
	conn, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ai, err := peercred.New().ServerHandshake(conn); err == nil {
		t.Fatalf("ServerHandshake of a connection from exited pid %d succeeded: %+v", cmd.Process.Pid, ai)
	}
}

func TestFromContextWithoutPeer(t *testing.T) {
	if _, ok := peercred.FromContext(context.Background()); ok {
		t.Fatal("FromContext reported credentials for a bare context")
	}
}
