package svidformat

import (
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// BundleDirFiles returns one file per trust domain of bundles in the
// subdirectory opts.BundleDir: "<trust domain name>.pem" holding that trust
// domain's X.509 authorities only (expired ones left out with
// OmitExpired), with CertFileMode. Unlike the bundle file with
// IncludeFederatedDomains, nothing is merged: a consumer trusts a foreign
// trust domain's roots for that trust domain only, which a merged file
// cannot express. The files are part of the set svidfile writes, so a
// trust domain the Workload API stops delivering loses its file with the
// same switch.
func BundleDirFiles(bundles *x509bundle.Set, opts Options) []svidfile.File {
	mode := orDefault(opts.CertFileMode, DefaultCertFileMode)
	var files []svidfile.File
	for _, b := range bundles.Bundles() { // sorted by trust domain name
		authorities := b.X509Authorities()
		if opts.OmitExpired {
			authorities = unexpired(authorities, opts.now())
		}
		files = append(files, svidfile.File{
			Dir:  opts.BundleDir,
			Name: b.TrustDomain().Name() + ".pem",
			Data: certsPEM(authorities),
			Mode: mode,
		})
	}
	return files
}
