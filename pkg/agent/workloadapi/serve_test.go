package workloadapi_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

func TestListenUnix(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		prepare  func(t *testing.T, path string)
		wantMode os.FileMode
		wantErr  bool
	}{
		{name: "default mode", mode: 0, wantMode: 0o777},
		{name: "explicit mode", mode: 0o770, wantMode: 0o770},
		{name: "owner only", mode: 0o700, wantMode: 0o700},
		{name: "stale socket replaced", mode: 0o777, wantMode: 0o777, prepare: func(t *testing.T, path string) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
		}},
		{name: "regular file refused", mode: 0o777, wantErr: true, prepare: func(t *testing.T, path string) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "sub", "api.sock")
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			lis, err := workloadapi.ListenUnix(context.Background(), path, unixsock.Config{Mode: tt.mode})
			if tt.wantErr {
				if err == nil {
					lis.Close()
					t.Fatal("ListenUnix succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ListenUnix: %v", err)
			}
			defer lis.Close()
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket {
				t.Errorf("%s is %v, not a socket", path, fi.Mode())
			}
			if got := fi.Mode().Perm(); got != tt.wantMode {
				t.Errorf("mode = %o, want %o", got, tt.wantMode)
			}
			dir, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if got := dir.Mode().Perm(); got != 0o755 {
				t.Errorf("parent dir mode = %o, want 755", got)
			}
		})
	}
	t.Run("empty path", func(t *testing.T) {
		if _, err := workloadapi.ListenUnix(context.Background(), "", unixsock.Config{}); err == nil {
			t.Fatal("ListenUnix(\"\") succeeded")
		}
	})
}

// TestListenUnixSocketDir covers the DaemonSet hostPath layout: missing
// socket directories are created 0755 even under a restrictive umask, an
// existing (mounted) directory keeps its mode, and a socket left by the
// previous pod is replaced.
func TestListenUnixSocketDir(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	t.Run("missing directories", func(t *testing.T) {
		root := shortDir(t)
		path := filepath.Join(root, "run", "spire", "api.sock")
		lis, err := workloadapi.ListenUnix(context.Background(), path, unixsock.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer lis.Close()
		for _, d := range []string{filepath.Join(root, "run"), filepath.Join(root, "run", "spire")} {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o755 {
				t.Errorf("%s mode = %o, want 755 despite umask 077", d, got)
			}
		}
	})
	t.Run("mounted directory with a stale socket", func(t *testing.T) {
		dir := filepath.Join(shortDir(t), "sockets")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "api.sock")
		prev, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		prev.SetUnlinkOnClose(false)
		prev.Close() // the previous pod died without removing its socket
		lis, err := workloadapi.ListenUnix(context.Background(), path, unixsock.Config{})
		if err != nil {
			t.Fatalf("ListenUnix over a stale socket: %v", err)
		}
		defer lis.Close()
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial the new socket: %v", err)
		}
		conn.Close()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o750 {
			t.Errorf("mounted directory mode changed to %o, want 750 kept", got)
		}
	})
}

// TestServeStopEndsStreams shows that cancelling Serve's context ends open
// streams and returns nil promptly.
func TestServeStopEndsStreams(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	sock := filepath.Join(shortDir(t), "api.sock")
	lis, err := workloadapi.ListenUnix(context.Background(), sock, unixsock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- workloadapi.New(workloadapi.Config{Manager: mgr, Attestor: &fakeAttestor{}}).Serve(ctx, lis)
	}()

	e := &env{addr: "unix://" + sock}
	stream, err := e.raw(t).FetchX509SVID(withHeader(testCtx(t)), &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream still delivering after Serve stopped")
	}
	if n := mgr.subscribers(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
}

// TestClientGoneEndsStream shows a stream ends, and its subscription is
// finished, when the client cancels.
func TestClientGoneEndsStream(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	e := serve(t, mgr, &fakeAttestor{})

	ctx, cancel := context.WithCancel(withHeader(context.Background()))
	stream, err := e.raw(t).FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	select {
	case <-mgr.finished:
	case <-time.After(waitTimeout):
		t.Fatal("subscription not finished after the client left")
	}
	if n := mgr.subscribers(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	ca := newTestCA(t, "example.org")
	lis, err := workloadapi.ListenUnix(context.Background(), filepath.Join(shortDir(t), "api.sock"), unixsock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	err = workloadapi.New(workloadapi.Config{Manager: newFakeManager(ca), Attestor: &fakeAttestor{}}).Serve(context.Background(), lis)
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Serve on a closed listener = %v, want an error", err)
	}
}
