package demo

import (
	"errors"
	"io"
	"time"
)

// Defaults of Config.
const (
	DefaultSVIDTTL   = 20 * time.Second
	DefaultInitDelay = 4 * time.Second
	// TrustDomain is the demo's trust domain.
	TrustDomain = "demo.svidkit.test"
)

// Config is what Run needs.
type Config struct {
	// Bin holds svidkit-server, svidkit-agent, svidkit-helper and
	// svidkit-sds (go tool task build).
	Bin string
	// Dir receives the state, the configuration files, the logs and
	// summary.json; it is emptied first.
	Dir string
	// Self is this program's executable: the sidecar helper runs it with
	// the "tlsserver" argument, and the workload's entry selects it by path.
	Self string
	// Duration stops the demo by itself after that long; 0 runs until ctx
	// ends (Ctrl-C).
	Duration time.Duration
	// SVIDTTL is the X.509-SVID lifetime; the agent rotates at half of it.
	SVIDTTL time.Duration
	// InitDelay is how long the init-container helper is kept blocked
	// before its entry is created.
	InitDelay time.Duration
	// Out receives the status lines; Terminal redraws them in place,
	// cut to Width columns (when not 0).
	Out      io.Writer
	Terminal bool
	Width    int
}

func (c Config) withDefaults() (Config, error) {
	if c.Bin == "" || c.Dir == "" || c.Self == "" || c.Out == nil {
		return c, errors.New("demo: Bin, Dir, Self and Out must be set")
	}
	if c.SVIDTTL == 0 {
		c.SVIDTTL = DefaultSVIDTTL
	}
	if c.InitDelay == 0 {
		c.InitDelay = DefaultInitDelay
	}
	return c, nil
}
