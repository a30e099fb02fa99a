package helper

import (
	"time"

	"github.com/svidkit/svidkit/pkg/wlclient"
)

// Backoff bounds for reconnecting to the Workload API: a returning
// Workload API is noticed within 2s.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// reconnectBackoff returns the helper's Workload API reconnect backoff.
func reconnectBackoff() wlclient.Backoff {
	return wlclient.Backoff{Min: minBackoff, Max: maxBackoff}
}
