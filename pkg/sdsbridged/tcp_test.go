package sdsbridged_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/sdsbridged"
)

// TestInsecureTCPAllowed: with allow_insecure_tcp in the file, TCP serves
// SDS and the bridge warns in its log. (The -allow-insecure-tcp flag and
// the refusal without the setting are tested in package sdscli.)
func TestInsecureTCPAllowed(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	addr := freeport.Addr(t)
	cfg := loadConfig(t, t.TempDir(), fmt.Sprintf("agent_address = %q\nlisten_address = %q\nallow_insecure_tcp = true\n", api.Socket(), addr))

	out := start(t, cfg)
	fetchDefault(t, addr, out)
	if !strings.Contains(out.String(), "allow_insecure_tcp") || !strings.Contains(out.String(), "level=WARN") {
		t.Errorf("no warning about the TCP listener in the log:\n%s", out.String())
	}
}

// TestSocketDirShared: a world-writable socket directory (an emptyDir as
// the kubelet makes it, 0777) is refused with its path, owner and mode and
// the setting that accepts it; with socket_dir_shared in the file SDS is
// served there and a warning logged. (The -socket-dir-shared flag is
// tested in package sdscli.)
func TestSocketDirShared(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	base := filepath.Dir(fakeworkloadapi.SocketPath(t, "x"))
	emptyDir := func(t *testing.T, name string) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("refused", func(t *testing.T) {
		dir := emptyDir(t, "refused")
		cfg := loadConfig(t, t.TempDir(), fmt.Sprintf("agent_address = %q\nlisten_address = %q\n", api.Socket(), filepath.Join(dir, "sds.sock")))
		out := &syncBuffer{}
		// A refusal returns at once; a bridge that serves instead stops at
		// the deadline and returns nil.
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		err := sdsbridged.Run(ctx, cfg, newLog(t, out))
		if err == nil {
			t.Fatalf("Run in a world-writable directory served until cancelled, want a refusal\n%s", out.String())
		}
		for _, want := range []string{fmt.Sprintf("%q", dir), fmt.Sprintf("owned by uid %d", os.Geteuid()), "mode 0777", "socket_dir_shared = true (-socket-dir-shared)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Run error = %v, want it to contain %s", err, want)
			}
		}
	})
	t.Run("accepted with config file", func(t *testing.T) {
		dir := emptyDir(t, "config-file")
		sock := filepath.Join(dir, "sds.sock")
		cfg := loadConfig(t, t.TempDir(), fmt.Sprintf("agent_address = %q\nlisten_address = %q\nsocket_dir_shared = true\n", api.Socket(), sock))
		out := start(t, cfg)
		fetchDefault(t, "unix://"+sock, out)
		if !strings.Contains(out.String(), "level=WARN msg=\"socket directory declared shared") {
			t.Errorf("no warning about the shared directory in the log:\n%s", out.String())
		}
	})
}
