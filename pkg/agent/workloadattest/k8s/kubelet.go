package k8s

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kubelet defaults, the same as SPIRE's k8s workload attestor.
const (
	// DefaultKubeletSecurePort is the kubelet's authenticated HTTPS port,
	// used when no read-only port is configured.
	DefaultKubeletSecurePort = 10250
	// DefaultKubeletCAPath is the cluster CA mounted into every pod.
	DefaultKubeletCAPath = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	// DefaultTokenPath is the pod's service-account token.
	DefaultTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token" //nolint:gosec // a path, not a credential
	// DefaultKubeletTimeout bounds one /pods request.
	DefaultKubeletTimeout = 10 * time.Second
)

// maxPodListSize bounds the /pods response read into memory. A node at the
// default limit of 110 pods answers with one to two MiB.
const maxPodListSize = 64 << 20

// KubeletConfig says how to reach this node's kubelet. The zero value uses
// the secure port 10250 on 127.0.0.1 with the pod's service-account token
// and the cluster CA, as SPIRE does.
type KubeletConfig struct {
	// ReadOnlyPort, when positive, selects the kubelet's unauthenticated
	// read-only port (usually 10255) over plain HTTP on 127.0.0.1. It
	// excludes SecurePort.
	ReadOnlyPort int
	// SecurePort is the kubelet's HTTPS port; DefaultKubeletSecurePort when
	// zero and ReadOnlyPort is not set.
	SecurePort int
	// NodeName is the host the secure port is reached at, and the name the
	// kubelet's certificate must carry. When empty the kubelet is reached at
	// 127.0.0.1 (which needs host networking) and its certificate chain is
	// verified without a host name, as SPIRE does.
	NodeName string
	// CAPath is the PEM bundle that verifies the kubelet's serving
	// certificate; DefaultKubeletCAPath when empty. It is read again when it
	// changes.
	CAPath string
	// SkipVerification accepts any kubelet certificate (SPIRE's
	// skip_kubelet_verification), for kubelets with self-signed serving
	// certificates.
	SkipVerification bool
	// TokenPath is the bearer token sent to the secure port;
	// DefaultTokenPath when empty. It is read again whenever it changes, so
	// rotated projected tokens are picked up at once.
	TokenPath string
	// CertificatePath and PrivateKeyPath, when both set, authenticate to
	// the kubelet with a client certificate instead of a token.
	CertificatePath string
	PrivateKeyPath  string
	// Anonymous sends no credentials to the secure port (SPIRE's
	// use_anonymous_authentication).
	Anonymous bool
	// Timeout bounds one /pods request; DefaultKubeletTimeout when zero.
	Timeout time.Duration
}

// Kubelet fetches the pods of this node from the kubelet's /pods endpoint.
// It is safe for concurrent use.
type Kubelet struct {
	url     string
	client  *http.Client
	token   *reloadingFiles[string] // nil when no bearer token is sent
	timeout time.Duration
}

// NewKubelet returns a client for the kubelet cfg describes. It loads the
// CA, token or client certificate once, so a missing or malformed file is
// reported at startup rather than on the first workload.
func NewKubelet(cfg KubeletConfig) (*Kubelet, error) {
	if cfg.ReadOnlyPort > 0 && cfg.SecurePort > 0 {
		return nil, errors.New("kubelet: use either the read-only or the secure port, not both")
	}
	if (cfg.CertificatePath == "") != (cfg.PrivateKeyPath == "") {
		return nil, errors.New("kubelet: a client certificate needs both the certificate and the private key path")
	}
	k := &Kubelet{timeout: cfg.Timeout}
	if k.timeout <= 0 {
		k.timeout = DefaultKubeletTimeout
	}
	if cfg.ReadOnlyPort > 0 {
		k.url = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.ReadOnlyPort))
		// No proxy: the kubelet is on this node.
		k.client = &http.Client{Transport: &http.Transport{IdleConnTimeout: 90 * time.Second}}
		return k, nil
	}

	port := cfg.SecurePort
	if port <= 0 {
		port = DefaultKubeletSecurePort
	}
	host := cfg.NodeName
	if host == "" {
		host = "127.0.0.1"
	}
	k.url = "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	if !cfg.Anonymous && cfg.CertificatePath == "" {
		path := cfg.TokenPath
		if path == "" {
			path = DefaultTokenPath
		}
		k.token = newReloadingFiles(parseToken, path)
		if _, err := k.token.get(); err != nil {
			return nil, fmt.Errorf("kubelet: token %q: %w", path, err)
		}
	}
	k.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}}
	return k, nil
}

