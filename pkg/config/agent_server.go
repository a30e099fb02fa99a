package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// dnsTargetPrefix starts the svidkit form of server_address that names the
// DNS server to ask: "dns://[dns-server]/host", gRPC's DNS target syntax
// without the port (server_port supplies it).
const dnsTargetPrefix = "dns://"

// ServerTarget returns the address the agent dials, joining server_address
// and server_port: "host:port" for a host name or IP address (SPIRE's
// form; a name may resolve to several servers), or
// "dns://[dns-server]/host:port" when server_address names the DNS server.
func (a *Agent) ServerTarget() string {
	port := strconv.Itoa(a.ServerPort)
	if strings.HasPrefix(a.ServerAddress, dnsTargetPrefix) {
		return a.ServerAddress + ":" + port
	}
	// An IPv6 address may come bracketed, as in URLs.
	host := strings.TrimSuffix(strings.TrimPrefix(a.ServerAddress, "["), "]")
	return net.JoinHostPort(host, port)
}

// checkServerAddress reports what is wrong with a server_address in the
// DNS target form; host names and IP addresses are left to the resolver.
func checkServerAddress(addr string) error {
	if !strings.Contains(addr, "://") {
		if _, _, err := net.SplitHostPort(addr); err == nil && net.ParseIP(addr) == nil {
			return fmt.Errorf("%q has a port: give the host only and the port in server_port", addr)
		}
		return nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if u.Scheme != "dns" {
		return fmt.Errorf("%q: scheme %q: want a host name, an IP address or dns://[dns-server]/host", addr, u.Scheme)
	}
	host := strings.TrimPrefix(u.Path, "/")
	if host == "" || strings.Contains(host, "/") {
		return fmt.Errorf("%q: want dns://[dns-server]/host", addr)
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("%q has a port: give the host only and the port in server_port", addr)
	}
	return nil
}
