package agentd_test

import (
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/profiletest"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestProfiling runs a real agent (of a real server) with
// profiling_enabled, a profiling_port, profiling_freq = 1 and
// profiling_names heap and goroutine: the endpoint answers with profiles on
// 127.0.0.1 only, and the two profiles are written, 0600, under the agent's
// data_dir/profiles with the agent's tag.
func TestProfiling(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	cfg := srv.AgentConfig(t, "profiled", srv.JoinToken(t, testenv.NodePath))
	port := freeport.ForTest(t)
	cfg.Profiling = config.Profiling{Enabled: true, Port: port, Freq: 1, Names: []string{"heap", "goroutine"}}
	srv.StartAgentWith(t, "profiled", cfg)

	if p := profiletest.Fetch(t, port, "goroutine"); len(p.Sample) == 0 {
		t.Error("/debug/pprof/goroutine has no samples")
	}
	profiletest.LoopbackOnly(t, port)
	profiletest.Files(t, filepath.Join(cfg.DataDir, config.ProfilesDir), "agent", "heap", "goroutine")
}
