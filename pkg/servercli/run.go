package servercli

import (
	"errors"
	"fmt"
	"io"
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
	data, err := os.ReadFile(f.configPath)
	if err != nil {
		return nil, fmt.Errorf("read -config: %w", err)
	}
	cfg, warnings, err := config.DecodeServer(f.configPath, data)
	printWarnings(cmd.ErrOrStderr(), warnings)
	if err != nil {
		return nil, err
	}
	fs := cmd.Flags()
	// A value from a flag is not on a line of the file.
	forget := func(key string) { cfg.Lines.Forget(config.ServerBlock, key) }
	if fs.Changed("trustDomain") {
		td, err := spiffeid.TrustDomainFromString(f.trustDomain)
		if err != nil {
			return nil, fmt.Errorf("invalid -trustDomain %q: %w", f.trustDomain, err)
		}
		cfg.TrustDomain = td
	}
	if fs.Changed("bindAddress") {
		cfg.BindAddress = f.bindAddress
		forget("bind_address")
	}
	if fs.Changed("serverPort") {
		cfg.BindPort = f.serverPort
		forget("bind_port")
	}
	if fs.Changed("socketPath") {
		cfg.SocketPath = f.socketPath
		forget("socket_path")
	}
	if fs.Changed("dataDir") {
		cfg.DataDir = f.dataDir
	}
	if fs.Changed("logLevel") {
		cfg.LogLevel = f.logLevel
		forget("log_level")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newValidateCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validates a server configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, warnings, err := config.LoadServer(configPath)
			printWarnings(cmd.ErrOrStderr(), warnings)
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

// printWarnings writes each configuration warning on its own line.
func printWarnings(w io.Writer, warnings []string) {
	for _, msg := range warnings {
		fmt.Fprintf(w, "Warning: %s\n", msg)
	}
}
