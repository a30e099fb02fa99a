package federation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Reasons a fetch is refused, as logged and as the reason label of
// svidkit_server_federation_fetch_failures_total.
const (
	ReasonUnreachable      = "unreachable"         // connection or HTTP transport failure, timeout
	ReasonTLS              = "tls"                 // certificate not trusted, handshake failure
	ReasonWrongEndpointID  = "wrong_endpoint_id"   // https_spiffe SVID is not endpoint_spiffe_id
	ReasonNoBootstrap      = "no_bootstrap_bundle" // https_spiffe without a stored bundle to verify with
	ReasonHTTPStatus       = "http_status"         // a status other than 200 or 304
	ReasonTooLarge         = "too_large"           // body over the size cap
	ReasonInvalidBundle    = "invalid_bundle"      // not a SPIFFE bundle, or no authorities
	ReasonWrongTrustDomain = "wrong_trust_domain"  // an authority names another trust domain
	ReasonSequenceRegress  = "sequence_regress"    // spiffe_sequence below the stored one
	ReasonStore            = "store"               // the datastore failed
)

// FetchError is a refused or failed fetch; Reason is one of the Reason
// constants.
type FetchError struct {
	TrustDomain spiffeid.TrustDomain
	Reason      string
	Err         error
}

// Error names the trust domain, the reason and the cause.
func (e *FetchError) Error() string {
	return fmt.Sprintf("federation: bundle of %q: %s: %v", e.TrustDomain.Name(), e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// Bounds of a fetch.
const (
	fetchTLSHandshakeTimeout = 10 * time.Second
	fetchHeaderTimeout       = 10 * time.Second
	maxResponseHeaderBytes   = 64 << 10
	maxRedirects             = 3
)

// fetcher performs one bounded GET of a bundle endpoint.
type fetcher struct {
	webRoots *x509.CertPool // nil: the system roots
	timeout  time.Duration
	maxBody  int64
}

// fetchResult is a response body (nil when not modified) and its ETag.
type fetchResult struct {
	body        []byte
	etag        string
	notModified bool
}

// get fetches rel's endpoint. For https_spiffe, auth holds the bundle the
// endpoint's SVID is verified with. etag, when set, is sent as
// If-None-Match.
func (f *fetcher) get(ctx context.Context, rel relationship, auth *spiffebundle.Bundle, etag string) (*fetchResult, error) {
	fail := func(reason string, err error) error {
		return &FetchError{TrustDomain: rel.td, Reason: reason, Err: err}
	}
	tc, err := f.tlsConfig(rel, auth)
	if err != nil {
		return nil, fail(ReasonNoBootstrap, err)
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			TLSClientConfig:        tc,
			TLSHandshakeTimeout:    fetchTLSHandshakeTimeout,
			ResponseHeaderTimeout:  fetchHeaderTimeout,
			MaxResponseHeaderBytes: maxResponseHeaderBytes,
			DisableKeepAlives:      true,
			ForceAttemptHTTP2:      true,
		},
		Timeout: f.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" || len(via) >= maxRedirects {
				return fmt.Errorf("refusing redirect to %s", req.URL.Redacted())
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rel.url, http.NoBody)
	if err != nil {
		return nil, fail(ReasonUnreachable, err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fail(classifyTransport(err), err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if etag != "" {
			return &fetchResult{etag: etag, notModified: true}, nil
		}
		fallthrough
	default:
		return nil, fail(ReasonHTTPStatus, fmt.Errorf("GET %s: %s", rel.url, resp.Status))
	}
	if resp.ContentLength > f.maxBody {
		return nil, fail(ReasonTooLarge, fmt.Errorf("Content-Length %d over the %d-byte cap", resp.ContentLength, f.maxBody))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return nil, fail(ReasonUnreachable, fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > f.maxBody {
		return nil, fail(ReasonTooLarge, fmt.Errorf("body over the %d-byte cap", f.maxBody))
	}
	return &fetchResult{body: body, etag: resp.Header.Get("ETag")}, nil
}

// tlsConfig returns the client TLS configuration of rel's profile.
// https_spiffe verifies the endpoint's X.509-SVID against auth and
// requires the endpoint's SPIFFE ID, as SPIFFE Federation specifies;
// https_web verifies a Web PKI certificate for the URL's host.
func (f *fetcher) tlsConfig(rel relationship, auth *spiffebundle.Bundle) (*tls.Config, error) {
	if rel.profile != profileHTTPSSPIFFE {
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: f.webRoots}, nil
	}
	if auth == nil || len(auth.X509Authorities()) == 0 {
		return nil, fmt.Errorf("no stored bundle of %q to authenticate %s with (set one with `bundle set`)",
			rel.endpointID.TrustDomain().Name(), rel.endpointID)
	}
	want := rel.endpointID
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified below against the foreign bundle, not
		// the Web PKI, and the name checked is the SPIFFE ID.
		InsecureSkipVerify: true, //nolint:gosec // verified by VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			id, _, err := x509svid.ParseAndVerify(raw, auth)
			if err != nil {
				return &peerError{reason: ReasonTLS, err: err}
			}
			if id != want {
				return &peerError{reason: ReasonWrongEndpointID, err: fmt.Errorf("endpoint presented %q, want %q", id, want)}
			}
			return nil
		},
	}, nil
}

// peerError is a rejection of the endpoint's certificate with its reason.
type peerError struct {
	reason string
	err    error
}

func (e *peerError) Error() string { return e.err.Error() }
func (e *peerError) Unwrap() error { return e.err }

// classifyTransport names the reason of a failed HTTP request.
func classifyTransport(err error) string {
	var (
		pe   *peerError
		cve  *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		alrt tls.AlertError
	)
	switch {
	case errors.As(err, &pe):
		return pe.reason
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie),
		errors.As(err, &rhe), errors.As(err, &alrt):
		return ReasonTLS
	}
	return ReasonUnreachable
}

// parseBundle checks a fetched document against the trust domain and the
// stored bundle (nil when none).
func parseBundle(td spiffeid.TrustDomain, body []byte, stored *spiffebundle.Bundle) (*spiffebundle.Bundle, error) {
	fail := func(reason string, err error) error {
		return &FetchError{TrustDomain: td, Reason: reason, Err: err}
	}
	b, err := spiffebundle.Parse(td, body)
	if err != nil {
		return nil, fail(ReasonInvalidBundle, err)
	}
	if b.Empty() {
		return nil, fail(ReasonInvalidBundle, errors.New("bundle has no authorities"))
	}
	// The document does not name its trust domain, but SPIFFE CA
	// certificates may carry the trust domain's ID as a URI SAN (SPIRE's
	// and svidkit's do): one naming another trust domain is refused.
	for _, c := range b.X509Authorities() {
		for _, u := range c.URIs {
			id, err := spiffeid.FromURI(u)
			if err == nil && id.TrustDomain() != td {
				return nil, fail(ReasonWrongTrustDomain,
					fmt.Errorf("X.509 authority %q names trust domain %q", c.Subject, id.TrustDomain().Name()))
			}
		}
	}
	if stored != nil {
		have, okHave := stored.SequenceNumber()
		got, okGot := b.SequenceNumber()
		if okHave && okGot && got < have {
			return nil, fail(ReasonSequenceRegress, fmt.Errorf("spiffe_sequence %d is below the stored %d", got, have))
		}
	}
	return b, nil
}
