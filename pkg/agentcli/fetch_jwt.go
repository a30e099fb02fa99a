package agentcli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

func newFetchJWTCommand() *cobra.Command {
	var (
		client    clientFlags
		audiences []string
		spiffeID  string
	)
	cmd := &cobra.Command{
		Use:   "jwt",
		Short: "Fetches a JWT-SVID and the JWT bundles from the Workload API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := client.checkTimeout(); err != nil {
				return err
			}
			if len(audiences) == 0 || audiences[0] == "" {
				return errors.New("-audience is required")
			}
			params := jwtsvid.Params{Audience: audiences[0], ExtraAudiences: audiences[1:]}
			if spiffeID != "" {
				id, err := spiffeid.FromString(spiffeID)
				if err != nil {
					return fmt.Errorf("invalid -spiffeID %q: %w", spiffeID, err)
				}
				params.Subject = id
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), client.timeout)
			defer cancel()
			c, err := client.client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			svids, err := c.FetchJWTSVIDs(ctx, params)
			if err != nil {
				return fmt.Errorf("fetch JWT-SVID: %w", err)
			}
			bundles, err := c.FetchJWTBundles(ctx)
			if err != nil {
				return fmt.Errorf("fetch JWT bundles: %w", err)
			}
			return printJWT(cmd.OutOrStdout(), svids, bundles)
		},
	}
	client.register(cmd.Flags(), true)
	cmd.Flags().StringSliceVar(&audiences, "audience", nil, "Comma-separated list of audience values (may be repeated)")
	cmd.Flags().StringVar(&spiffeID, "spiffeID", "", "SPIFFE ID subject (optional)")
	return cmd
}

// printJWT writes tokens and bundles as spire-agent does.
func printJWT(w io.Writer, svids []*jwtsvid.SVID, bundles *jwtbundle.Set) error {
	for _, s := range svids {
		fmt.Fprintf(w, "token(%s):\n\t%s\n", s.ID, s.Marshal())
		if s.Hint != "" {
			fmt.Fprintf(w, "hint(%s):\n\t%s\n", s.ID, s.Hint)
		}
	}
	for _, b := range bundles.Bundles() {
		doc, err := b.Marshal()
		if err != nil {
			return fmt.Errorf("encode JWT bundle %q: %w", b.TrustDomain(), err)
		}
		fmt.Fprintf(w, "bundle(%s):\n\t%s\n", b.TrustDomain().IDString(), doc)
	}
	return nil
}
