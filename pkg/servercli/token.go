package servercli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manages join tokens"}
	cmd.AddCommand(newTokenGenerateCommand())
	return cmd
}

func newTokenGenerateCommand() *cobra.Command {
	var (
		admin    adminFlags
		spiffeID string
		ttl      int
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generates a join token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if ttl <= 0 {
				return errors.New("-ttl must be positive")
			}
			req := &agentv1.CreateJoinTokenRequest{Ttl: int32(ttl)}
			if spiffeID != "" {
				id, err := parseID("spiffeID", spiffeID)
				if err != nil {
					return err
				}
				req.AgentId = id
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			token, err := agentv1.NewAgentClient(conn).CreateJoinToken(cmd.Context(), req)
			if err != nil {
				return fmt.Errorf("generate token: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), token)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Token: %s\n", token.GetValue())
			if spiffeID == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "Warning: Missing SPIFFE ID.")
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&spiffeID, "spiffeID", "", "Additional SPIFFE ID to assign the token owner (optional)")
	cmd.Flags().IntVar(&ttl, "ttl", 600, "Token TTL in seconds")
	return cmd
}
