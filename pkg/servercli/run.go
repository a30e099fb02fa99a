package servercli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/svidkit/svidkit/pkg/config"
)

// runFlags are the flags of `run` that override configuration file values.
type runFlags struct {
	configPath  string
	trustDomain string
	bindAddress string
	serverPort  int
	socketPath  string
	dataDir     string
	logLevel    string
}

func newRunCommand(opts Options) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Runs the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Run == nil {
				return errors.New("run: no server implementation configured")
			}
			cfg, err := loadServerConfig(cmd, &f)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return opts.Run(ctx, cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.configPath, "config", DefaultConfigPath, "Path to a SPIRE config file")
	fs.StringVar(&f.trustDomain, "trustDomain", "", "The trust domain that this server belongs to")
	fs.StringVar(&f.bindAddress, "bindAddress", "", "IP address or DNS name of the SPIRE server")
	fs.IntVar(&f.serverPort, "serverPort", 0, "Port number of the SPIRE server")
	fs.StringVar(&f.socketPath, "socketPath", "", "Path to bind the SPIRE Server API socket to")
	fs.StringVar(&f.dataDir, "dataDir", "", "Directory to store runtime data to")
	fs.StringVar(&f.logLevel, "logLevel", "", "DEBUG, INFO, WARN or ERROR")
	return cmd
}

// loadServerConfig reads the file, applies the flags that were set, then
// validates, printing configuration warnings to stderr.
func loadServerConfig(cmd *cobra.Command, f *runFlags) (*config.Server, error) {
	cfg, warnings, err := config.LoadServerFlags(f.configPath, cmd.Flags().Changed, []config.Override[*config.Server]{
		{Flag: "trustDomain", Key: "trust_domain", Apply: func(c *config.Server) error {
			td, err := spiffeid.TrustDomainFromString(f.trustDomain)
			if err != nil {
				return fmt.Errorf("invalid -trustDomain %q: %w", f.trustDomain, err)
			}
			c.TrustDomain = td
			return nil
		}},
		{Flag: "bindAddress", Key: "bind_address", Apply: func(c *config.Server) error { c.BindAddress = f.bindAddress; return nil }},
		{Flag: "serverPort", Key: "bind_port", Apply: func(c *config.Server) error { c.BindPort = f.serverPort; return nil }},
		{Flag: "socketPath", Key: "socket_path", Apply: func(c *config.Server) error { c.SocketPath = f.socketPath; return nil }},
		{Flag: "dataDir", Key: "data_dir", Apply: func(c *config.Server) error { c.DataDir = f.dataDir; return nil }},
		{Flag: "logLevel", Key: "log_level", Apply: func(c *config.Server) error { c.LogLevel = f.logLevel; return nil }},
	})
	config.PrintWarnings(cmd.ErrOrStderr(), warnings)
	return cfg, err
}

func newValidateCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validates a server configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, warnings, err := config.LoadServer(configPath)
			config.PrintWarnings(cmd.ErrOrStderr(), warnings)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "Configuration is valid.")
			return err
		},
	}
	cmd.Flags().StringVar(&configPath, "config", DefaultConfigPath, "Path to a SPIRE config file")
	return cmd
}
