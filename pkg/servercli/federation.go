package servercli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	trustdomainv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/trustdomain/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func newFederationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Short: "Manages dynamic federation relationships"}
	cmd.AddCommand(newFederationCreateCommand(), newFederationUpdateCommand(), newFederationListCommand(),
		newFederationShowCommand(), newFederationDeleteCommand(), newFederationRefreshCommand())
	return cmd
}

func newFederationCreateCommand() *cobra.Command {
	return newFederationWriteCommand("create", "Creates a dynamic federation relationship with a foreign trust domain",
		func(ctx context.Context, c trustdomainv1.TrustDomainClient, rs []*types.FederationRelationship) (proto.Message, []relationshipResult, error) {
			resp, err := c.BatchCreateFederationRelationship(ctx, &trustdomainv1.BatchCreateFederationRelationshipRequest{FederationRelationships: rs})
			results := make([]relationshipResult, len(resp.GetResults()))
			for i, r := range resp.GetResults() {
				results[i] = r
			}
			return resp, results, err
		})
}

func newFederationUpdateCommand() *cobra.Command {
	return newFederationWriteCommand("update", "Updates a dynamic federation relationship with a foreign trust domain",
		func(ctx context.Context, c trustdomainv1.TrustDomainClient, rs []*types.FederationRelationship) (proto.Message, []relationshipResult, error) {
			resp, err := c.BatchUpdateFederationRelationship(ctx, &trustdomainv1.BatchUpdateFederationRelationshipRequest{FederationRelationships: rs})
			results := make([]relationshipResult, len(resp.GetResults()))
			for i, r := range resp.GetResults() {
				results[i] = r
			}
			return resp, results, err
		})
}

// relationshipResult is what create and update results have in common.
type relationshipResult interface {
	GetStatus() *types.Status
	GetFederationRelationship() *types.FederationRelationship
}

// newFederationWriteCommand builds `federation create` and `federation
// update`, which share flags and output and differ only in the RPC.
func newFederationWriteCommand(verb, short string,
	call func(context.Context, trustdomainv1.TrustDomainClient, []*types.FederationRelationship) (proto.Message, []relationshipResult, error)) *cobra.Command {
	var (
		admin adminFlags
		flags relationshipFlags
	)
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			rs, err := flags.relationships(cmd)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, results, err := call(cmd.Context(), trustdomainv1.NewTrustDomainClient(conn), rs)
			if err != nil {
				return fmt.Errorf("request failed: %w", err)
			}
			if admin.output == outputJSON {
				if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
					return err
				}
			}
			failed := 0
			for i, r := range results {
				if r.GetStatus().GetCode() == int32(codes.OK) {
					if admin.output == outputPretty {
						fmt.Fprintln(cmd.OutOrStdout())
						printRelationship(cmd.OutOrStdout(), r.GetFederationRelationship())
					}
					continue
				}
				failed++
				w := cmd.ErrOrStderr()
				fmt.Fprintln(w)
				fmt.Fprintf(w, "Failed to %s the following federation relationship (code: %s, msg: %q):\n",
					verb, codes.Code(r.GetStatus().GetCode()), r.GetStatus().GetMessage())
				if i < len(rs) {
					printRelationship(w, rs[i])
				}
			}
			if failed > 0 {
				return fmt.Errorf("failed to %s one or more federation relationships", verb)
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	flags.register(cmd.Flags())
	return cmd
}

// printRelationship writes a relationship as spire-server prints it.
func printRelationship(w io.Writer, r *types.FederationRelationship) {
	fmt.Fprintf(w, "Trust domain              : %s\n", r.GetTrustDomain())
	fmt.Fprintf(w, "Bundle endpoint URL       : %s\n", r.GetBundleEndpointUrl())
	switch p := r.GetBundleEndpointProfile().(type) {
	case *types.FederationRelationship_HttpsWeb:
		fmt.Fprintf(w, "Bundle endpoint profile   : %s\n", profileHTTPSWeb)
	case *types.FederationRelationship_HttpsSpiffe:
		fmt.Fprintf(w, "Bundle endpoint profile   : %s\n", profileHTTPSSPIFFE)
		fmt.Fprintf(w, "Endpoint SPIFFE ID        : %s\n", p.HttpsSpiffe.GetEndpointSpiffeId())
	}
}

