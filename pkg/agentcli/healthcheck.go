package agentcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// healthcheckTimeout bounds a health check, so a wedged agent reads as
// unhealthy instead of hanging the probe.
const healthcheckTimeout = 5 * time.Second

func newHealthcheckCommand() *cobra.Command {
	var (
		client  clientFlags
		shallow bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Determines agent health status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				fmt.Fprintln(cmd.OutOrStdout(), "Checking agent health...")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), healthcheckTimeout)
			defer cancel()
			c, err := client.client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.FetchX509Context(ctx)
			if !healthy(err, shallow) {
				if verbose {
					fmt.Fprintf(cmd.ErrOrStderr(), "Failed to check health: %v\n", err)
				}
				return errors.New("agent is unhealthy: unable to determine health")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Agent is healthy.")
			return nil
		},
	}
	client.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&shallow, "shallow", false, "Perform a less stringent health check")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "Print verbose information")
	return cmd
}

// healthy reports whether a Workload API fetch result shows a working
// agent. "No identity issued" (PermissionDenied) is healthy, as in SPIRE:
// the agent answered, the caller just has no entry. A shallow check accepts
// any answer at all.
func healthy(err error, shallow bool) bool {
	switch code := status.Code(err); {
	case err == nil, code == codes.PermissionDenied:
		return true
	case shallow:
		return code != codes.Unavailable && code != codes.DeadlineExceeded && code != codes.Canceled &&
			code != codes.Unknown
	default:
		return false
	}
}
