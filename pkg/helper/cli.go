package helper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/helperconfig"
	"github.com/svidkit/svidkit/pkg/logging"
)

// DefaultConfigPath is the -config default, as in spiffe-helper.
const DefaultConfigPath = "helper.conf"

// CLIOptions configures NewCommand.
type CLIOptions struct {
	// Version is printed by -version.
	Version string
	// Stdout and Stderr are the command's outputs (and cmd's). Default
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads the environment. Default os.Getenv.
	Getenv func(string) string
	// DaemonGCPercent, when positive, is set with debug.SetGCPercent once
	// the configuration selects daemon mode, unless GOGC is set in the
	// environment. Zero keeps the runtime's setting. See DefaultGCPercent.
	DaemonGCPercent int
}

// DefaultGCPercent is the GOGC cmd/helper uses in daemon mode, the agent's
// value. The daemon's live heap is small (well under 1 MiB: one X.509
// context, a few JWTs, gRPC buffers) and the runtime's minimum heap goal is
// 4 MiB × GOGC/100, so at the default of 100 the heap may hold up to 4 MiB
// of garbage before a collection; at 50 the goal is 2 MiB. Collections of
// such a heap cost microseconds and happen only on updates. One-shot mode
// keeps the runtime default: it exits before a collection would pay off.
const DefaultGCPercent = 50

// flags are the command-line settings, shared by the root command
// (spiffe-helper's form: svidkit-helper -config f) and "run".
type flags struct {
	config     string
	daemonMode bool
	timeout    time.Duration
	logLevel   string
	logFormat  string
	version    bool
}

func (f *flags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", DefaultConfigPath, "path to the configuration file")
	fs.BoolVar(&f.daemonMode, "daemon-mode", true, "keep running and renew the files (false: write once and exit); overrides daemon_mode")
	fs.DurationVar(&f.timeout, "timeout", 0, "one-shot mode: give up waiting for the Workload API after this long (overrides exit_timeout; 0 waits forever)")
	fs.StringVar(&f.logLevel, "log-level", "INFO", "DEBUG, INFO, WARN or ERROR")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
}

// NewCommand returns the svidkit-helper command tree: the root command
// takes spiffe-helper's flags (-config, -daemon-mode, -version) plus
// -timeout, and "run" takes the same flags in cobra style.
func NewCommand(opts CLIOptions) *cobra.Command {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	var rootFlags, runFlags flags
	root := &cobra.Command{
		Use:           "svidkit-helper",
		Short:         "Write SPIFFE SVIDs and bundles to disk and keep them current (a spiffe-helper drop-in)",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCommand(cmd, &rootFlags, opts)
		},
	}
	rootFlags.register(root)
	run := &cobra.Command{
		Use:   "run",
		Short: "Run the helper (the same as the root command)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCommand(cmd, &runFlags, opts)
		},
	}
	runFlags.register(run)
	root.AddCommand(run)
	// Flag errors are usage errors: exit code 1, not 3.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ConfigError{Err: err} })
	root.SetOut(opts.Stdout)
	root.SetErr(opts.Stderr)
	return root
}

// runCommand loads the configuration, applies the flags and runs a Helper.
func runCommand(cmd *cobra.Command, f *flags, opts CLIOptions) error {
	if f.version {
		fmt.Fprintln(cmd.OutOrStdout(), opts.Version)
		return nil
	}
	log, err := logging.New(opts.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		return &ConfigError{Err: err}
	}
	data, err := os.ReadFile(f.config)
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("read configuration: %w", err)}
	}
	cfg, warnings, err := helperconfig.Decode(f.config, data)
	for _, w := range warnings {
		log.Warn(w)
	}
	if err != nil {
		return &ConfigError{Err: err}
	}
	if cmd.Flags().Changed("daemon-mode") {
		cfg.DaemonMode = f.daemonMode
	}
	if cmd.Flags().Changed("timeout") {
		cfg.ExitTimeout = f.timeout
	}
	if err := cfg.Validate(); err != nil {
		return &ConfigError{Err: fmt.Errorf("%s: %w", f.config, err)}
	}
	if cfg.DaemonMode && opts.DaemonGCPercent > 0 && opts.Getenv("GOGC") == "" {
		debug.SetGCPercent(opts.DaemonGCPercent)
	}
	h, err := New(cfg, Options{Log: log, Getenv: opts.Getenv, Stdout: opts.Stdout, Stderr: opts.Stderr})
	if err != nil {
		return err
	}
	return h.Run(cmd.Context())
}

// Main runs the svidkit-helper command line with args (without the program
// name) and returns the process exit code (see ExitCode). SIGTERM and
// SIGINT stop the helper gracefully. It is all cmd/helper's main does.
func Main(args []string, opts CLIOptions) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	root := NewCommand(opts)
	root.SetArgs(cliargs.Normalize(args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	fmt.Fprintf(root.ErrOrStderr(), "Error: %s\n", oneLine(err.Error()))
	return code
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return &ConfigError{Err: err}
	}
	return nil
}