// URL returns the kubelet's base URL, for messages.
func (k *Kubelet) URL() string { return k.url }

// Pods returns the kubelet's current pod list.
func (k *Kubelet) Pods(ctx context.Context) (*PodList, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	url := k.url + "/pods"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if k.token != nil {
		tok, err := k.token.get()
		if err != nil {
			return nil, fmt.Errorf("kubelet: token %q: %w", k.token.paths[0], err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("kubelet: GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	pods, err := DecodePodList(io.LimitReader(resp.Body, maxPodListSize))
	if err != nil {
		return nil, fmt.Errorf("kubelet: GET %s: %w", url, err)
	}
	return pods, nil
}

// tlsConfig builds the client TLS configuration for the secure port.
func (cfg KubeletConfig) tlsConfig() (*tls.Config, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.SkipVerification {
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // skip_kubelet_verification, explicitly configured
	} else {
		path := cfg.CAPath
		if path == "" {
			path = DefaultKubeletCAPath
		}
		ca := newReloadingFiles(parseCertPool, path)
		if _, err := ca.get(); err != nil {
			return nil, fmt.Errorf("kubelet: CA %q: %w", path, err)
		}
		// Verification happens in VerifyConnection so that a rotated CA
		// file is used for the next connection, and so that the chain can
		// be checked without a host name when the kubelet is reached at
		// 127.0.0.1 (its certificate names the node, not the loopback).
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // verified in VerifyConnection
		tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyKubelet(cs, ca, cfg.NodeName)
		}
	}
	if cfg.CertificatePath != "" && !cfg.Anonymous {
		pair := newReloadingFiles(parseKeyPair, cfg.CertificatePath, cfg.PrivateKeyPath)
		if _, err := pair.get(); err != nil {
			return nil, fmt.Errorf("kubelet: client certificate %q, key %q: %w", cfg.CertificatePath, cfg.PrivateKeyPath, err)
		}
		tlsCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := pair.get()
			if err != nil {
				return nil, fmt.Errorf("kubelet: client certificate %q: %w", cfg.CertificatePath, err)
			}
			return c, nil
		}
	}
	return tlsCfg, nil
}

// verifyKubelet checks the kubelet's certificate chain against the CA
// bundle and, when the kubelet is reached by node name, that the
// certificate is for that name.
func verifyKubelet(cs tls.ConnectionState, ca *reloadingFiles[*x509.CertPool], nodeName string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("kubelet presented no certificate")
	}
	roots, err := ca.get()
	if err != nil {
		return fmt.Errorf("kubelet CA %q: %w", ca.paths[0], err)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       nodeName,
	})
	if err != nil {
		return fmt.Errorf("verify kubelet certificate: %w", err)
	}
	return nil
}

func parseToken(contents [][]byte) (string, error) {
	tok := strings.TrimSpace(string(contents[0]))
	if tok == "" {
		return "", errors.New("empty token file")
	}
	return tok, nil
}

func parseCertPool(contents [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(contents[0]) {
		return nil, errors.New("no PEM certificates found")
	}
	return pool, nil
}

func parseKeyPair(contents [][]byte) (*tls.Certificate, error) {
	c, err := tls.X509KeyPair(contents[0], contents[1])
	if err != nil {
		return nil, err
	}
	return &c, nil
}
