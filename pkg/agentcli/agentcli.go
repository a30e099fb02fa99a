// Package agentcli builds the svidkit-agent command tree. Sub-commands and
// flags follow spire-agent's (run, validate, api fetch x509|jwt, api watch,
// healthcheck) so SPIRE runbooks work; the api and healthcheck commands are
// plain Workload API clients (go-spiffe) and work against any SPIFFE agent.
package agentcli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/svidkit/svidkit/pkg/config"
)

// DefaultSocketPath is the Workload API socket SPIRE's agent serves by
// default.
const DefaultSocketPath = "/tmp/spire-agent/public/api.sock"

// DefaultConfigPath is the configuration file `run` and `validate` read
// when -config is not given (SPIRE's default).
const DefaultConfigPath = "conf/agent/agent.conf"

// Options connects the command tree to the agent implementation.
type Options struct {
	// Run starts the agent with cfg and returns when ctx is cancelled
	// (SIGINT or SIGTERM) or the agent fails. The configuration has been
	// validated except for the join token, which only matters when the
	// agent holds no SVID yet: Run should call cfg.CheckJoinToken.
	Run func(ctx context.Context, cfg *config.Agent) error
	// Version is printed by --version; empty hides the flag.
	Version string
}

// New returns the svidkit-agent root command. Feed it arguments through
// cliargs.Normalize (or cliargs.Execute) so SPIRE's single-dash long flags
// work.
func New(opts Options) *cobra.Command {
	root := &cobra.Command{
		Use:           "svidkit-agent",
		Short:         "SPIFFE workload identity agent, compatible with SPIRE's agent",
		Version:       opts.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	// spire-server --version prints the version alone on a line.
	root.SetVersionTemplate("{{.Version}}\n")
	api := &cobra.Command{Use: "api", Short: "Calls the Workload API"}
	fetch := &cobra.Command{Use: "fetch", Short: "Fetches SVIDs and bundles from the Workload API"}
	fetch.AddCommand(newFetchX509Command(), newFetchJWTCommand())
	api.AddCommand(fetch, newWatchCommand())
	root.AddCommand(newRunCommand(opts), newValidateCommand(), newHealthcheckCommand(), api)
	return root
}
