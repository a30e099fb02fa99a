package config

import (
	"fmt"
	"io"
	"os"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Override is a command-line flag of a run command that replaces one
// setting of the configuration file: C is *Server or *Agent.
type Override[C any] struct {
	// Flag is the flag's name, e.g. "socketPath".
	Flag string
	// Key is the file key the flag replaces, e.g. "socket_path", in the
	// server or agent block. Its line is forgotten when the flag is given,
	// so that messages about the value no longer point at the file.
	Key string
	// Apply stores the flag's value in the configuration; an error (a
	// malformed value) stops loading.
	Apply func(C) error
}

// LoadServerFlags reads the server configuration file named by -config
// (path), decodes it, applies the overrides whose flag changed reports as
// given, and validates the result. Warnings are returned with any decoding
// or validation error.
func LoadServerFlags(path string, changed func(flag string) bool, overrides []Override[*Server]) (*Server, []string, error) {
	return loadFlags(path, DecodeServer, func(s *Server) (hcldecode.Lines, string) { return s.Lines, ServerBlock },
		(*Server).Validate, changed, overrides)
}

// LoadAgentFlags is LoadServerFlags for the agent.
func LoadAgentFlags(path string, changed func(flag string) bool, overrides []Override[*Agent]) (*Agent, []string, error) {
	return loadFlags(path, DecodeAgent, func(a *Agent) (hcldecode.Lines, string) { return a.Lines, AgentBlock },
		(*Agent).Validate, changed, overrides)
}

// loadFlags is the one copy of "file, then flags, then Validate" behind
// LoadServerFlags and LoadAgentFlags.
func loadFlags[C any](path string, decode func(string, []byte) (C, []string, error),
	lines func(C) (hcldecode.Lines, string), validate func(C) error,
	changed func(string) bool, overrides []Override[C]) (C, []string, error) {
	var zero C
	data, err := os.ReadFile(path)
	if err != nil {
		return zero, nil, fmt.Errorf("read -config: %w", err)
	}
	c, warnings, err := decode(path, data)
	if err != nil {
		return zero, warnings, err
	}
	l, block := lines(c)
	for _, o := range overrides {
		if !changed(o.Flag) {
			continue
		}
		if err := o.Apply(c); err != nil {
			return zero, warnings, err
		}
		// A value from a flag is not on a line of the file.
		l.Forget(block, o.Key)
	}
	if err := validate(c); err != nil {
		return zero, warnings, err
	}
	return c, warnings, nil
}

// PrintWarnings writes each configuration warning on its own line, as
// "Warning: file:line: message".
func PrintWarnings(w io.Writer, warnings []string) {
	for _, msg := range warnings {
		fmt.Fprintf(w, "Warning: %s\n", msg)
	}
}
