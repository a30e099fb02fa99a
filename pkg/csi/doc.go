// Package csi is the svidkit CSI node plugin: the CSI Identity and Node
// services that publish the agent's Workload API socket directory into
// pods as an inline ephemeral volume, the job spiffe-csi-driver does, with
// its driver name (csi.spiffe.io) and behaviour, so that pods need no
// hostPath volume.
//
// A publish bind-mounts the socket directory read-only on the target the
// kubelet names (package bindmount); requests for anything but a
// read-only inline ephemeral volume are refused with InvalidArgument
// naming the field. Publish and unpublish are idempotent and keep no
// state, so a kubelet or driver restart neither stacks nor loses mounts.
// The driver reports ready (Probe, and the health listener of package
// csid) only while the socket directory exists.
//
// Package csid serves it over gRPC on the CSI socket; package csicli is
// the svidkit-csi command.
package csi
