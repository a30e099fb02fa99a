package logging_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/logging"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantErr             string
		wantOut             string
	}{
		{name: "text info", level: "INFO", format: "text", wantOut: "msg=hello"},
		{name: "json debug", level: "debug", format: "json", wantOut: `"msg":"hello"`},
		{name: "bad level", level: "LOUD", format: "text", wantErr: "log_level"},
		{name: "bad format", level: "INFO", format: "xml", wantErr: "log_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(&buf, tt.level, tt.format)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New() error = %v, want it to name %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello")
			if !strings.Contains(buf.String(), tt.wantOut) {
				t.Fatalf("output %q lacks %q", buf.String(), tt.wantOut)
			}
		})
	}
}
