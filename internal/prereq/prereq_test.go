package prereq

import (
	"testing"
)

// recorder is a testing.TB that records how the test would have ended.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = format
}

func (r *recorder) Skip(args ...any) { r.skipped = true }

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		name               string
		ci                 string
		wantFail, wantSkip bool
	}{
		{name: "under CI", ci: "true", wantFail: true},
		{name: "outside CI", ci: "", wantSkip: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			Missing(r, "needs %s", "x")
			if r.failed != tc.wantFail || r.skipped != tc.wantSkip {
				t.Errorf("failed=%v skipped=%v, want failed=%v skipped=%v", r.failed, r.skipped, tc.wantFail, tc.wantSkip)
			}
		})
	}
}

func TestTool(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	if p := Tool(r, "sh", "apt-get install dash"); p == "" || r.failed {
		t.Errorf("Tool(sh) = %q, failed=%v; want a path", p, r.failed)
	}
	r = &recorder{TB: t}
	Tool(r, "svidkit-no-such-program", "none")
	if !r.failed {
		t.Error("Tool of a missing program under CI did not fail")
	}
}
