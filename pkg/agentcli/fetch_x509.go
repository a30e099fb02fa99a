package agentcli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/pkg/atomicfile"
)

func newFetchX509Command() *cobra.Command {
	var (
		client   clientFlags
		writeDir string
	)
	cmd := &cobra.Command{
		Use:   "x509",
		Short: "Fetches X.509 SVIDs and bundles from the Workload API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := client.checkTimeout(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), client.timeout)
			defer cancel()
			c, err := client.client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			start := time.Now()
			x509Ctx, err := c.FetchX509Context(ctx)
			if err != nil {
				return fmt.Errorf("fetch X.509 SVIDs: %w", err)
			}
			printX509Context(cmd.OutOrStdout(), x509Ctx, time.Since(start))
			if writeDir != "" {
				return writeX509Context(cmd.OutOrStdout(), writeDir, x509Ctx)
			}
			return nil
		},
	}
	client.register(cmd.Flags(), true)
	cmd.Flags().StringVar(&writeDir, "write", "", "Write SVIDs and bundles to this directory (svid.N.pem, svid.N.key, bundle.N.pem)")
	return cmd
}

// printX509Context writes each SVID as spire-agent does.
func printX509Context(w io.Writer, x *workloadapi.X509Context, took time.Duration) {
	fmt.Fprintf(w, "Received %d svid after %s\n\n", len(x.SVIDs), took.Round(time.Microsecond*100))
	for _, svid := range x.SVIDs {
		leaf := svid.Certificates[0]
		fmt.Fprintf(w, "SPIFFE ID:\t\t%s\n", svid.ID)
		if svid.Hint != "" {
			fmt.Fprintf(w, "Hint:\t\t\t%s\n", svid.Hint)
		}
		fmt.Fprintf(w, "SVID Serial:\t\t%s\n", leaf.SerialNumber)
		fmt.Fprintf(w, "SVID Valid After:\t%s\n", leaf.NotBefore.UTC())
		fmt.Fprintf(w, "SVID Valid Until:\t%s\n", leaf.NotAfter.UTC())
		for i, c := range svid.Certificates[1:] {
			fmt.Fprintf(w, "Intermediate #%d Valid After:\t%s\n", i+1, c.NotBefore.UTC())
			fmt.Fprintf(w, "Intermediate #%d Valid Until:\t%s\n", i+1, c.NotAfter.UTC())
		}
		if b, ok := x.Bundles.Get(svid.ID.TrustDomain()); ok {
			for i, c := range b.X509Authorities() {
				fmt.Fprintf(w, "CA #%d Valid After:\t%s\n", i+1, c.NotBefore.UTC())
				fmt.Fprintf(w, "CA #%d Valid Until:\t%s\n", i+1, c.NotAfter.UTC())
			}
		}
		fmt.Fprintln(w)
	}
}

// writeX509Context writes svid.N.pem (chain), svid.N.key (PKCS#8, 0600) and
// bundle.N.pem (the SVID's trust domain bundle) for each SVID into dir.
func writeX509Context(w io.Writer, dir string, x *workloadapi.X509Context) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create -write directory: %w", err)
	}
	for i, svid := range x.SVIDs {
		certPEM, keyPEM, err := svid.Marshal()
		if err != nil {
			return fmt.Errorf("encode SVID %d: %w", i, err)
		}
		var bundlePEM []byte
		if b, ok := x.Bundles.Get(svid.ID.TrustDomain()); ok {
			bundlePEM = encodeCerts(b.X509Authorities())
		}
		files := []struct {
			what string
			name string
			data []byte
			mode os.FileMode
		}{
			// The key goes first: each file is replaced atomically, but the
			// set is not, and a new key with an old certificate fails loudly
			// where the reverse can look valid.
			{"key", fmt.Sprintf("svid.%d.key", i), keyPEM, 0o600},
			{"SVID", fmt.Sprintf("svid.%d.pem", i), certPEM, 0o644},
			{"bundle", fmt.Sprintf("bundle.%d.pem", i), bundlePEM, 0o644},
		}
		for _, f := range files {
			path := filepath.Join(dir, f.name)
			if err := atomicfile.WriteBytes(path, f.data, f.mode); err != nil {
				return err
			}
			fmt.Fprintf(w, "Writing %s to file %s\n", f.what, path)
		}
	}
	return nil
}

func encodeCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
