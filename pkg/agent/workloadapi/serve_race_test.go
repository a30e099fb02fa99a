package workloadapi_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/sockrace"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// TestSockraceChild is the attacker process of TestListenUnixSymlinkRace.
func TestSockraceChild(t *testing.T) { sockrace.RunChild(t) }

// TestListenUnixSymlinkRace reproduces finding 1 of issue 10 against the
// agent's Workload API socket: a user who can write the socket's directory
// renames a symlink over the socket between bind and chmod, and the agent
// (root) makes the symlink's target world-writable.
func TestListenUnixSymlinkRace(t *testing.T) {
	sockrace.Attack(t, sockrace.Target{
		ChildTest: "TestSockraceChild",
		Listen: func(path string) (io.Closer, error) {
			return workloadapi.ListenUnix(context.Background(), path, unixsock.Config{})
		},
	})
}

// TestListenUnixSharedDir: a world-writable socket directory is refused,
// naming it, its owner, its mode and the setting that accepts it; declared
// shared it is accepted.
func TestListenUnixSharedDir(t *testing.T) {
	dir := filepath.Join(shortDir(t), "public")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "api.sock")
	const hint = "socket_dir_shared = true in the agent block"
	_, err := workloadapi.ListenUnix(context.Background(), path, unixsock.Config{SharedHint: hint})
	if err == nil {
		t.Fatal("socket in a world-writable directory accepted")
	}
	for _, want := range []string{strconv.Quote(dir), "mode 0777", hint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %s", err, want)
		}
	}
	lis, err := workloadapi.ListenUnix(context.Background(), path, unixsock.Config{SharedDir: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("shared socket directory refused: %v", err)
	}
	lis.Close()
}
