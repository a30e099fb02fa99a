package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestLoadServerFlags checks the run command's loading: file, then the
// flags that were given (forgetting the file line of each overridden key),
// then Validate.
func TestLoadServerFlags(t *testing.T) {
	// log_level is on line 4.
	conf := `server {
  trust_domain = "example.org"
  data_dir = "/var/lib/svidkit"
  log_level = "LOUD"
  default_svid_ttl = "1h"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/var/lib/svidkit/ds.db" } }
  KeyManager "memory" {}
}
`
	path := filepath.Join(t.TempDir(), "server.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	errBad := errors.New("bad flag value")
	tests := []struct {
		name     string
		path     string
		flags    map[string]string // given flags and their values
		wantErr  string            // "" means success
		wantWarn bool
		check    func(t *testing.T, s *config.Server)
	}{
		{name: "file value reported at its line", wantWarn: true,
			wantErr: path + `:4: log_level: unknown log level "LOUD"`},
		{name: "overridden value reported without the file line", flags: map[string]string{"logLevel": "QUIET"}, wantWarn: true,
			wantErr: path + `: log_level: unknown log level "QUIET"`},
		{name: "flag fixes the file", flags: map[string]string{"logLevel": "DEBUG", "dataDir": "/d"}, wantWarn: true,
			check: func(t *testing.T, s *config.Server) {
				if s.LogLevel != "DEBUG" || s.DataDir != "/d" {
					t.Errorf("LogLevel %q DataDir %q, want DEBUG and /d", s.LogLevel, s.DataDir)
				}
				if s.Lines.Line(config.ServerBlock, "log_level") != 0 || s.Lines.Line(config.ServerBlock, "data_dir") != 0 {
					t.Error("an overridden key kept its file line")
				}
				if s.Lines.Line(config.ServerBlock, "trust_domain") != 2 {
					t.Errorf("trust_domain line = %d, want 2 (not overridden)", s.Lines.Line(config.ServerBlock, "trust_domain"))
				}
			}},
		{name: "flag error stops loading", flags: map[string]string{"logLevel": "DEBUG", "bad": ""}, wantWarn: true,
			wantErr: errBad.Error()},
		{name: "missing file", path: filepath.Join(t.TempDir(), "none.conf"), wantErr: "read -config: open "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.path != "" {
				p = tc.path
			}
			// apply stores a given flag's value; the loader must not call
			// it for a flag that was not given.
			apply := func(flag string, dst func(*config.Server) *string) func(*config.Server) error {
				return func(c *config.Server) error {
					v, ok := tc.flags[flag]
					if !ok {
						t.Errorf("Apply of -%s called, but the flag was not given", flag)
					}
					*dst(c) = v
					return nil
				}
			}
			given := func(f string) bool { _, ok := tc.flags[f]; return ok }
			s, warnings, err := config.LoadServerFlags(p, given, []config.Override[*config.Server]{
				{Flag: "logLevel", Key: "log_level", Apply: apply("logLevel", func(c *config.Server) *string { return &c.LogLevel })},
				{Flag: "bad", Key: "bind_port", Apply: func(*config.Server) error { return errBad }},
				{Flag: "dataDir", Key: "data_dir", Apply: apply("dataDir", func(c *config.Server) *string { return &c.DataDir })},
			})
			if got := slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "default_svid_ttl is deprecated") }); got != tc.wantWarn {
				t.Errorf("warnings = %q, want the deprecation warning: %v", warnings, tc.wantWarn)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || s != nil {
					t.Fatalf("LoadServerFlags() = %v, %v; want nil and an error starting %q", s, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// TestLoadAgentFlags checks the agent's loading uses the agent block's
// lines.
func TestLoadAgentFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(path, []byte(strings.Replace(validAgent, `"DEBUG"`, `"LOUD"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	override := []config.Override[*config.Agent]{{Flag: "logLevel", Key: "log_level", Apply: func(c *config.Agent) error {
		c.LogLevel = "QUIET"
		return nil
	}}}
	for _, tc := range []struct {
		name    string
		given   bool
		wantErr string
	}{
		{"file value at its line", false, path + `:3: log_level: unknown log level "LOUD" (want DEBUG, INFO, WARN or ERROR)`},
		{"flag value without the line", true, path + `: log_level: unknown log level "QUIET" (want DEBUG, INFO, WARN or ERROR)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := config.LoadAgentFlags(path, func(string) bool { return tc.given }, override)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("LoadAgentFlags() error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
