package servercli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
)

// bundleHeader precedes each bundle of `bundle list`, as in spire-server.
const bundleHeader = `****************************************
* %s
****************************************
`

func newBundleListCommand() *cobra.Command {
	var (
		admin      adminFlags
		id, format string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Lists federated bundle data",
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
			client := bundlev1.NewBundleClient(conn)
			w := cmd.OutOrStdout()
			if id != "" {
				b, err := client.GetFederatedBundle(cmd.Context(), &bundlev1.GetFederatedBundleRequest{TrustDomain: id})
				if err != nil {
					return fmt.Errorf("get federated bundle: %w", err)
				}
				if admin.output == outputJSON {
					return printJSON(w, b)
				}
				return writeBundle(w, b, format)
			}
			all := &bundlev1.ListFederatedBundlesResponse{}
			for token := ""; ; {
				resp, err := client.ListFederatedBundles(cmd.Context(), &bundlev1.ListFederatedBundlesRequest{PageToken: token})
				if err != nil {
					return fmt.Errorf("list federated bundles: %w", err)
				}
				all.Bundles = append(all.Bundles, resp.Bundles...)
				if token = resp.NextPageToken; token == "" {
					break
				}
			}
			if admin.output == outputJSON {
				return printJSON(w, all)
			}
			for i, b := range all.Bundles {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, bundleHeader, b.TrustDomain)
				if err := writeBundle(w, b, format); err != nil {
					return err
				}
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&id, "id", "", "SPIFFE ID of the trust domain")
	cmd.Flags().StringVar(&format, "format", formatPEM, "The format to list federated bundles (pem or spiffe)")
	return cmd
}

func newBundleSetCommand() *cobra.Command {
	var (
		admin            adminFlags
		id, path, format string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Creates or updates federated bundle data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if id == "" {
				return errors.New("id flag is required")
			}
			format, err := checkFormat("format", format)
			if err != nil {
				return err
			}
			data, err := readInput(cmd.InOrStdin(), "path", path, true)
			if err != nil {
				return fmt.Errorf("unable to load bundle data: %w", err)
			}
			source := "stdin"
			if path != "" && path != "-" {
				source = fmt.Sprintf("-path %q", path)
			}
			b, err := parseBundle(data, format, id, source)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := bundlev1.NewBundleClient(conn).BatchSetFederatedBundle(cmd.Context(),
				&bundlev1.BatchSetFederatedBundleRequest{Bundle: []*types.Bundle{b}})
			if err != nil {
				return fmt.Errorf("failed to set federated bundle: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			if st := resp.GetResults()[0].GetStatus(); st.GetCode() != int32(codes.OK) {
				return fmt.Errorf("failed to set federated bundle: %s", st.GetMessage())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "bundle set.")
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&id, "id", "", "SPIFFE ID of the trust domain")
	cmd.Flags().StringVar(&path, "path", "", "Path to the bundle data (default: read stdin)")
	cmd.Flags().StringVar(&format, "format", formatPEM, "The format of the bundle data (pem or spiffe)")
	return cmd
}

func newBundleDeleteCommand() *cobra.Command {
	var (
		admin    adminFlags
		id, mode string
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Deletes federated bundle data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if id == "" {
				return errors.New("id is required")
			}
			m, ok := map[string]bundlev1.BatchDeleteFederatedBundleRequest_Mode{
				"":           bundlev1.BatchDeleteFederatedBundleRequest_RESTRICT,
				"restrict":   bundlev1.BatchDeleteFederatedBundleRequest_RESTRICT,
				"dissociate": bundlev1.BatchDeleteFederatedBundleRequest_DISSOCIATE,
				"delete":     bundlev1.BatchDeleteFederatedBundleRequest_DELETE,
			}[mode]
			if !ok {
				return fmt.Errorf("unsupported mode %q: want restrict, dissociate or delete", mode)
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := bundlev1.NewBundleClient(conn).BatchDeleteFederatedBundle(cmd.Context(),
				&bundlev1.BatchDeleteFederatedBundleRequest{TrustDomains: []string{id}, Mode: m})
			if err != nil {
				return fmt.Errorf("failed to delete federated bundle: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			r := resp.GetResults()[0]
			if st := r.GetStatus(); st.GetCode() != int32(codes.OK) {
				return fmt.Errorf("failed to delete federated bundle %q: %s", r.GetTrustDomain(), st.GetMessage())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "bundle deleted.")
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&id, "id", "", "SPIFFE ID of the trust domain")
	cmd.Flags().StringVar(&mode, "mode", "restrict", "Deletion mode: one of restrict, delete, or dissociate")
	return cmd
}

func newBundleCountCommand() *cobra.Command {
	var admin adminFlags
	cmd := &cobra.Command{
		Use:   "count",
		Short: "Count bundles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := bundlev1.NewBundleClient(conn).CountBundles(cmd.Context(), &bundlev1.CountBundlesRequest{})
			if err != nil {
				return fmt.Errorf("count bundles: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintln(cmd.OutOrStdout(), plural(int(resp.GetCount()), "bundle", "bundles"))
			return nil
		},
	}
	admin.register(cmd.Flags())
	return cmd
}
