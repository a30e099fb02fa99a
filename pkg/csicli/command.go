package csicli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csid"
	"github.com/svidkit/svidkit/pkg/logging"
)

// Options configures NewCommand.
type Options struct {
	// Version is printed by "version" and reported as the driver's vendor
	// version.
	Version string
	// Stdout and Stderr are the command's outputs; Stderr also receives the
	// log. Default os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads the environment (the node ID variable). Default
	// os.Getenv.
	Getenv func(string) string
}

// Main runs the svidkit-csi command line with args (without the program
// name) and returns the exit code. SIGTERM and SIGINT stop the driver
// gracefully. It is all cmd/csi's main does.
func Main(args []string, opts Options) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return cliargs.Execute(ctx, NewCommand(opts), args)
}

// flags are spiffe-csi-driver's settings, plus logging and health.
type flags struct {
	socketDir, csiSocket, pluginName string
	nodeID, nodeIDEnv                string
	logLevel, logFormat, health      string
}

// NewCommand returns the svidkit-csi command tree: the root runs the
// driver (spiffe-csi-driver has no sub-command), "version" (or --version)
// prints the version.
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
	var f flags
	root := &cobra.Command{
		Use:           "svidkit-csi",
		Short:         "CSI node plugin publishing the Workload API socket directory into pods",
		Args:          cobra.NoArgs,
		Version:       opts.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(opts)
			if err != nil {
				return err
			}
			log, err := logging.New(opts.Stderr, f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			return csid.Run(cmd.Context(), cfg, log)
		},
	}
	// --version as spire-server's, beside the "version" command.
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(opts.Stdout)
	root.SetErr(opts.Stderr)
	fs := root.Flags()
	fs.StringVar(&f.socketDir, "workload-api-socket-dir", "", "directory holding the agent's Workload API socket, published into pods (required)")
	fs.StringVar(&f.csiSocket, "csi-socket-path", "/spiffe-csi/csi.sock", "path of the CSI socket the kubelet dials")
	fs.StringVar(&f.pluginName, "plugin-name", csi.DefaultPluginName, "CSI driver name, as the CSIDriver object and pods' volumes name it")
	fs.StringVar(&f.nodeID, "node-id", "", "node ID; if unset, read from the variable -node-id-env names")
	fs.StringVar(&f.nodeIDEnv, "node-id-env", "MY_NODE_NAME", "environment variable holding the node ID; overridden by -node-id")
	fs.StringVar(&f.logLevel, "log-level", "INFO", "DEBUG, INFO, WARN or ERROR")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.health, "health-address", "", "host:port of the /live, /ready and /metrics listener (enables it)")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), opts.Version) },
	})
	return root
}
