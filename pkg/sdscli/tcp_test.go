package sdscli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/sdscli"
)

// TestInsecureTCPRefused reproduces finding 10 of issue 10: a loopback TCP
// listener serves private keys to every local user, so it must be refused
// unless explicitly allowed, with the key (and, from a file, its line)
// named.
func TestInsecureTCPRefused(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sds.conf")
	writeFile(t, conf, fmt.Sprintf("agent_address = \"/a.sock\"\nlisten_address = [%q, \"127.0.0.1:8234\"]\n", filepath.Join(dir, "s.sock")))
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "flag", args: []string{"run", "-agent-address", "/a.sock", "-listen", "127.0.0.1:0"},
			wantErr: []string{`listen_address "127.0.0.1:0"`, "allow_insecure_tcp", "-allow-insecure-tcp"}},
		{name: "localhost", args: []string{"run", "-agent-address", "/a.sock", "-listen", "tcp://localhost:8234"},
			wantErr: []string{`listen_address "tcp://localhost:8234"`, "allow_insecure_tcp"}},
		{name: "config file", args: []string{"run", "-config", conf},
			wantErr: []string{conf + `:2: listen_address "127.0.0.1:8234"`, "allow_insecure_tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := sdscli.NewCommand(sdscli.Options{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
			root.SetArgs(cliargs.Normalize(tt.args))
			// A refusal returns at once; a bridge that serves instead stops
			// at the deadline and returns nil.
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			err := root.ExecuteContext(ctx)
			if err == nil {
				t.Fatalf("run with a TCP listener served until cancelled, want a refusal\n%s", out.String())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("run error = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestInsecureTCPAllowed: with the setting (flag or file), TCP serves SDS
// and the bridge warns in its log.
func TestInsecureTCPAllowed(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	dir := filepath.Dir(fakeworkloadapi.SocketPath(t, "x"))
	conf := filepath.Join(dir, "sds.conf")
	fileAddr := freePort(t)
	writeFile(t, conf, fmt.Sprintf("listen_address = %q\nallow_insecure_tcp = true\n", fileAddr))
	flagAddr := freePort(t)
	tests := []struct {
		name string
		addr string
		args []string
	}{
		{name: "flag", addr: flagAddr, args: []string{"run", "-agent-address", api.Socket(), "-listen", flagAddr, "-allow-insecure-tcp"}},
		{name: "config file", addr: fileAddr, args: []string{"run", "-agent-address", api.Socket(), "-config", conf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := start(t, nil, tt.args...)
			fetchDefault(t, tt.addr, out)
			if !strings.Contains(out.String(), "allow_insecure_tcp") || !strings.Contains(out.String(), "level=WARN") {
				t.Errorf("no warning about the TCP listener in the log:\n%s", out.String())
			}
		})
	}
}

// TestSocketDirShared: a world-writable socket directory (an emptyDir as
// the kubelet makes it, 0777) is refused with its path, owner and mode and
// the setting that accepts it; with socket_dir_shared (file or flag) SDS is
// served there and a warning logged.
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
		var out bytes.Buffer
		root := sdscli.NewCommand(sdscli.Options{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		root.SetArgs(cliargs.Normalize([]string{"run", "-agent-address", api.Socket(), "-listen", filepath.Join(dir, "sds.sock")}))
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		err := root.ExecuteContext(ctx)
		if err == nil {
			t.Fatalf("run in a world-writable directory served until cancelled, want a refusal\n%s", out.String())
		}
		for _, want := range []string{fmt.Sprintf("%q", dir), fmt.Sprintf("owned by uid %d", os.Geteuid()), "mode 0777", "socket_dir_shared = true (-socket-dir-shared)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("run error = %v, want it to contain %s", err, want)
			}
		}
	})
	tests := []struct {
		name string
		args func(dir string) []string
	}{
		{name: "flag", args: func(dir string) []string {
			return []string{"run", "-agent-address", api.Socket(), "-listen", filepath.Join(dir, "sds.sock"), "-socket-dir-shared"}
		}},
		{name: "config file", args: func(dir string) []string {
			conf := filepath.Join(base, "shared.conf")
			writeFile(t, conf, fmt.Sprintf("listen_address = %q\nsocket_dir_shared = true\n", filepath.Join(dir, "sds.sock")))
			return []string{"run", "-agent-address", api.Socket(), "-config", conf}
		}},
	}
	for _, tt := range tests {
		t.Run("accepted with "+tt.name, func(t *testing.T) {
			dir := emptyDir(t, strings.ReplaceAll(tt.name, " ", "-"))
			out := start(t, nil, tt.args(dir)...)
			fetchDefault(t, "unix://"+filepath.Join(dir, "sds.sock"), out)
			if !strings.Contains(out.String(), "level=WARN msg=\"socket directory declared shared") {
				t.Errorf("no warning about the shared directory in the log:\n%s", out.String())
			}
		})
	}
}
