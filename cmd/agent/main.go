// Command svidkit-agent is the svidkit node agent: it attests to the server,
// mints and rotates workload SVIDs and serves the SPIFFE Workload API. Its
// sub-commands and flags are spire-agent's.
package main

import (
	"context"
	"os"

	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	root := agentcli.New(agentcli.Options{Run: run, Version: version})
	os.Exit(cliargs.Execute(context.Background(), root, os.Args[1:]))
}

func run(ctx context.Context, cfg *config.Agent) error {
	log, err := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	return agentd.Run(ctx, cfg, agentd.Options{Log: log})
}
