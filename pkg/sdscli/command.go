package sdscli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/logging"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
	"github.com/svidkit/svidkit/pkg/sdsbridged"
)

// Options configures NewCommand.
type Options struct {
	// Version is printed by "version" and --version.
	Version string
	// Stdout and Stderr are the command's outputs; Stderr also receives the
	// log. Default os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads the environment (SPIFFE_ENDPOINT_SOCKET). Default
	// os.Getenv.
	Getenv func(string) string
}

// Main runs the svidkit-sds command line with args (without the program
// name) and returns the exit code. SIGTERM and SIGINT stop "run"
// gracefully. It is all cmd/sds's main does.
func Main(args []string, opts Options) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return cliargs.Execute(ctx, NewCommand(opts), args)
}

// NewCommand returns the svidkit-sds command tree: "run" and "version"
// (also --version).
func NewCommand(opts Options) *cobra.Command {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	root := &cobra.Command{
		Use:           "svidkit-sds",
		Short:         "Serve the workload's SPIFFE identities to Envoy over SDS, from the Workload API",
		Version:       opts.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version as spire-server's, beside the "version" command.
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(opts.Stdout)
	root.SetErr(opts.Stderr)
	root.AddCommand(newRunCommand(opts), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), opts.Version) },
	})
	return root
}

// runFlags are run's command-line settings; set ones override the file.
type runFlags struct {
	config, agentAddress, socketMode     string
	listen                               []string
	svidName, bundleName, allBundlesName string
	disableSPIFFEValidation              bool
	allowInsecureTCP, socketDirShared    bool
	logLevel, logFormat, healthAddress   string
}

func newRunCommand(opts Options) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the SDS bridge until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd, opts.Getenv)
			if err != nil {
				return err
			}
			log, err := logging.New(opts.Stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			return sdsbridged.Run(cmd.Context(), cfg, sdsbridged.Options{Log: log})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "HCL configuration file (optional)")
	fs.StringVar(&f.agentAddress, "agent-address", "", "Workload API socket path or unix:///path, tcp://ip:port (default $"+sdsconfig.EndpointSocketEnv+")")
	fs.StringArrayVar(&f.listen, "listen", nil, "where to serve SDS: a Unix socket path, or a loopback host:port with -allow-insecure-tcp; repeatable (default "+sdsconfig.DefaultListenAddress+")")
	fs.BoolVar(&f.allowInsecureTCP, "allow-insecure-tcp", false, "permit loopback TCP listeners, from which every local user can fetch the private keys")
	fs.StringVar(&f.socketMode, "listen-socket-mode", "0660", "permissions of the Unix sockets")
	fs.BoolVar(&f.socketDirShared, "socket-dir-shared", false, "accept a socket directory other users own or may write (an emptyDir shared with Envoy)")
	fs.StringVar(&f.svidName, "default-svid-name", sdsconfig.DefaultSVIDName, "resource name of the default SVID")
	fs.StringVar(&f.bundleName, "default-bundle-name", sdsconfig.DefaultBundleName, "resource name of the workload's trust domain bundle")
	fs.StringVar(&f.allBundlesName, "default-all-bundles-name", sdsconfig.DefaultAllBundlesName, "resource name of all bundles")
	fs.BoolVar(&f.disableSPIFFEValidation, "disable-spiffe-cert-validation", false, "serve trusted_ca validation contexts instead of Envoy's SPIFFE validator")
	fs.StringVar(&f.logLevel, "log-level", sdsconfig.DefaultLogLevel, "DEBUG, INFO, WARN or ERROR")
	fs.StringVar(&f.logFormat, "log-format", sdsconfig.DefaultLogFormat, "text or json")
	fs.StringVar(&f.healthAddress, "health-address", "", "host:port of the /live, /ready and /metrics listener (enables it)")
	return cmd
}

// load builds the configuration: defaults, the file if any, set flags,
// then SPIFFE_ENDPOINT_SOCKET for a missing agent address; and validates
// it.
func (f *runFlags) load(cmd *cobra.Command, getenv func(string) string) (sdsconfig.Config, error) {
	cfg := sdsconfig.Default()
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return cfg, fmt.Errorf("read configuration: %w", err)
		}
		if cfg, err = sdsconfig.Decode(f.config, data); err != nil {
			return cfg, err
		}
	}
	// A flag overrides the file's key: messages about the value must no
	// longer point at the file's line.
	changed := func(name, key string) bool {
		if !cmd.Flags().Changed(name) {
			return false
		}
		cfg.Lines.Forget(sdsconfig.TopLevel, key)
		return true
	}
	set := func(name, key string, dst *string, v string) {
		if changed(name, key) {
			*dst = v
		}
	}
	set("agent-address", "agent_address", &cfg.AgentAddress, f.agentAddress)
	set("default-svid-name", "default_svid_name", &cfg.DefaultSVIDName, f.svidName)
	set("default-bundle-name", "default_bundle_name", &cfg.DefaultBundleName, f.bundleName)
	set("default-all-bundles-name", "default_all_bundles_name", &cfg.DefaultAllBundlesName, f.allBundlesName)
	set("log-level", "log_level", &cfg.LogLevel, f.logLevel)
	set("log-format", "log_format", &cfg.LogFormat, f.logFormat)
	if changed("listen", "listen_address") {
		cfg.ListenAddresses = f.listen
	}
	if changed("allow-insecure-tcp", "allow_insecure_tcp") {
		cfg.AllowInsecureTCP = f.allowInsecureTCP
	}
	if changed("socket-dir-shared", "socket_dir_shared") {
		cfg.SocketDirShared = f.socketDirShared
	}
	if changed("listen-socket-mode", "listen_socket_mode") {
		m, err := sdsconfig.ParseMode(f.socketMode)
		if err != nil {
			return cfg, fmt.Errorf("-listen-socket-mode: %w", err)
		}
		cfg.ListenSocketMode = m
	}
	if changed("disable-spiffe-cert-validation", "disable_spiffe_cert_validation") {
		cfg.DisableSPIFFECertValidation = f.disableSPIFFEValidation
	}
	if changed("health-address", "health_checks") {
		for _, key := range []string{"listener_enabled", "bind_address", "bind_port"} {
			cfg.Lines.Forget(sdsconfig.HealthBlock, key)
		}
		if err := setHealthAddress(&cfg.HealthChecks, f.healthAddress); err != nil {
			return cfg, err
		}
	}
	cfg.ResolveAgentAddress(getenv)
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
