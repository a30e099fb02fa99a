// Package sdsclient is an Envoy-like SDS v3 client (go-control-plane's
// generated StreamSecrets client): it asks for resource names, ACKs every
// response and hands back the secrets by name. The end-to-end tests and
// the demo (internal/demo) use it to watch what an SDS server pushes.
package sdsclient

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
)

// SecretTypeURL is the type URL of SDS secrets.
const SecretTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// Stream is one StreamSecrets stream subscribed to a fixed list of names.
type Stream struct {
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	node   *corev3.Node
	names  []string
}

// Response is one pushed response, its secrets decoded by name.
type Response struct {
	Version string
	Secrets map[string]*tlsv3.Secret
}

// Open starts StreamSecrets on conn as node and asks for names. The stream
// lives until ctx ends.
func Open(ctx context.Context, conn grpc.ClientConnInterface, node *corev3.Node, names ...string) (*Stream, error) {
	stream, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("sdsclient: StreamSecrets: %w", err)
	}
	s := &Stream{stream: stream, node: node, names: names}
	if err := s.send("", ""); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream) send(version, nonce string) error {
	err := s.stream.Send(&discoveryv3.DiscoveryRequest{Node: s.node, TypeUrl: SecretTypeURL, ResourceNames: s.names,
		VersionInfo: version, ResponseNonce: nonce})
	if err != nil {
		return fmt.Errorf("sdsclient: send request: %w", err)
	}
	return nil
}

// Next receives the next response, ACKs it and returns its secrets.
func (s *Stream) Next() (Response, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		return Response{}, fmt.Errorf("sdsclient: receive: %w", err)
	}
	if err := s.send(resp.VersionInfo, resp.Nonce); err != nil {
		return Response{}, err
	}
	secrets := make(map[string]*tlsv3.Secret, len(resp.Resources))
	for _, r := range resp.Resources {
		sec := &tlsv3.Secret{}
		if err := r.UnmarshalTo(sec); err != nil {
			return Response{}, fmt.Errorf("sdsclient: resource of type %s: %w", r.TypeUrl, err)
		}
		secrets[sec.Name] = sec
	}
	return Response{Version: resp.VersionInfo, Secrets: secrets}, nil
}

// Complete reports whether r holds every name the stream asked for.
func (s *Stream) Complete(r Response) bool {
	for _, n := range s.names {
		if r.Secrets[n] == nil {
			return false
		}
	}
	return true
}

// Leaf parses the first certificate of a tls_certificate secret's inline
// chain.
func Leaf(sec *tlsv3.Secret) (*x509.Certificate, error) {
	chain := sec.GetTlsCertificate().GetCertificateChain().GetInlineBytes()
	block, _ := pem.Decode(chain)
	if block == nil {
		return nil, errors.New("sdsclient: no PEM certificate in the secret's chain")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sdsclient: parse certificate: %w", err)
	}
	return cert, nil
}

// Names returns the resource names the stream asked for.
func (s *Stream) Names() []string { return s.names }
