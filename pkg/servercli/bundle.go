package servercli

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// Bundle formats accepted by -format.
const (
	formatPEM    = "pem"
	formatSPIFFE = "spiffe"
)

func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Manages the trust bundle"}
	cmd.AddCommand(newBundleShowCommand())
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
			if format != formatPEM && format != formatSPIFFE {
				return fmt.Errorf("invalid -format %q: want pem or spiffe", format)
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
			if format == formatSPIFFE {
				return writeSPIFFEBundle(cmd.OutOrStdout(), b)
			}
			return writePEMBundle(cmd.OutOrStdout(), b)
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", formatPEM, "The format to show the bundle (pem or spiffe)")
	return cmd
}

// writePEMBundle writes the X.509 authorities as PEM certificates.
func writePEMBundle(w io.Writer, b *types.Bundle) error {
	for _, a := range b.GetX509Authorities() {
		if err := pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: a.GetAsn1()}); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	return nil
}

// writeSPIFFEBundle writes the bundle as a SPIFFE bundle (a JWKS document).
func writeSPIFFEBundle(w io.Writer, b *types.Bundle) error {
	td, err := spiffeid.TrustDomainFromString(b.GetTrustDomain())
	if err != nil {
		return fmt.Errorf("bundle trust domain %q: %w", b.GetTrustDomain(), err)
	}
	out := spiffebundle.New(td)
	for _, a := range b.GetX509Authorities() {
		cert, err := x509.ParseCertificate(a.GetAsn1())
		if err != nil {
			return fmt.Errorf("parse bundle X.509 authority: %w", err)
		}
		out.AddX509Authority(cert)
	}
	for _, k := range b.GetJwtAuthorities() {
		pub, err := x509.ParsePKIXPublicKey(k.GetPublicKey())
		if err != nil {
			return fmt.Errorf("parse bundle JWT authority %q: %w", k.GetKeyId(), err)
		}
		if err := out.AddJWTAuthority(k.GetKeyId(), pub); err != nil {
			return fmt.Errorf("add JWT authority %q: %w", k.GetKeyId(), err)
		}
	}
	if hint := b.GetRefreshHint(); hint > 0 {
		out.SetRefreshHint(time.Duration(hint) * time.Second)
	}
	out.SetSequenceNumber(b.GetSequenceNumber())
	data, err := out.Marshal()
	if err != nil {
		return fmt.Errorf("encode SPIFFE bundle: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}
