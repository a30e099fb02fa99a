package servercli

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/svidkit/svidkit/pkg/config"
)

// newMigrateCommand returns `migrate`: bring the configured datastore's
// schema up to date and exit. Operators run it during a rolling upgrade,
// when the servers have disable_migration set and the old ones are gone.
func newMigrateCommand(opts Options) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrates the datastore's schema to this version and exits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Migrate == nil {
				return errors.New("migrate: no datastore implementation configured")
			}
			cfg, warnings, err := config.LoadServer(configPath)
			config.PrintWarnings(cmd.ErrOrStderr(), warnings)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return opts.Migrate(ctx, cfg)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", DefaultConfigPath, "Path to a SPIRE config file")
	return cmd
}
