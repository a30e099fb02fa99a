// Command svidkit-csi is the CSI node plugin that publishes the agent's
// Workload API socket directory into pods as a read-only inline ephemeral
// volume, a drop-in for spiffe-csi-driver (same flags, same driver name).
//
//	svidkit-csi -workload-api-socket-dir /spire-agent-socket -csi-socket-path /spiffe-csi/csi.sock
//	svidkit-csi version
//
// The command is in pkg/csicli, the wiring in pkg/csid, the driver in
// pkg/csi; docs/architecture.md maps every package.
package main

import (
	"os"

	"github.com/svidkit/svidkit/pkg/csicli"
	"github.com/svidkit/svidkit/pkg/version"
)

func main() {
	os.Exit(csicli.Main(os.Args[1:], csicli.Options{Version: version.Get().String()}))
}
