// Command demo runs svidkit's three integration patterns side by side
// (package internal/demo); `go tool task demo` builds it as bin/demo and
// runs it as
//
//	bin/demo -bin bin -dir .demo
//
// SVIDKIT_DEMO_SECONDS stops it after that many seconds (default: at
// Ctrl-C) and SVIDKIT_DEMO_TTL sets the X.509-SVID lifetime (default 20s).
// "demo tlsserver -dir D -socket S" is the TLS server the sidecar helper
// runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "tlsserver" {
		err = tlsServer(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory of the svidkit binaries (go tool task build)")
	dir := fs.String("dir", ".demo", "directory for state, logs and summary.json (emptied first)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := envSeconds("SVIDKIT_DEMO_SECONDS", 0)
	if err != nil {
		return err
	}
	ttl, err := envSeconds("SVIDKIT_DEMO_TTL", demo.DefaultSVIDTTL)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	cfg := demo.Config{Bin: absBin, Dir: absDir, Self: self, Duration: secs, SVIDTTL: ttl, Out: os.Stdout}
	if ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ); err == nil {
		cfg.Terminal, cfg.Width = true, int(ws.Col)
	}
	_, err = demo.Run(ctx, cfg)
	return err
}

// envSeconds reads a whole number of seconds from the environment.
func envSeconds(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number of seconds", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

func tlsServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tlsserver", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of svid.pem and svid_key.pem")
	sock := fs.String("socket", "", "Unix socket to serve TLS on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Stop with the helper that started us, even if it is killed.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl: %w", err)
	}
	return demo.RunTLSServer(ctx, *dir, *sock, os.Stdout)
}
