package e2e_test

import (
	"bytes"
	"context"
	"strings"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/servercli"
)

// runServerCLI runs the svidkit-server command line with args against the
// admin socket of s, as the binary's main would, and returns its exit
// code and output.
func runServerCLI(s *testenv.Server, args ...string) (code int, stdout, stderr string) {
	return runServerCLIInput(s, "", args...)
}

// runServerCLIInput is runServerCLI with stdin.
func runServerCLIInput(s *testenv.Server, stdin string, args ...string) (code int, stdout, stderr string) {
	return runServerCLIAt(s.Layout.AdminSocket, stdin, args...)
}

// runServerCLIAt is runServerCLIInput against the admin socket at socket,
// for servers running as child processes.
func runServerCLIAt(socket, stdin string, args ...string) (code int, stdout, stderr string) {
	root := servercli.New(servercli.Options{})
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	code = cliargs.Execute(context.Background(), root, append(args, "-socketPath", socket))
	return code, out.String(), errOut.String()
}
