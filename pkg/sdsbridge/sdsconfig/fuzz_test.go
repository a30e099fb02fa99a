package sdsconfig_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
)

// FuzzDecode checks that no input makes Decode panic: Decode relies on
// hcldecode for that (its parser and value readers recover), as the other
// configuration packages do.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("agent_address = \"/a\"\nlisten_address = [\"/s.sock\", \"127.0.0.1:1\"]\nlisten_socket_mode = 0640\n"))
	f.Add([]byte("health_checks { bind_port = 99999999999999999999999 }\n"))
	f.Add([]byte("listen_address = [1, {}]\nhealth_checks \"x\" { }\n"))
	f.Add([]byte("log_level = <<EOF\n\"a\nEOF\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := sdsconfig.Decode("f.conf", data); err != nil && err.Error() == "" {
			t.Fatal("Decode returned an empty error")
		}
	})
}
