package e2e_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a real DNS server over UDP on 127.0.0.1 answering for one
// name with A records, as a headless Kubernetes Service's name resolves to
// its pods. Agents reach it through gRPC's DNS resolver with a target
// naming it (server_address = "dns://<Addr>/<name>"), so a test gives
// agents one name for several servers without touching the system's
// resolver. Every other name gets NXDOMAIN, AAAA queries for the name an
// empty answer.
type dnsServer struct {
	conn  net.PacketConn
	name  dnsmessage.Name
	addrs []netip.Addr
}

// startDNSServer serves name (without the final dot) with addrs until the
// test ends.
func startDNSServer(t testing.TB, name string, addrs ...netip.Addr) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dns server: %v", err)
	}
	s := &dnsServer{conn: conn, name: dnsmessage.MustNewName(strings.TrimSuffix(name, ".") + "."), addrs: addrs}
	done := make(chan struct{})
	go func() { defer close(done); s.serve() }()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// Addr is the server's host:port.
func (s *dnsServer) Addr() string { return s.conn.LocalAddr().String() }

// serve answers queries until the connection is closed.
func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		resp, err := s.answer(buf[:n])
		if err != nil {
			continue // not a query we can parse: drop it, as servers do
		}
		_, _ = s.conn.WriteTo(resp, from)
	}
}

// answer builds the response to one query message.
func (s *dnsServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	known := strings.EqualFold(q.Name.String(), s.name.String())
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if known && q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		for _, a := range s.addrs {
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
			if err := b.AResource(rr, dnsmessage.AResource{A: a.As4()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}
