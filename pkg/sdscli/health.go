package sdscli

import (
	"fmt"
	"net"
	"strconv"

	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
)

// setHealthAddress enables the health listener on host:port.
func setHealthAddress(h *sdsconfig.HealthChecks, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-health-address %q: want host:port: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("-health-address %q: port: %w", addr, err)
	}
	h.ListenerEnabled, h.BindAddress, h.BindPort = true, host, p
	return nil
}
