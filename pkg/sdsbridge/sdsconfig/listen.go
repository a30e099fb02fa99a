package sdsconfig

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// Listener is one place SDS is served.
type Listener struct {
	// Network is "unix" or "tcp".
	Network string
	// Address is a socket path for "unix", host:port for "tcp".
	Address string
}

// String returns the listener in the form the flags take.
func (l Listener) String() string {
	if l.Network == "unix" {
		return "unix://" + l.Address
	}
	return l.Address
}

// ParseListen parses one listen address: an absolute socket path,
// unix:///path, or host:port where host is a loopback IP or "localhost".
// SDS hands out private keys, so TCP beyond loopback is refused.
func ParseListen(addr string) (Listener, error) {
	switch {
	case addr == "":
		return Listener{}, errors.New("listen_address: empty")
	case strings.HasPrefix(addr, "/"):
		return Listener{Network: "unix", Address: filepath.Clean(addr)}, nil
	case strings.HasPrefix(addr, "unix:"):
		u, err := url.Parse(addr)
		if err != nil {
			return Listener{}, fmt.Errorf("listen_address %q: %w", addr, err)
		}
		p := u.Path
		if u.Opaque != "" {
			p = u.Opaque
		}
		if u.Host != "" || !strings.HasPrefix(p, "/") {
			return Listener{}, fmt.Errorf("listen_address %q: want unix:///absolute/path", addr)
		}
		return Listener{Network: "unix", Address: filepath.Clean(p)}, nil
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		return Listener{}, fmt.Errorf("listen_address %q: want an absolute Unix socket path or a loopback host:port: %w", addr, err)
	}
	if !isLoopback(host) {
		return Listener{}, fmt.Errorf("listen_address %q: TCP is served on loopback only (127.0.0.1, ::1 or localhost): SDS hands out private keys", addr)
	}
	return Listener{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
}

// checkTCP refuses TCP listeners unless AllowInsecureTCP: SDS hands out
// private keys, and any local user can connect to a loopback port.
func (c Config) checkTCP() error {
	if c.AllowInsecureTCP {
		return nil
	}
	var errs []error
	for _, a := range c.ListenAddresses {
		if l, err := ParseListen(a); err != nil || l.Network != "tcp" {
			continue
		}
		errs = append(errs, fmt.Errorf("listen_address %q: TCP lets every local user fetch the private keys; use a Unix socket, or set allow_insecure_tcp = true (-allow-insecure-tcp) to accept that", a))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listeners parses every listen address; duplicates are an error.
func (c Config) Listeners() ([]Listener, error) {
	var (
		out  []Listener
		errs []error
		seen = map[Listener]bool{}
	)
	for _, a := range c.ListenAddresses {
		l, err := ParseListen(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[l] {
			errs = append(errs, fmt.Errorf("listen_address %q: listed twice", a))
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}
