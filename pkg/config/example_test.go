package config_test

import (
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

func ExampleParseServer() {
	conf := `server {
  trust_domain = "example.org"
  data_dir = "/var/lib/svidkit"
  bind_adress = "0.0.0.0"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/var/lib/svidkit/ds.db" } }
  KeyManager "memory" {}
  NodeAttestor "aws_iid" {}
}`
	_, _, err := config.ParseServer("server.conf", []byte(conf))
	fmt.Println(err)
	// Output:
	// server.conf:4: unknown key "bind_adress" in server block
	// server.conf:9: NodeAttestor "aws_iid" is a SPIRE plugin svidkit does not support yet
}

func BenchmarkParseServer(b *testing.B) {
	data := []byte(validServer)
	for b.Loop() {
		if _, _, err := config.ParseServer("server.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
