package helperconfig_test

import (
	"fmt"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

func ExampleParse() {
	conf := `
agent_address = "/run/spire/agent.sock"
cmd = "ghostunnel"
cmd_args = "server --listen \"localhost:8002\" --keystore certs/svid_key.pem"
cert_dir = "certs"
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
`
	c, warnings, err := helperconfig.Parse("helper.conf", []byte(conf))
	if err != nil {
		fmt.Println(err)
		return
	}
	addr, _ := c.WorkloadAPIAddress(func(string) string { return "" })
	fmt.Println(addr)
	fmt.Printf("%q\n", c.CmdArgs)
	fmt.Println(c.RenewSignalName, c.DaemonMode, c.CertFileMode, c.KeyFileMode, len(warnings))
	// Output:
	// unix:///run/spire/agent.sock
	// ["server" "--listen" "localhost:8002" "--keystore" "certs/svid_key.pem"]
	// SIGUSR1 true -rw-r--r-- -rw------- 0
}
