package helperconfig_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// FuzzParse checks that no input makes Parse panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullSpiffeHelper))
	f.Add([]byte(svidkitExtras))
	f.Add([]byte(x509Set + `cmd_args = "\"a"`))
	f.Add([]byte(`jwt_svids = [{jwt_audience = ["x", {}]}, 1, [2]]`))
	f.Add([]byte(`health_checks { bind_port = 99999999999999999999999 }`))
	f.Add([]byte(`cert_file_mode = 0x` + "\n" + `key_file_mode = "-0"`))
	f.Add([]byte("cmd_args = <<EOF\n\"a\nEOF\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := helperconfig.Parse("f.conf", data)
		if err == nil {
			// A file that parses must also pass Validate again unchanged.
			if err := c.Validate(); err != nil {
				t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
			}
		}
	})
}
