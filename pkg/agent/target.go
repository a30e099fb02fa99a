package agent

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// dnsScheme is gRPC's name for its DNS resolver. Every server address is
// dialled through it: a name with several A/AAAA records (a headless
// Kubernetes Service, a DNS round-robin name) gives the agent every server,
// and the resolver looks the name up again when a connection ends, so
// servers added later are found (see serviceConfig and the server's
// connection age cap).
const dnsScheme = "dns"

// serverTarget turns Config.ServerAddress into the gRPC target the agent
// dials: "host:port" becomes "dns:///host:port" (the system's resolver),
// and a target already in gRPC's DNS form, "dns://[dns-server]/host:port",
// is kept, so that a deployment (or a test) can name the DNS server to
// ask. Other schemes are refused: the agent reaches its servers over TCP
// only.
func serverTarget(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", fmt.Errorf("want host:port or dns://[dns-server]/host:port: %w", err)
		}
		return dnsScheme + ":///" + addr, nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("want host:port or dns://[dns-server]/host:port: %w", err)
	}
	if u.Scheme != dnsScheme {
		return "", fmt.Errorf("scheme %q: only dns:// targets are supported", u.Scheme)
	}
	if _, _, err := net.SplitHostPort(strings.TrimPrefix(u.Path, "/")); err != nil {
		return "", fmt.Errorf("want dns://[dns-server]/host:port: %w", err)
	}
	return addr, nil
}
