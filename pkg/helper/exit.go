package helper

import (
	"errors"
	"fmt"
	"time"
)

// Process exit codes; see the package documentation.
const (
	ExitOK      = 0
	ExitConfig  = 1
	ExitTimeout = 2
	ExitRuntime = 3
)

// ConfigError is a usage or configuration problem (exit code 1).
type ConfigError struct{ Err error }

// Error returns the underlying message.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// TimeoutError reports that one-shot mode gave up waiting (exit code 2).
type TimeoutError struct {
	// After is the timeout that expired.
	After time.Duration
	// Waiting describes what was awaited, e.g. `an X.509-SVID (hint "db")`.
	Waiting string
	// Address is the Workload API address.
	Address string
	// Last is the last error seen while waiting, or nil.
	Last error
}

// Error returns one line: what was awaited, from where, and the last error.
func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for %s from the Workload API at %s", e.After, e.Waiting, e.Address)
	if e.Last != nil {
		msg += ": last error: " + oneLine(e.Last.Error())
	}
	return msg
}

// Unwrap returns the last error seen.
func (e *TimeoutError) Unwrap() error { return e.Last }

// ExitCode returns the process exit code for err (nil gives ExitOK).
func ExitCode(err error) int {
	var (
		cfgErr     *ConfigError
		timeoutErr *TimeoutError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &timeoutErr):
		return ExitTimeout
	case errors.As(err, &cfgErr):
		return ExitConfig
	default:
		return ExitRuntime
	}
}

// oneLine folds a multi-line message into one line.
func oneLine(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '\n' || c == '\r' {
			out[i] = ' '
		}
	}
	return string(out)
}
