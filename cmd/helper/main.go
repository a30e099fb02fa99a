// Command svidkit-helper is a drop-in replacement for spiffe-helper: it
// writes the workload's SVIDs and bundles from the SPIFFE Workload API to
// disk and signals the application that reads them:
//
//	svidkit-helper -config helper.conf [-daemon-mode=false] [-timeout 30s]
//
// The command line is parsed with the standard flag package, as
// spiffe-helper's is (no cobra). Everything, CLI included, is in
// pkg/helper; see its package doc and docs/architecture.md.
package main

import (
	"os"

	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/version"
)

func main() {
	os.Exit(helper.Main(os.Args[1:], helper.CLIOptions{Version: version.Get().String(), DaemonMaxProcs: helper.DefaultDaemonMaxProcs}))
}
