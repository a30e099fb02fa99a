// Command svidkit-agent is the svidkit node agent: it attests to the server,
// mints and rotates workload SVIDs and serves the SPIFFE Workload API. Its
// sub-commands and flags are spire-agent's:
//
//	svidkit-agent run -config agent.conf
//	svidkit-agent api fetch x509|jwt | api watch
//	svidkit-agent healthcheck | validate
//
// This file only builds the command tree (pkg/agentcli), sets the agent's
// GC target and runs the daemon (pkg/agentd), which wires the core:
// pkg/agent and the packages under it. docs/architecture.md maps every
// package.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/logging"
	"github.com/svidkit/svidkit/pkg/version"
)

// gcPercent is the agent's GOGC unless the environment sets one. Go's
// default of 100 lets the heap grow to twice the live data before
// collecting. The agent's live data is small (about 6 MB for 1,000 SVIDs)
// but its allocation is bursty (minting, syncing), so at 100 much of its
// resident size is garbage awaiting collection. 50 bounds that slack to half
// the live heap, for more frequent collections of a small heap, which cost
// little CPU at the agent's allocation rate. Measured with 1,000 entries
// (internal/e2e BenchmarkResidentMemory): about 23.5 MiB resident at 50,
// 27-29.5 MiB at 100; idle it costs about 0.8 MiB more. No memory limit is
// set: the live heap grows with the number of entries, and a fixed limit
// below it would only make the GC run continuously.
const gcPercent = 50

func main() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	root := agentcli.New(agentcli.Options{Run: run, Version: version.Get().String()})
	os.Exit(cliargs.Execute(context.Background(), root, os.Args[1:]))
}

func run(ctx context.Context, cfg *config.Agent) error {
	log, err := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	return agentd.Run(ctx, cfg, agentd.Options{Log: log})
}
