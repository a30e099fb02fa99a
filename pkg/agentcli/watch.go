package agentcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newWatchCommand() *cobra.Command {
	var client clientFlags
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Attaches to the Workload API and prints X.509 updates as they arrive",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := client.client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			w := &watcher{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), since: time.Now()}
			err = c.WatchX509Context(ctx, w)
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
				return nil
			}
			return fmt.Errorf("watch X.509 SVIDs: %w", err)
		},
	}
	client.register(cmd.Flags(), false)
	return cmd
}

// watcher prints each X.509 context update. go-spiffe calls it from the
// goroutine running WatchX509Context, one call at a time.
type watcher struct {
	out, errOut io.Writer
	since       time.Time
}

func (w *watcher) OnX509ContextUpdate(x *workloadapi.X509Context) {
	printX509Context(w.out, x, time.Since(w.since))
	w.since = time.Now()
}

func (w *watcher) OnX509ContextWatchError(err error) {
	if status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled) {
		return // interrupted: the watch is ending, not failing
	}
	fmt.Fprintf(w.errOut, "Failed to watch the Workload API: %v\n", err)
}
