package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestParseProfiling: SPIRE's profiling_* keys of the server and agent
// blocks are read as SPIRE reads them; a bad port, a negative frequency or
// an unknown profile name is refused naming the key (and the value) and
// its line, and keys that do nothing are warned about.
func TestParseProfiling(t *testing.T) {
	tests := []struct {
		name        string
		setting     string // added after trust_domain: line 6 of validServer, 9 of validAgent
		want        config.Profiling
		wantErr     string // the message after "file:line: "
		wantWarning string // likewise
		line        int    // of the error or warning, counted from the setting's first line (0)
	}{
		{name: "absent"},
		{
			name:    "endpoint and writer",
			setting: "profiling_enabled = true\n profiling_port = 6060\n profiling_freq = 30\n profiling_names = [\"heap\", \"goroutine\", \"cpu\"]",
			want:    config.Profiling{Enabled: true, Port: 6060, Freq: 30, Names: []string{"heap", "goroutine", "cpu"}},
		},
		{
			name:    "every SPIRE name",
			setting: "profiling_enabled = true\n profiling_freq = 1\n profiling_names = [\"goroutine\", \"threadcreate\", \"heap\", \"block\", \"mutex\", \"trace\", \"cpu\"]",
			want:    config.Profiling{Enabled: true, Freq: 1, Names: []string{"goroutine", "threadcreate", "heap", "block", "mutex", "trace", "cpu"}},
		},
		{
			name:    "port as a string, as SPIRE accepts",
			setting: "profiling_enabled = true\n profiling_port = \"6060\"",
			want:    config.Profiling{Enabled: true, Port: 6060},
		},
		{
			name:    "port out of range",
			setting: "profiling_enabled = true\n profiling_port = 70000",
			wantErr: "profiling_port: want a port 1-65535 (or 0 for no endpoint), got 70000",
			line:    1,
		},
		{
			name:    "negative port",
			setting: "profiling_port = -1\n profiling_enabled = true",
			wantErr: "profiling_port: want a port 1-65535 (or 0 for no endpoint), got -1",
		},
		{
			name:    "port not a number",
			setting: "profiling_port = \"pprof\"",
			wantErr: "profiling_port: want a number",
		},
		{
			name:    "negative frequency",
			setting: "profiling_freq = -5",
			wantErr: "profiling_freq: want a number of seconds, or 0 to write no profiles, got -5",
		},
		{
			name:    "unknown name on its own line",
			setting: "profiling_enabled = true\n profiling_freq = 5\n profiling_names = [\n \"heap\",\n \"allocs\",\n ]",
			wantErr: `profiling_names: unknown profile "allocs" (want goroutine, threadcreate, heap, block, mutex, trace, cpu)`,
			line:    4,
		},
		{
			name:    "a single unknown name",
			setting: `profiling_names = "Heap"`,
			wantErr: `profiling_names: unknown profile "Heap"`,
		},
		{
			name:        "settings without profiling_enabled",
			setting:     "profiling_port = 6060\n profiling_freq = 5\n profiling_names = [\"heap\"]",
			want:        config.Profiling{Port: 6060, Freq: 5, Names: []string{"heap"}},
			wantWarning: "profiling_port, profiling_freq and profiling_names have no effect without profiling_enabled = true",
		},
		{
			name:        "enabled alone",
			setting:     "profiling_enabled = true",
			want:        config.Profiling{Enabled: true},
			wantWarning: "profiling_enabled has no effect without profiling_port or profiling_freq",
		},
		{
			name:        "frequency without names",
			setting:     "profiling_enabled = true\n profiling_freq = 5",
			want:        config.Profiling{Enabled: true, Freq: 5},
			wantWarning: "profiling_freq is set but profiling_names is empty",
			line:        1,
		},
	}
	daemons := []struct {
		name  string
		conf  string
		line  int
		parse func(data string) (config.Profiling, []string, error)
	}{
		{"server", validServer, 6, func(data string) (config.Profiling, []string, error) {
			s, w, err := config.ParseServer("server.conf", []byte(data))
			if err != nil {
				return config.Profiling{}, w, err
			}
			return s.Profiling, w, nil
		}},
		{"agent", validAgent, 9, func(data string) (config.Profiling, []string, error) {
			a, w, err := config.ParseAgent("agent.conf", []byte(data))
			if err != nil {
				return config.Profiling{}, w, err
			}
			return a.Profiling, w, nil
		}},
	}
	for _, dm := range daemons {
		for _, tt := range tests {
			t.Run(dm.name+"/"+tt.name, func(t *testing.T) {
				data := strings.Replace(dm.conf, `trust_domain = "example.org"`, "trust_domain = \"example.org\"\n"+tt.setting, 1)
				got, warnings, err := dm.parse(data)
				at := fmt.Sprintf("%s.conf:%d: ", dm.name, dm.line+tt.line)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), at+tt.wantErr) {
						t.Fatalf("got error %v, want one containing %q", err, at+tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Profiling = %+v, want %+v", got, tt.want)
				}
				switch {
				case tt.wantWarning == "" && len(warnings) != 0:
					t.Errorf("warnings = %q, want none", warnings)
				case tt.wantWarning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], at+tt.wantWarning)):
					t.Errorf("warnings = %q, want one containing %q", warnings, at+tt.wantWarning)
				}
			})
		}
	}
}
