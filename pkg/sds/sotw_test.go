package sds_test

import (
	"crypto/tls"
	"log/slog"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/sds"
)

func TestStreamSecretsDefaultAndRootCA(t *testing.T) {
	ca := newCA(t, "example.org")
	svid := ca.svid(t, "spiffe://example.org/web")
	src := newFakeSource(snapshot(ca, []sds.SVID{svid}))
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)

	c.subscribe("default", "ROOTCA")
	resp := c.next()
	if resp.VersionInfo == "" || resp.Nonce == "" {
		t.Fatalf("version %q nonce %q: want both set", resp.VersionInfo, resp.Nonce)
	}
	got := secrets(t, resp.Resources)
	if len(got) != 2 {
		t.Fatalf("got %d secrets, want default and ROOTCA", len(got))
	}
	cert := got["default"].GetTlsCertificate()
	pair, err := tls.X509KeyPair(cert.GetCertificateChain().GetInlineBytes(), cert.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatalf("default is not a usable key pair: %v", err)
	}
	if pair.Leaf.SerialNumber.Cmp(svid.Chain[0].SerialNumber) != 0 {
		t.Fatal("default is not the workload's first SVID")
	}
	if got["ROOTCA"].GetValidationContext() == nil {
		t.Fatal("ROOTCA is not a validation context")
	}

	c.ack(resp, "default", "ROOTCA")
	c.settle(resp, "default", "ROOTCA", "ALL") // nothing answered the ACK
}

func TestStreamSecretsRotation(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newTrackedSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
	c.subscribe("default", "ROOTCA")
	initial := c.next()
	c.ack(initial, "default", "ROOTCA")

	// The same content in a new snapshot is not a new version.
	src.setTaken(t, snapshot(ca, src.current.SVIDs))
	first := c.settle(initial, "default", "ROOTCA", "ALL")
	c.ack(first, "default", "ROOTCA", "ALL")

	rotated := ca.svid(t, "spiffe://example.org/web")
	src.setTaken(t, snapshot(ca, []sds.SVID{rotated}))
	second := c.next()
	if second.VersionInfo == first.VersionInfo || second.Nonce == first.Nonce {
		t.Fatalf("rotation kept version %q / nonce %q", second.VersionInfo, second.Nonce)
	}
	pair, err := tls.X509KeyPair(secrets(t, second.Resources)["default"].GetTlsCertificate().GetCertificateChain().GetInlineBytes(),
		secrets(t, second.Resources)["default"].GetTlsCertificate().GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf.SerialNumber.Cmp(rotated.Chain[0].SerialNumber) != 0 {
		t.Fatal("rotation did not deliver the new SVID")
	}
}

func TestStreamSecretsNACK(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	logs := newCaptureLog()
	reg := prometheus.NewRegistry()
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: src, Log: slog.New(logs), Registerer: reg})), nil)

	c.subscribe("default")
	first := c.next()
	c.send(&discoveryv3.DiscoveryRequest{
		ResourceNames: []string{"default"},
		ResponseNonce: first.Nonce,
		ErrorDetail:   &status.Status{Code: int32(codes.InvalidArgument), Message: "bad private key"},
	})
	logs.wait(t, "Envoy rejected secrets", "message", "bad private key")
	c.settle(first, "default", "ROOTCA") // the rejected version is not resent

	src.set(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	if next := c.next(); next.VersionInfo == first.VersionInfo {
		t.Fatal("rejected version resent")
	}
	if got := counter(t, reg, "svidkit_sds_nacks_total"); got != 1 {
		t.Fatalf("nacks_total = %v, want 1", got)
	}
}

func TestStreamSecretsAnswersMissingNamesLater(t *testing.T) {
	ca := newCA(t, "example.org")
	other := newCA(t, "other.org")
	src := newTrackedSource(nil) // nothing known yet
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
	names := []string{"default", "ROOTCA", "spiffe://other.org", "nosuch.example"}
	c.subscribe(names...)

	// Nothing is sent before a snapshot: a response then would be read
	// here before the answer to the snapshot.
	src.setTaken(t, snapshot(ca, nil)) // a bundle but no SVID yet
	first := c.next()
	if got := secrets(t, first.Resources); len(got) != 1 || got["ROOTCA"] == nil {
		t.Fatalf("got %v, want only ROOTCA", keys(got))
	}
	c.ack(first, names...)

	src.setTaken(t, snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}, other))
	second := c.next()
	got := secrets(t, second.Resources)
	if len(got) != 3 || got["default"] == nil || got["ROOTCA"] == nil || got["spiffe://other.org"] == nil {
		t.Fatalf("got %v, want default, ROOTCA, spiffe://other.org", keys(got))
	}
}

func TestStreamSecretsRootCAAndAllTogether(t *testing.T) {
	ca := newCA(t, "example.org")
	other := newCA(t, "other.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}, other))
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
	c.subscribe("ROOTCA", "ALL")
	got := secrets(t, c.next().Resources)
	if tds := spiffeTrustDomains(t, got["ROOTCA"]); len(tds) != 1 || tds[0] != "example.org" {
		t.Fatalf("ROOTCA trust domains %v", tds)
	}
	if tds := spiffeTrustDomains(t, got["ALL"]); len(tds) != 2 || tds[0] != "example.org" || tds[1] != "other.org" {
		t.Fatalf("ALL trust domains %v", tds)
	}
}

func TestStreamSecretsEnds(t *testing.T) {
	ca := newCA(t, "example.org")
	t.Run("source fails", func(t *testing.T) {
		src := newFakeSource(nil)
		src.err = errFake
		c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
		select {
		case err := <-c.errc:
			if grpcstatus.Code(err) != codes.PermissionDenied {
				t.Fatalf("got %v, want PermissionDenied", err)
			}
		case <-deadline():
			t.Fatal("stream not ended")
		}
	})
	t.Run("watch ends", func(t *testing.T) {
		src := newFakeSource(snapshot(ca, nil))
		c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
		c.subscribe("ROOTCA")
		c.next()
		src.end()
		select {
		case err := <-c.errc:
			if grpcstatus.Code(err) != codes.Unavailable {
				t.Fatalf("got %v, want Unavailable", err)
			}
		case <-deadline():
			t.Fatal("stream not ended")
		}
	})
	t.Run("client cancels", func(t *testing.T) {
		src := newFakeSource(snapshot(ca, nil))
		client := serve(t, sds.New(sds.Config{Source: src}))
		c := openSotW(t, client, nil)
		c.subscribe("ROOTCA")
		c.next()
		if err := c.stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return src.open() == 0 }, src)
	})
	t.Run("wrong type", func(t *testing.T) {
		src := newFakeSource(snapshot(ca, nil))
		c := openSotW(t, serve(t, sds.New(sds.Config{Source: src})), nil)
		if err := c.stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster"}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-c.errc:
			if grpcstatus.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
		case <-deadline():
			t.Fatal("stream not ended")
		}
	})
}
