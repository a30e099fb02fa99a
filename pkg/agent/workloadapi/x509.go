package workloadapi

import (
	"crypto/x509"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FetchX509SVID streams the caller's X.509-SVIDs with their keys and
// bundles: the current set at once, then again on every change.
func (h *Handler) FetchX509SVID(_ *workload.X509SVIDRequest, stream workload.SpiffeWorkloadAPI_FetchX509SVIDServer) error {
	return h.fetchX509SVID(nil, stream)
}

// FetchX509Bundles streams the X.509 bundles the caller trusts (its own and
// federated), sending only when they change.
func (h *Handler) FetchX509Bundles(_ *workload.X509BundlesRequest, stream workload.SpiffeWorkloadAPI_FetchX509BundlesServer) error {
	return h.fetchX509Bundles(nil, stream)
}

func (h *Handler) fetchX509SVID(stop <-chan struct{}, stream workload.SpiffeWorkloadAPI_FetchX509SVIDServer) error {
	return h.serveStream(stop, stream, streamSpec{method: "FetchX509SVID", kind: kindX509SVID, build: buildX509SVIDResponse})
}

func (h *Handler) fetchX509Bundles(stop <-chan struct{}, stream workload.SpiffeWorkloadAPI_FetchX509BundlesServer) error {
	return h.serveStream(stop, stream, streamSpec{method: "FetchX509Bundles", kind: kindX509Bundles, build: buildX509BundlesResponse, dedup: true})
}

func buildX509SVIDResponse(u *Update) (proto.Message, error) {
	if len(u.Identities) == 0 {
		return nil, errNoIdentity
	}
	bundle := x509DER(u.Bundle)
	resp := &workload.X509SVIDResponse{
		Svids:            make([]*workload.X509SVID, 0, len(u.Identities)),
		FederatedBundles: make(map[string][]byte, len(u.FederatedBundles)),
	}
	for td, b := range u.FederatedBundles {
		resp.FederatedBundles[td.IDString()] = x509DER(b)
	}
	for _, id := range u.Identities {
		key := id.KeyPKCS8
		if key == nil {
			var err error
			if key, err = x509.MarshalPKCS8PrivateKey(id.Key); err != nil {
				return nil, status.Error(codes.Unavailable, fmt.Sprintf("marshal key of %s: %v", id.SPIFFEID, err))
			}
		}
		chain := id.ChainDER
		if chain == nil {
			chain = concatDER(id.Chain)
		}
		resp.Svids = append(resp.Svids, &workload.X509SVID{
			SpiffeId:    id.SPIFFEID.String(),
			X509Svid:    chain,
			X509SvidKey: key,
			Bundle:      bundle,
			Hint:        id.Hint,
		})
	}
	return resp, nil
}

func buildX509BundlesResponse(u *Update) (proto.Message, error) {
	if len(u.Identities) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.X509BundlesResponse{Bundles: make(map[string][]byte, 1+len(u.FederatedBundles))}
	if u.Bundle != nil {
		resp.Bundles[u.Bundle.TrustDomain().IDString()] = x509DER(u.Bundle)
	}
	for td, b := range u.FederatedBundles {
		resp.Bundles[td.IDString()] = x509DER(b)
	}
	return resp, nil
}

// x509DER concatenates the DER of a bundle's X.509 authorities.
func x509DER(b *spiffebundle.Bundle) []byte {
	if b == nil {
		return nil
	}
	return concatDER(b.X509Authorities())
}

func concatDER(certs []*x509.Certificate) []byte {
	n := 0
	for _, c := range certs {
		n += len(c.Raw)
	}
	out := make([]byte, 0, n)
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}
