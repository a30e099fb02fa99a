// Command svidkit-server is the svidkit SPIFFE server: CA, registration
// entries, node attestation and SPIRE-compatible APIs. Its sub-commands and
// flags are spire-server's:
//
//	svidkit-server run -config server.conf
//	svidkit-server entry create|show|update|delete|count …
//	svidkit-server token generate | bundle show | agent list|show|ban|evict
//	svidkit-server healthcheck | validate | migrate
//
// This file only builds the command tree (pkg/servercli) and runs the
// daemon (pkg/serverd), which wires the core: pkg/server and the packages
// under it. docs/architecture.md maps every package.
package main

import (
	"context"
	"os"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/logging"
	"github.com/svidkit/svidkit/pkg/servercli"
	"github.com/svidkit/svidkit/pkg/serverd"
	"github.com/svidkit/svidkit/pkg/version"
)

func main() {
	root := servercli.New(servercli.Options{Run: run, Migrate: migrate, Version: version.Get().String()})
	os.Exit(cliargs.Execute(context.Background(), root, os.Args[1:]))
}

func run(ctx context.Context, cfg *config.Server) error {
	log, err := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	serverd.RouteKlog(log) // once per process: klog is global
	return serverd.Run(ctx, cfg, serverd.Options{Log: log})
}

func migrate(ctx context.Context, cfg *config.Server) error {
	log, err := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	return serverd.Migrate(ctx, cfg, log)
}
