package csi

import (
	"fmt"
	"path/filepath"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EphemeralContextKey is the volume_context key the kubelet sets to "true"
// for a pod's inline (ephemeral) CSI volume when the CSIDriver object has
// podInfoOnMount: true.
const EphemeralContextKey = "csi.storage.k8s.io/ephemeral"

// invalid returns an InvalidArgument error.
func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// checkTarget checks the fields both publish and unpublish need.
func checkTarget(volumeID, targetPath string) error {
	switch {
	case volumeID == "":
		return invalid("volume_id is required")
	case targetPath == "":
		return invalid("target_path is required")
	case !filepath.IsAbs(targetPath):
		return invalid("target_path %q is not absolute", targetPath)
	}
	return nil
}

// checkPublish refuses every publish but that of a read-only inline
// ephemeral volume with a plain mount capability, naming the field at
// fault and what the pod should say instead.
func checkPublish(req *csispec.NodePublishVolumeRequest) error {
	if err := checkTarget(req.GetVolumeId(), req.GetTargetPath()); err != nil {
		return err
	}
	vc := req.GetVolumeCapability()
	switch {
	case vc == nil:
		return invalid("volume_capability is required")
	case vc.GetMount() == nil:
		return invalid("volume_capability.access_type must be mount: the socket directory cannot be a block volume")
	case vc.GetMount().GetFsType() != "":
		return invalid("volume_capability.mount.fs_type is %q: remove csi.fsType from the pod's volume, the socket directory has no file system type", vc.GetMount().GetFsType())
	case len(vc.GetMount().GetMountFlags()) != 0:
		return invalid("volume_capability.mount.mount_flags %q are not supported: the mount is always a read-only bind", vc.GetMount().GetMountFlags())
	case vc.GetAccessMode() == nil:
		return invalid("volume_capability.access_mode is required")
	}
	if v := req.GetVolumeContext()[EphemeralContextKey]; v != "true" {
		return invalid("volume_context[%q] is %q, want \"true\": only inline ephemeral volumes (a pod's spec.volumes[].csi) are supported, not persistent volumes; the CSIDriver object needs podInfoOnMount: true",
			EphemeralContextKey, v)
	}
	if !req.GetReadonly() {
		return invalid("readonly is false: set readOnly: true on the pod's volume (spec.volumes[].csi.readOnly), the Workload API socket directory is published read-only")
	}
	return nil
}

// statusCode returns err's gRPC code, Internal for errors without one.
func statusCode(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Internal
}

// internal wraps a mount error for the kubelet.
func internal(what string, err error) error {
	return status.Error(codes.Internal, fmt.Sprintf("%s: %v", what, err))
}
