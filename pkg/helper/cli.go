package helper

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
	"github.com/svidkit/svidkit/pkg/logging"
)

// DefaultConfigPath is the -config default, as in spiffe-helper.
const DefaultConfigPath = "helper.conf"

// CLIOptions configures Main.
type CLIOptions struct {
	// Version is printed by -version.
	Version string
	// Stdout and Stderr are the command's outputs (and cmd's). Default
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads the environment. Default os.Getenv.
	Getenv func(string) string
	// DaemonMaxProcs, when positive, is set with runtime.GOMAXPROCS once
	// the configuration selects daemon mode, unless GOMAXPROCS is set in
	// the environment. Zero keeps the runtime's setting. See
	// DefaultDaemonMaxProcs.
	DaemonMaxProcs int
}

// DefaultDaemonMaxProcs is the GOMAXPROCS cmd/helper uses in daemon mode.
// The daemon is idle but for a write every few minutes; one P runs it
// without loss (blocking system calls such as fsync hand the P over), and
// each further P costs memory (its allocation cache, more threads): on a
// 2-CPU machine 1 instead of 2 saves about 0.3 MiB resident, more on larger
// machines without a CPU limit.
//
// The GC percentage is deliberately left at the runtime default, unlike
// the agent's 50: the helper's heap never reaches the runtime's 4 MiB
// minimum goal, so at 100 it is rarely collected, while at 50 (2 MiB goal)
// the collections themselves (mark workers, their stacks and buffers)
// raised the resident size by about 0.6 MiB in BenchmarkResidentMemoryDaemon.
const DefaultDaemonMaxProcs = 1

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

// newFlagSet returns the flag set of the command line, bound to f.
//
// The command line is parsed with the standard library's flag package, as
// spiffe-helper's is: -config and --config, -flag=value and -flag value all
// work, and boolean flags take their value after "=" (-daemon-mode=false),
// exactly as in spiffe-helper. A command framework (cobra, with pflag and
// text/template) would cost about 0.3 MB of binary and 0.35 MiB of
// resident memory for one sub-command.
func newFlagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("svidkit-helper", flag.ContinueOnError)
	// Parse errors are reported once, by Main, as "Error: …" lines; only
	// -h and -help print the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&f.config, "config", DefaultConfigPath, "path to the configuration file")
	fs.BoolVar(&f.daemonMode, "daemon-mode", true, "keep running and renew the files (false: write once and exit); overrides daemon_mode")
	fs.DurationVar(&f.timeout, "timeout", 0, "one-shot mode: give up waiting for the Workload API after this long (overrides exit_timeout; 0 waits forever)")
	fs.StringVar(&f.logLevel, "log-level", "INFO", "DEBUG, INFO, WARN or ERROR")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	return fs
}

// printUsage writes the usage text of fs to out.
func printUsage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprint(out, "Usage: svidkit-helper [run] [flags]\n\n"+
		"Write SPIFFE SVIDs and bundles to disk and keep them current (a spiffe-helper drop-in).\n"+
		"\"run\" is the same as no sub-command. Flags take one or two dashes.\n\nFlags:\n")
	fs.SetOutput(out)
	fs.PrintDefaults()
}

// parseArgs parses the command line: an optional "run" sub-command, then
// flags. It returns the flags and the set of flags given explicitly.
func parseArgs(args []string, out io.Writer) (*flags, map[string]bool, error) {
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	f := &flags{}
	fs := newFlagSet(f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, out)
			return nil, nil, err
		}
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok {
			err = fmt.Errorf("unknown flag: %s", name)
		}
		return nil, nil, &ConfigError{Err: err}
	}
	if fs.NArg() > 0 {
		return nil, nil, &ConfigError{Err: fmt.Errorf("unexpected argument %q (the only sub-command is \"run\")", fs.Arg(0))}
	}
	set := make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return f, set, nil
}

// runCommand loads the configuration, applies the flags and runs a Helper.
func runCommand(ctx context.Context, f *flags, set map[string]bool, opts CLIOptions) error {
	if f.version {
		fmt.Fprintln(opts.Stdout, opts.Version)
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
	// A value from a flag is not on a line of the file.
	if set["daemon-mode"] {
		cfg.DaemonMode = f.daemonMode
		cfg.Lines.Forget(helperconfig.TopLevel, "daemon_mode")
	}
	if set["timeout"] {
		cfg.ExitTimeout = f.timeout
		cfg.Lines.Forget(helperconfig.TopLevel, "exit_timeout")
	}
	if err := cfg.Validate(); err != nil {
		return &ConfigError{Err: err}
	}
	if cfg.DaemonMode && opts.DaemonMaxProcs > 0 && opts.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(opts.DaemonMaxProcs)
	}
	h, err := New(cfg, Options{Log: log, Getenv: opts.Getenv, Stdout: opts.Stdout, Stderr: opts.Stderr})
	if err != nil {
		return err
	}
	return h.Run(ctx)
}

// Main runs the svidkit-helper command line with args (without the program
// name) and returns the process exit code (see ExitCode). SIGTERM and
// SIGINT stop the helper gracefully. It is all cmd/helper's main does.
func Main(args []string, opts CLIOptions) int {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	f, set, err := parseArgs(args, opts.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		err = runCommand(ctx, f, set, opts)
	}
	if err == nil {
		return ExitOK
	}
	// One line per problem: a configuration error lists each on its own
	// line with its file:line.
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(opts.Stderr, "Error: %s\n", strings.TrimRight(line, "\r"))
	}
	return ExitCode(err)
}
