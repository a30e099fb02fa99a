package csicli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/csicli"
)

// TestRejectsBadFlags: each refusal names the flag (or variable) at fault
// and the driver does not start.
func TestRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no socket dir", map[string]string{"MY_NODE_NAME": "n"}, nil, "-workload-api-socket-dir is required"},
		{"relative socket dir", map[string]string{"MY_NODE_NAME": "n"}, []string{"-workload-api-socket-dir", "sockets"}, `-workload-api-socket-dir "sockets" is not an absolute path`},
		{"no node id", nil, []string{"-workload-api-socket-dir", "/s"}, `no node ID: set -node-id, or the environment variable "MY_NODE_NAME"`},
		{"node id env named", map[string]string{"MY_NODE_NAME": "n"}, []string{"-workload-api-socket-dir", "/s", "-node-id-env", "NODE"}, `"NODE" (-node-id-env)`},
		{"bad plugin name", map[string]string{"MY_NODE_NAME": "n"}, []string{"-workload-api-socket-dir", "/s", "-plugin-name", "csi.spiffe.io/"}, "-plugin-name"},
		{"bad log level", map[string]string{"MY_NODE_NAME": "n"}, []string{"-workload-api-socket-dir", "/s", "-log-level", "LOUD"}, "log_level"},
		{"positional argument", nil, []string{"run"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := csicli.NewCommand(csicli.Options{Stdout: &out, Stderr: &out, Getenv: func(k string) string { return tt.env[k] }})
			root.SetArgs(cliargs.Normalize(tt.args))
			err := root.ExecuteContext(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			root := csicli.NewCommand(csicli.Options{Version: "v1.2.3 (commit abc)", Stdout: &out, Stderr: &out})
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if out.String() != "v1.2.3 (commit abc)\n" {
				t.Fatalf("version printed %q", out.String())
			}
		})
	}
}
