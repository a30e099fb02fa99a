package helperconfig_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

func TestParseSafetyOptOuts(t *testing.T) {
	tests := []struct {
		name, extra string
		want        helperconfig.Safety
		wantErr     string
	}{
		{"defaults", "", helperconfig.Safety{}, ""},
		{"both set", "ignore_umask = true\npid_file_any_process = true\n", helperconfig.Safety{IgnoreUmask: true, PIDFileAnyProcess: true}, ""},
		{"not a bool", "ignore_umask = \"yes\"\n", helperconfig.Safety{}, "helper.conf:5: ignore_umask"},
		{"duplicate", "pid_file_any_process = true\npid_file_any_process = false\n", helperconfig.Safety{}, `helper.conf:6: duplicate key "pid_file_any_process"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := helperconfig.Parse("helper.conf", []byte(x509Set+tt.extra))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Safety != tt.want {
				t.Fatalf("Safety = %+v, want %+v", c.Safety, tt.want)
			}
		})
	}
}
