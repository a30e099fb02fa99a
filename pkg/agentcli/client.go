package agentcli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// clientFlags are the flags every Workload API command shares.
type clientFlags struct {
	socketPath string
	timeout    time.Duration
}

func (c *clientFlags) register(fs *pflag.FlagSet, withTimeout bool) {
	fs.StringVar(&c.socketPath, "socketPath", DefaultSocketPath, "Path to the SPIRE Agent API socket")
	if withTimeout {
		fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "Time to wait for a response")
	}
}

// client connects to the Workload API socket.
func (c *clientFlags) client(ctx context.Context) (*workloadapi.Client, error) {
	if c.socketPath == "" {
		return nil, fmt.Errorf("-socketPath must not be empty")
	}
	// go-spiffe wants unix:///absolute/path.
	abs, err := filepath.Abs(c.socketPath)
	if err != nil {
		return nil, fmt.Errorf("invalid -socketPath %q: %w", c.socketPath, err)
	}
	client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+abs))
	if err != nil {
		return nil, fmt.Errorf("connect to agent socket %q: %w", c.socketPath, err)
	}
	return client, nil
}

// checkTimeout reports a -timeout that cannot work.
func (c *clientFlags) checkTimeout() error {
	if c.timeout <= 0 {
		return fmt.Errorf("-timeout must be positive, got %s", c.timeout)
	}
	return nil
}
