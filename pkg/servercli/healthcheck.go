package servercli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthcheckTimeout bounds a health check, so a wedged server reads as
// unhealthy instead of hanging the probe.
const healthcheckTimeout = 5 * time.Second

func newHealthcheckCommand() *cobra.Command {
	var (
		socketPath string
		shallow    bool
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Determines server health status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if verbose {
				fmt.Fprintln(out, "Checking server health...")
			}
			admin := adminFlags{socketPath: socketPath}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), healthcheckTimeout)
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			switch {
			case err != nil:
				if verbose {
					fmt.Fprintf(cmd.ErrOrStderr(), "Failed to check health: %v\n", err)
				}
				return errors.New("server is unhealthy: unable to determine health")
			case shallow:
				// A shallow check only asks whether the server answers.
			case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
				return fmt.Errorf("server is unhealthy: status %s", resp.GetStatus())
			}
			fmt.Fprintln(out, "Server is healthy.")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socketPath, "socketPath", DefaultSocketPath, "Path to the SPIRE Server API socket")
	fs.BoolVar(&shallow, "shallow", false, "Perform a less stringent health check")
	fs.BoolVar(&verbose, "verbose", false, "Print verbose information")
	return cmd
}
