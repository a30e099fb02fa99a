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
	"github.com/svidkit/svidkit/internal/freeport"
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
		// The flag replaces the file's listen_address: the message names
		// the file but not the line of the key the flag overrode.
		{name: "flag over config file", args: []string{"run", "-config", conf, "-listen", "127.0.0.1:0"},
			wantErr: []string{conf + `: listen_address "127.0.0.1:0"`, "allow_insecure_tcp"}},
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

// TestInsecureTCPAllowed: with the -allow-insecure-tcp flag, TCP serves
// SDS and the bridge warns in its log. (The config-file setting is tested
// with the daemon in package sdsbridged.)
func TestInsecureTCPAllowed(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	addr := freeport.Addr(t)

	out := start(t, nil, "run", "-agent-address", api.Socket(), "-listen", addr, "-allow-insecure-tcp")
	fetchDefault(t, addr, out)
	if !strings.Contains(out.String(), "allow_insecure_tcp") || !strings.Contains(out.String(), "level=WARN") {
		t.Errorf("no warning about the TCP listener in the log:\n%s", out.String())
	}
}

// TestSocketDirShared: with the -socket-dir-shared flag SDS is served in a
// world-writable socket directory (an emptyDir as the kubelet makes it,
// 0777) and a warning logged. (The refusal without it and the config-file
// setting are tested with the daemon in package sdsbridged.)
func TestSocketDirShared(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	dir := filepath.Join(filepath.Dir(fakeworkloadapi.SocketPath(t, "x")), "flag")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}

	out := start(t, nil, "run", "-agent-address", api.Socket(), "-listen", filepath.Join(dir, "sds.sock"), "-socket-dir-shared")
	fetchDefault(t, "unix://"+filepath.Join(dir, "sds.sock"), out)
	if !strings.Contains(out.String(), "level=WARN msg=\"socket directory declared shared") {
		t.Errorf("no warning about the shared directory in the log:\n%s", out.String())
	}
}
