// Package config loads SPIRE-format HCL configuration files for the svidkit
// server and agent. A file is parsed to the HCL v1 syntax tree (so every
// problem can name its file:line), checked key by key against what svidkit
// supports, and converted once into plain runtime structs (Server, Agent)
// with defaults resolved. Keys and plugins that SPIRE knows but svidkit does
// not implement are rejected with a message saying so, rather than being
// silently ignored. svidkit's own additions are few and off by default:
// socket_dir_shared in the agent and server blocks (accept a socket
// directory other users may write, with a warning; see package unixsock).
package config

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// Health configures the health-check and metrics HTTP listener
// (the health_checks block).
type Health struct {
	// ListenerEnabled turns the listener on (SPIRE default: off).
	ListenerEnabled bool
	// BindAddress and BindPort are where the listener binds
	// (default 0.0.0.0:80).
	BindAddress string
	BindPort    int
	// LivePath and ReadyPath are the probe paths (default /live, /ready).
	LivePath  string
	ReadyPath string
}

// Addr returns BindAddress:BindPort in the form net.Listen accepts.
func (h Health) Addr() string {
	return net.JoinHostPort(h.BindAddress, strconv.Itoa(h.BindPort))
}

func defaultHealth() Health {
	return Health{BindAddress: "0.0.0.0", BindPort: 80, LivePath: "/live", ReadyPath: "/ready"}
}

// Block names used in Server.Lines and Agent.Lines (and in messages).
const (
	ServerBlock = "server block"
	AgentBlock  = "agent block"
	healthBlock = "health_checks block"
)

// KeyManager names the configured KeyManager plugin and its settings.
type KeyManager struct {
	// Name is "disk" or "memory".
	Name string
	// Path is where the disk key manager keeps keys: the server's keys_path
	// (a file) or the agent's directory. Empty for "memory".
	Path string
}

// Log levels and formats accepted in log_level and log_format.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// ParseLogLevel converts a SPIRE log level (DEBUG, INFO, WARN, ERROR; any
// case) to a slog level.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want DEBUG, INFO, WARN or ERROR)", s)
}

// checkLogFormat reports whether s is a log_format svidkit can produce.
func checkLogFormat(s string) error {
	switch strings.ToLower(s) {
	case LogFormatText, LogFormatJSON:
		return nil
	}
	return fmt.Errorf("unknown log format %q (want text or json)", s)
}

// checkPort reports whether p is a usable TCP port number.
func checkPort(p int) error {
	if p < 0 || p > 65535 {
		return fmt.Errorf("port %d out of range 0-65535", p)
	}
	return nil
}
