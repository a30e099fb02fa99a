// Command svidkit-sds is the standalone Envoy SDS bridge: a Workload API
// client that serves the workload's SVIDs and bundles to Envoy over SDS v3.
//
//	svidkit-sds run -config sds.conf
//	svidkit-sds version
//
// Commands are in pkg/sdscli, the wiring in pkg/sdsbridged, the bridge in
// pkg/sdsbridge, the
// SDS server in pkg/sds; docs/architecture.md maps every package.
package main

import (
	"os"

	"github.com/svidkit/svidkit/pkg/sdscli"
	"github.com/svidkit/svidkit/pkg/version"
)

func main() {
	os.Exit(sdscli.Main(os.Args[1:], sdscli.Options{Version: version.Get().String()}))
}
