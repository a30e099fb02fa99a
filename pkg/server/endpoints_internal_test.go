package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/sockrace"
)

// TestSockraceChild is the attacker process of TestListenAdminSocketSymlinkRace.
func TestSockraceChild(t *testing.T) { sockrace.RunChild(t) }

// TestListenAdminSocketSymlinkRace reproduces finding 1 of issue 10 against
// the admin socket: a symlink renamed over the socket between bind and
// chmod made root set its target's mode to 0770.
func TestListenAdminSocketSymlinkRace(t *testing.T) {
	sockrace.Attack(t, sockrace.Target{
		ChildTest: "TestSockraceChild",
		Listen:    func(path string) (io.Closer, error) { return listenAdminSocket(context.Background(), path, false, nil) },
	})
}

// TestListenAdminSocketSharedDir: a group-writable admin socket directory
// is refused, naming it, its owner, its mode and the setting that accepts
// it; with socket_dir_shared it is accepted with a warning.
func TestListenAdminSocketSharedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "api.sock")
	_, err := listenAdminSocket(context.Background(), path, false, slog.Default())
	if err == nil {
		t.Fatal("admin socket in a group-writable directory accepted")
	}
	for _, want := range []string{strconv.Quote(dir), "mode 0770", "socket_dir_shared = true in the server block"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %s", err, want)
		}
	}
	var logs bytes.Buffer
	lis, err := listenAdminSocket(context.Background(), path, true, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("shared admin socket directory refused: %v", err)
	}
	lis.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), dir) {
		t.Errorf("no warning naming %s: %q", dir, logs.String())
	}
}
