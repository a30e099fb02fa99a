// Package csicli is the svidkit-csi command: the CSI node plugin that
// publishes the agent's Workload API socket directory into pods (package
// csi). Its flags are spiffe-csi-driver's, so a DaemonSet written for that
// driver switches by image:
//
//	svidkit-csi -workload-api-socket-dir /spire-agent-socket -csi-socket-path /spiffe-csi/csi.sock
//	svidkit-csi version
//
// This package holds only the command and its flags; it hands the
// validated settings to package csid, which builds and runs the daemon.
// SIGTERM and SIGINT stop it gracefully, leaving the mounts in place.
package csicli
