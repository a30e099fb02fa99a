package sdsbridge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
)

// serveSDS runs a bridge on the Workload API at apiSock and serves SDS
// for it on a new Unix socket, whose path it returns.
func serveSDS(t testing.TB, apiSock string) string {
	t.Helper()
	b := runBridge(t, sdsbridge.Config{Address: apiSock})
	sock := fakeworkloadapi.SocketPath(t, "sds.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sds.New(sds.Config{Source: b}).Register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() { srv.Stop(); <-done })
	return sock
}

// envoy is an Envoy-like SDS client on one state-of-the-world stream.
type envoy struct {
	t      *testing.T
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	resps  chan *discoveryv3.DiscoveryResponse
	names  []string
}

// dialEnvoy opens StreamSecrets on sock and subscribes to names.
func dialEnvoy(t *testing.T, sock string, names ...string) *envoy {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stream, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := &envoy{t: t, stream: stream, resps: make(chan *discoveryv3.DiscoveryResponse, 16), names: names}
	go func() {
		defer close(e.resps)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			e.resps <- r
		}
	}()
	e.send("", "")
	return e
}

// send sends a request for e's names acknowledging version and nonce.
func (e *envoy) send(version, nonce string) {
	e.t.Helper()
	err := e.stream.Send(&discoveryv3.DiscoveryRequest{
		Node:          &corev3.Node{Id: "envoy-test", Cluster: "test"},
		TypeUrl:       "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
		ResourceNames: e.names,
		VersionInfo:   version,
		ResponseNonce: nonce,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// secrets waits for a response holding every subscribed name whose
// default SVID is wantID, ACKs it and returns its secrets by name.
func (e *envoy) secrets(wantID string) (map[string]*tlsv3.Secret, string) {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case r, ok := <-e.resps:
			if !ok {
				e.t.Fatal("SDS stream ended")
			}
			e.send(r.VersionInfo, r.Nonce)
			got := map[string]*tlsv3.Secret{}
			for _, a := range r.Resources {
				s := &tlsv3.Secret{}
				if err := a.UnmarshalTo(s); err != nil {
					e.t.Fatal(err)
				}
				got[s.Name] = s
			}
			if len(got) == len(e.names) && leafID(e.t, got[sds.DefaultSVIDName]) == wantID {
				return got, r.VersionInfo
			}
		case <-deadline:
			e.t.Fatalf("no SDS response with %v for %s", e.names, wantID)
		}
	}
}

// leafID returns the SPIFFE ID of a tls_certificate secret's leaf, or "".
func leafID(t *testing.T, s *tlsv3.Secret) string {
	t.Helper()
	if s.GetTlsCertificate() == nil {
		return ""
	}
	block, _ := pem.Decode(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
	if block == nil {
		t.Fatal("tls_certificate without a PEM chain")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.URIs[0].String()
}

// tlsIdentity builds Go TLS material from the "default" and "ROOTCA"
// secrets alone, as Envoy would use them.
func tlsIdentity(t *testing.T, secrets map[string]*tlsv3.Secret) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	tc := secrets["default"].GetTlsCertificate()
	cert, err := tls.X509KeyPair(tc.GetCertificateChain().GetInlineBytes(), tc.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatalf("default secret is not a usable key pair: %v", err)
	}
	vc := secrets["ROOTCA"].GetValidationContext()
	bundle := vc.GetTrustedCa().GetInlineBytes()
	if cfg := vc.GetCustomValidatorConfig(); cfg != nil {
		spiffe := &tlsv3.SPIFFECertValidatorConfig{}
		if err := cfg.GetTypedConfig().UnmarshalTo(spiffe); err != nil {
			t.Fatal(err)
		}
		if len(spiffe.GetTrustDomains()) != 1 {
			t.Fatalf("ROOTCA holds %d trust domains, want the own one", len(spiffe.GetTrustDomains()))
		}
		bundle = spiffe.GetTrustDomains()[0].GetTrustBundle().GetInlineBytes()
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		t.Fatal("ROOTCA secret holds no PEM roots")
	}
	return cert, roots
}

// verifyPeerID accepts only peers whose verified leaf is allowed.
func verifyPeerID(allowed string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || len(cs.PeerCertificates[0].URIs) != 1 || cs.PeerCertificates[0].URIs[0].String() != allowed {
			return errors.New("peer SPIFFE ID not allowed")
		}
		return nil
	}
}

func TestEnvoyReceivesDefaultAndROOTCA(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web", ""))
	sock := serveSDS(t, api.Socket())

	e := dialEnvoy(t, sock, "default", "ROOTCA")
	secrets, v1 := e.secrets("spiffe://bridge.test/web")
	if secrets["ROOTCA"].GetValidationContext() == nil {
		t.Fatal("ROOTCA is not a validation context")
	}
	if _, roots := tlsIdentity(t, secrets); roots == nil {
		t.Fatal("no roots")
	}

	// Rotation: a new SVID from the Workload API reaches the stream with a
	// new version.
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/web-rotated", ""))
	_, v2 := e.secrets("spiffe://bridge.test/web-rotated")
	if v2 == v1 {
		t.Fatalf("rotation kept version %q", v1)
	}
}

func TestSecretsCompleteMTLS(t *testing.T) {
	ca := testca.NewForTest(t, "bridge.test")
	workload := func(path string) (tls.Certificate, *x509.CertPool) {
		api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
		api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, path, ""))
		e := dialEnvoy(t, serveSDS(t, api.Socket()), "default", "ROOTCA")
		secrets, _ := e.secrets(spiffeid.RequireFromPath(spiffeid.RequireTrustDomainFromString("bridge.test"), path).String())
		return tlsIdentity(t, secrets)
	}
	backendCert, backendRoots := workload("/backend")
	frontendCert, frontendRoots := workload("/frontend")
	intruderCert, intruderRoots := workload("/intruder")

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates:     []tls.Certificate{backendCert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        backendRoots,
		VerifyConnection: verifyPeerID("spiffe://bridge.test/frontend"),
		MinVersion:       tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).HandshakeContext(context.Background())
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()

	tests := []struct {
		name    string
		cert    tls.Certificate
		roots   *x509.CertPool
		wantErr bool
	}{
		{name: "allowed caller", cert: frontendCert, roots: frontendRoots},
		{name: "caller outside the allowed IDs", cert: intruderCert, roots: intruderRoots, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
				Certificates:       []tls.Certificate{tt.cert},
				RootCAs:            tt.roots,
				InsecureSkipVerify: true, // SPIFFE IDs, not DNS names: checked below
				VerifyConnection: func(cs tls.ConnectionState) error {
					opts := x509.VerifyOptions{Roots: tt.roots, Intermediates: x509.NewCertPool()}
					if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
						return err
					}
					return verifyPeerID("spiffe://bridge.test/backend")(cs)
				},
				MinVersion: tls.VersionTLS12,
			})
			if err == nil {
				defer c.Close()
				// TLS 1.3 reports a rejected client certificate on read.
				buf := make([]byte, 2)
				_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
				_, err = c.Read(buf)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("mTLS error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
