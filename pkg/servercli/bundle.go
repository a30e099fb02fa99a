package servercli

import (
	"fmt"

	"github.com/spf13/cobra"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
)

func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Manages the trust bundle and federated bundles"}
	cmd.AddCommand(newBundleShowCommand(), newBundleListCommand(), newBundleSetCommand(),
		newBundleDeleteCommand(), newBundleCountCommand())
	return cmd
}

func newBundleShowCommand() *cobra.Command {
	var (
		admin  adminFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Prints the server's trust bundle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			format, err := checkFormat("format", format)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			b, err := bundlev1.NewBundleClient(conn).GetBundle(cmd.Context(), &bundlev1.GetBundleRequest{})
			if err != nil {
				return fmt.Errorf("get bundle: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), b)
			}
			return writeBundle(cmd.OutOrStdout(), b, format)
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", formatPEM, "The format to show the bundle (pem or spiffe)")
	return cmd
}
