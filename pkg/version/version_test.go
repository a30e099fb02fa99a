package version_test

import (
	"runtime/debug"
	"testing"

	"github.com/svidkit/svidkit/pkg/version"
)

func TestFromBuildInfo(t *testing.T) {
	const sha = "c664b65a1b2c3d4e5f60718293a4b5c6d7e8f901"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: sha}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name       string
		bi         *debug.BuildInfo
		fallback   version.Info
		want       version.Info
		wantString string
	}{
		{
			name:       "release tag",
			bi:         &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}, Settings: vcs("false")},
			want:       version.Info{Version: "v0.1.0", Commit: sha},
			wantString: "v0.1.0 (commit c664b65a1b2c)",
		},
		{
			name:       "pseudo-version of a modified tree",
			bi:         &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202225736-c664b65a1b2c+dirty"}, Settings: vcs("true")},
			want:       version.Info{Version: "v0.0.0-20261202225736-c664b65a1b2c", Commit: sha, Modified: true},
			wantString: "v0.0.0-20261202225736-c664b65a1b2c (commit c664b65a1b2c, modified)",
		},
		{
			name:       "no VCS information uses the linker fallbacks",
			bi:         &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			fallback:   version.Info{Version: "v0.2.0", Commit: sha, Modified: true},
			want:       version.Info{Version: "v0.2.0", Commit: sha, Modified: true},
			wantString: "v0.2.0 (commit c664b65a1b2c, modified)",
		},
		{
			name:       "build information wins over the fallbacks",
			bi:         &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}, Settings: vcs("false")},
			fallback:   version.Info{Version: "v9.9.9", Commit: "0000", Modified: true},
			want:       version.Info{Version: "v0.1.0", Commit: sha},
			wantString: "v0.1.0 (commit c664b65a1b2c)",
		},
		{
			name:       "nothing known",
			bi:         nil,
			want:       version.Info{Version: version.Unknown, Commit: version.Unknown},
			wantString: "unknown (commit unknown)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := version.FromBuildInfo(tt.bi, tt.fallback)
			if got != tt.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.wantString {
				t.Errorf("String = %q, want %q", s, tt.wantString)
			}
		})
	}
}
