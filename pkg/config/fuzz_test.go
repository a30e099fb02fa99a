package config_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// FuzzParse checks that no input makes the loaders panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validServer))
	f.Add([]byte(validAgent))
	f.Add([]byte(minimalServer))
	f.Add([]byte(`server { bind_port = 99999999999999999999999 }`))
	f.Add([]byte(`plugins { DataStore { sql { plugin_data { x = [1, {}] } } } }`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = config.ParseServer("f.conf", data)
		_, _, _ = config.ParseAgent("f.conf", data)
	})
}