func newFederationListCommand() *cobra.Command {
	var admin adminFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Lists all dynamic federation relationships",
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
			client := trustdomainv1.NewTrustDomainClient(conn)
			all := &trustdomainv1.ListFederationRelationshipsResponse{}
			for token := ""; ; {
				resp, err := client.ListFederationRelationships(cmd.Context(), &trustdomainv1.ListFederationRelationshipsRequest{PageToken: token})
				if err != nil {
					return fmt.Errorf("error listing federation relationship: %w", err)
				}
				all.FederationRelationships = append(all.FederationRelationships, resp.FederationRelationships...)
				if token = resp.NextPageToken; token == "" {
					break
				}
			}
			w := cmd.OutOrStdout()
			if admin.output == outputJSON {
				return printJSON(w, all)
			}
			fmt.Fprintf(w, "Found %s\n", plural(len(all.FederationRelationships), "federation relationship", "federation relationships"))
			for _, r := range all.FederationRelationships {
				fmt.Fprintln(w)
				printRelationship(w, r)
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	return cmd
}

func newFederationShowCommand() *cobra.Command {
	var (
		admin       adminFlags
		trustDomain string
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Shows a dynamic federation relationship",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if trustDomain == "" {
				return errors.New("a trust domain name is required (-trustDomain)")
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			r, err := trustdomainv1.NewTrustDomainClient(conn).GetFederationRelationship(cmd.Context(),
				&trustdomainv1.GetFederationRelationshipRequest{TrustDomain: trustDomain})
			if err != nil {
				return fmt.Errorf("error showing federation relationship: %w", err)
			}
			w := cmd.OutOrStdout()
			if admin.output == outputJSON {
				return printJSON(w, r)
			}
			fmt.Fprintf(w, "Found a federation relationship with trust domain %s:\n\n", trustDomain)
			printRelationship(w, r)
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&trustDomain, "trustDomain", "", "The trust domain name of the federation relationship to show")
	return cmd
}

func newFederationDeleteCommand() *cobra.Command {
	var (
		admin adminFlags
		id    string
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Deletes a dynamic federation relationship",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if id == "" {
				return errors.New("id is required")
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := trustdomainv1.NewTrustDomainClient(conn).BatchDeleteFederationRelationship(cmd.Context(),
				&trustdomainv1.BatchDeleteFederationRelationshipRequest{TrustDomains: []string{id}})
			if err != nil {
				return fmt.Errorf("failed to delete federation relationship: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			r := resp.GetResults()[0]
			if st := r.GetStatus(); st.GetCode() != int32(codes.OK) {
				return fmt.Errorf("failed to delete federation relationship %q: %s", r.GetTrustDomain(), st.GetMessage())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "federation relationship deleted.")
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&id, "id", "", "SPIFFE ID of the trust domain")
	return cmd
}

func newFederationRefreshCommand() *cobra.Command {
	var (
		admin adminFlags
		id    string
	)
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Refreshes the bundle from the specified federated trust domain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if id == "" {
				return errors.New("id is required")
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = trustdomainv1.NewTrustDomainClient(conn).RefreshBundle(cmd.Context(), &trustdomainv1.RefreshBundleRequest{TrustDomain: id})
			switch status.Code(err) {
			case codes.OK:
			case codes.NotFound:
				return fmt.Errorf("there is no federation relationship with trust domain %q", id)
			default:
				return fmt.Errorf("failed to refresh bundle: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), okAPIStatus())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Bundle refreshed")
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&id, "id", "", "SPIFFE ID of the trust domain")
	return cmd
}

// okAPIStatus is the status spire-server prints for a JSON refresh.
func okAPIStatus() *types.Status { return &types.Status{Code: int32(codes.OK), Message: "OK"} }
