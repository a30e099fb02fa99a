package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestSocketDirShared: socket_dir_shared, svidkit's extension key, is off
// by default and read from the agent and server blocks alike; a
// non-boolean names the key and line.
func TestSocketDirShared(t *testing.T) {
	type parsed struct {
		shared bool
		err    error
	}
	agent := func(conf string) parsed {
		a, _, err := config.ParseAgent("agent.conf", []byte(conf))
		if err != nil {
			return parsed{err: err}
		}
		return parsed{shared: a.SocketDirShared}
	}
	server := func(conf string) parsed {
		s, _, err := config.ParseServer("server.conf", []byte(conf))
		if err != nil {
			return parsed{err: err}
		}
		return parsed{shared: s.SocketDirShared}
	}
	const anchor = `trust_domain = "example.org"`
	tests := []struct {
		name    string
		parse   func(string) parsed
		conf    string
		value   string // socket_dir_shared's value, "" for unset
		want    bool
		wantErr string
	}{
		{name: "agent default", parse: agent, conf: validAgent},
		{name: "agent set", parse: agent, conf: validAgent, value: "true", want: true},
		{name: "agent bad value", parse: agent, conf: validAgent, value: `"yes"`, wantErr: "agent.conf:9: socket_dir_shared"},
		{name: "server default", parse: server, conf: validServer},
		{name: "server set", parse: server, conf: validServer, value: "true", want: true},
		{name: "server bad value", parse: server, conf: validServer, value: "1", wantErr: "server.conf:6: socket_dir_shared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := tt.conf
			if tt.value != "" {
				conf = strings.Replace(conf, anchor, anchor+"\n    socket_dir_shared = "+tt.value, 1)
			}
			got := tt.parse(conf)
			if tt.wantErr != "" {
				if got.err == nil || !strings.Contains(got.err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", got.err, tt.wantErr)
				}
				return
			}
			if got.err != nil {
				t.Fatal(got.err)
			}
			if got.shared != tt.want {
				t.Errorf("SocketDirShared = %v, want %v", got.shared, tt.want)
			}
		})
	}
}
