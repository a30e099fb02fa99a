package agentcli_test

import (
	"bytes"
	"testing"

	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/cliargs"
)

// TestVersionFlag checks --version (and SPIRE's -version) prints the
// version alone on a line, as spire-agent --version does.
func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"--version", "-version"} {
		t.Run(flag, func(t *testing.T) {
			var out bytes.Buffer
			root := agentcli.New(agentcli.Options{Version: "v1.2.3 (commit abc)"})
			root.SetOut(&out)
			root.SetArgs(cliargs.Normalize([]string{flag}))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if out.String() != "v1.2.3 (commit abc)\n" {
				t.Fatalf("%s printed %q", flag, out.String())
			}
		})
	}
}
