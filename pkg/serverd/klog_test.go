package serverd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/svidkit/svidkit/pkg/serverd"
)

// TestRouteKlog checks that a client-go warning (an API server's Warning
// header, as client-go's default handler logs it) and an apimachinery
// error (the path of reflector and watch errors) arrive as records of the
// server's slog logger, not as klog lines on stderr.
func TestRouteKlog(t *testing.T) {
	var buf bytes.Buffer
	serverd.RouteKlog(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(klog.ClearLogger)

	rest.WarningLogger{}.HandleWarningHeader(299, "", "example.org/v1 Widget is deprecated")
	utilruntime.HandleError(errors.New("watch of pods failed"))
	klog.Flush()

	type record struct {
		Level, Msg, Err, Subsystem string
	}
	var got []record
	for line := range strings.Lines(buf.String()) {
		var r struct {
			Level     string `json:"level"`
			Msg       string `json:"msg"`
			Err       string `json:"err"`
			Subsystem string `json:"subsystem"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a slog JSON record: %q: %v", line, err)
		}
		got = append(got, record{r.Level, r.Msg, r.Err, r.Subsystem})
	}
	want := []record{
		{"INFO", "Warning: example.org/v1 Widget is deprecated", "", "kubernetes"},
		{"ERROR", "Unhandled Error", "watch of pods failed", "kubernetes"},
	}
	if len(got) != len(want) {
		t.Fatalf("records = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
