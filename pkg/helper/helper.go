package helper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
	"github.com/svidkit/svidkit/pkg/helper/reloader"
	"github.com/svidkit/svidkit/pkg/helper/svidfile"
	"github.com/svidkit/svidkit/pkg/helper/svidformat"
	"github.com/svidkit/svidkit/pkg/sockwatch"
	"github.com/svidkit/svidkit/pkg/taskrun"
	"github.com/svidkit/svidkit/pkg/wlclient"
)

// DefaultRepairInterval is how often the files on disk are checked against
// the last written set when Options.RepairInterval is zero, in addition to
// the fsnotify watch of cert_dir.
const DefaultRepairInterval = 5 * time.Second

// Options are the helper's runtime dependencies. Every field is optional.
type Options struct {
	// Log receives the helper's logs. Default: discard.
	Log *slog.Logger
	// Getenv reads SPIFFE_ENDPOINT_SOCKET and SPIRE_AGENT_ADDRESS when
	// agent_address is empty. Default os.Getenv.
	Getenv func(string) string
	// Stdout and Stderr receive cmd's output. Default os.Stdout, os.Stderr.
	Stdout, Stderr io.Writer
	// RepairInterval is how often the files are checked for tampering.
	// Default DefaultRepairInterval.
	RepairInterval time.Duration
}

// Helper writes the workload's identity documents to disk and keeps them
// current. Create it with New and start it with Run.
type Helper struct {
	cfg    *helperconfig.Config
	opts   Options
	log    *slog.Logger
	addr   string
	format svidformat.Options
	mode   svidfile.Mode

	metrics *metrics
	state   *state
	events  chan Event
	// writeFailed wakes retryLoop after a failed write; size one, so
	// failures in a burst collapse.
	writeFailed chan struct{}
}

// New checks cfg (which must have passed Validate) and returns a Helper.
// Configuration problems are returned as *ConfigError.
func New(cfg *helperconfig.Config, opts Options) (*Helper, error) {
	if cfg == nil {
		return nil, &ConfigError{Err: errors.New("helper: no configuration")}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = DefaultRepairInterval
	}
	addr, err := cfg.WorkloadAPIAddress(opts.Getenv)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("helper: %w", err)}
	}
	mode, err := svidfile.ParseMode(cfg.WriteMode)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("helper: write_mode: %w", err)}
	}
	h := &Helper{
		cfg:     cfg,
		opts:    opts,
		log:     opts.Log,
		addr:    addr,
		format:  formatOptions(cfg),
		mode:    mode,
		metrics: &metrics{},
		events:  make(chan Event, eventBuffer),

		writeFailed: make(chan struct{}, 1),
	}
	h.state = newState(cfg)
	return h, nil
}

// Address returns the Workload API address the helper dials.
func (h *Helper) Address() string { return h.addr }

// Run writes the files and, in daemon mode, keeps them current until ctx
// ends, then stops cmd (SIGTERM, see package reloader) and returns nil. In
// one-shot mode it returns once the files are written (nil) or the exit
// timeout expired (*TimeoutError). Run may be called once.
func (h *Helper) Run(ctx context.Context) error {
	opts := svidfile.Options{Mode: h.mode}
	if !h.cfg.IgnoreUmask {
		opts.Umask = svidfile.ProcessUmask() // modes as spiffe-helper's
	}
	w, err := svidfile.New(h.cfg.CertDir, opts)
	if err != nil {
		return fmt.Errorf("helper: cert_dir: %w", err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			h.log.Warn("closing the file writer failed", "error", err)
		}
	}()
	h.state.writer = w
	if !h.cfg.DaemonMode {
		return h.runOnce(ctx)
	}
	return h.runDaemon(ctx)
}

// runDaemon runs every long-lived part until ctx ends or one fails.
func (h *Helper) runDaemon(ctx context.Context) error {
	rl, err := reloader.New(reloader.Config{
		Cmd:               h.cfg.Cmd,
		Args:              h.cfg.CmdArgs,
		PIDFile:           h.cfg.PIDFileName,
		PIDFileAnyProcess: h.cfg.PIDFileAnyProcess,
		Signal:            h.cfg.RenewSignal,
		Restart:           reloader.RestartPolicy(h.cfg.RestartPolicy),
		Stdout:            h.opts.Stdout,
		Stderr:            h.opts.Stderr,
		Log:               h.log,
	})
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("helper: %w", err)}
	}
	h.state.notify = rl.Notify
	sock := sockwatch.New(h.addr, sockwatch.WithLogger(h.log))
	tasks := []taskrun.Task{
		{Name: "reloader", Run: rl.Run},
		{Name: "workload api", Run: (&wlclient.Loop{
			Session:   h.session,
			Reconnect: sock.Changed(),
			Backoff:   reconnectBackoff(),
			Address:   h.addr,
			Log:       h.log,
		}).Run},
		{Name: "socket watch", Run: sock.Run},
		{Name: "repair", Run: h.repairLoop},
		{Name: "write retry", Run: h.retryLoop},
	}
	tasks = append(tasks, h.httpTasks(rl.Counts)...)
	h.log.Info("svidkit-helper started", "mode", "daemon", "workload_api", h.addr, "cert_dir", h.cfg.CertDir)
	if err := taskrun.Run(ctx, tasks...); err != nil {
		return fmt.Errorf("helper: %w", err)
	}
	return nil
}

// formatOptions converts the configuration into svidformat options.
func formatOptions(c *helperconfig.Config) svidformat.Options {
	return svidformat.Options{
		SVIDFileName:             c.SVIDFileName,
		KeyFileName:              c.SVIDKeyFileName,
		BundleFileName:           c.SVIDBundleFileName,
		CertFileMode:             c.CertFileMode,
		KeyFileMode:              c.KeyFileMode,
		AddIntermediatesToBundle: c.AddIntermediatesToBundle,
		IncludeFederatedDomains:  c.IncludeFederatedDomains,
		BundleDir:                c.BundleDir,
		OmitExpired:              c.OmitExpired,
		KeyEncoding:              svidformat.KeyEncoding(c.KeyEncoding),
		CombinedFileName:         c.CombinedFileName,
		PKCS12FileName:           c.PKCS12FileName,
		PKCS12TrustStoreFileName: c.PKCS12TrustStoreFileName,
		PKCS12PasswordFile:       c.PKCS12PasswordFile,
		JWTBundleFileName:        c.JWTBundleFileName,
		JWTBundleFileMode:        c.JWTBundleFileMode,
		JWTSVIDFileMode:          c.JWTSVIDFileMode,
	}
}
