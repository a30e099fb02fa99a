// Package servercli builds the svidkit-server command tree. Sub-commands and
// flags follow spire-server's (run, validate, healthcheck, entry, token,
// bundle, federation, agent) so SPIRE runbooks work; the admin commands talk to a
// running server over its admin Unix socket with the spire-api-sdk clients.
package servercli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/svidkit/svidkit/pkg/config"
)

// DefaultSocketPath is the admin socket SPIRE's server listens on by default.
const DefaultSocketPath = "/tmp/spire-server/private/api.sock"

// DefaultConfigPath is the configuration file `run` and `validate` read
// when -config is not given (SPIRE's default).
const DefaultConfigPath = "conf/server/server.conf"

// Options connects the command tree to the server implementation.
type Options struct {
	// Run starts the server with cfg and returns when ctx is cancelled
	// (SIGINT or SIGTERM) or the server fails.
	Run func(ctx context.Context, cfg *config.Server) error
	// Migrate brings the datastore cfg names up to date and returns
	// (the migrate command).
	Migrate func(ctx context.Context, cfg *config.Server) error
	// Version is printed by --version; empty hides the flag.
	Version string
}

// New returns the svidkit-server root command. Feed it arguments through
// cliargs.Normalize so SPIRE's single-dash long flags work.
func New(opts Options) *cobra.Command {
	root := &cobra.Command{
		Use:           "svidkit-server",
		Short:         "SPIFFE identity server, compatible with SPIRE's server APIs",
		Version:       opts.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	// spire-server --version prints the version alone on a line.
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(
		newRunCommand(opts),
		newValidateCommand(),
		newMigrateCommand(opts),
		newHealthcheckCommand(),
		newEntryCommand(),
		newTokenCommand(),
		newBundleCommand(),
		newFederationCommand(),
		newAgentCommand(),
	)
	return root
}
