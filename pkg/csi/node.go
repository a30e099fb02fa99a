package csi

import (
	"context"
	"log/slog"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/csi/bindmount"
)

// NodePublishVolume bind-mounts the Workload API socket directory
// read-only on the target path. Publishing a target again leaves exactly
// one mount: the one already there if it is the read-only bind of the
// socket directory, else a fresh one after taking the others off.
func (d *Driver) NodePublishVolume(_ context.Context, req *csispec.NodePublishVolumeRequest) (*csispec.NodePublishVolumeResponse, error) {
	const method = "NodePublishVolume"
	log := d.cfg.Log.With("volume_id", req.GetVolumeId(), "target_path", req.GetTargetPath())
	if err := checkPublish(req); err != nil {
		return nil, d.fail(method, log, err)
	}
	if !d.Ready() {
		return nil, d.fail(method, log, status.Errorf(codes.FailedPrecondition,
			"workload API socket directory %q does not exist: is the agent running on this node?", d.cfg.WorkloadAPISocketDir))
	}
	d.mu.Lock()
	res, err := bindmount.Ensure(d.cfg.WorkloadAPISocketDir, req.GetTargetPath())
	d.mu.Unlock()
	if err != nil {
		return nil, d.fail(method, log, internal("publish", err))
	}
	d.metrics.publishes.Inc()
	d.metrics.stackedRemoved.Add(float64(res.Removed))
	switch {
	case res.Removed > 0:
		log.Warn("volume published after taking off the mounts that were on the target", "removed_mounts", res.Removed)
	case res.Mounted:
		log.Info("volume published")
	default:
		log.Info("volume already published")
	}
	return &csispec.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts everything on the target path and removes
// it. A target that is gone, or was never mounted, is success: the kubelet
// retries an unpublish that fails, and a pod could not terminate.
func (d *Driver) NodeUnpublishVolume(_ context.Context, req *csispec.NodeUnpublishVolumeRequest) (*csispec.NodeUnpublishVolumeResponse, error) {
	const method = "NodeUnpublishVolume"
	log := d.cfg.Log.With("volume_id", req.GetVolumeId(), "target_path", req.GetTargetPath())
	if err := checkTarget(req.GetVolumeId(), req.GetTargetPath()); err != nil {
		return nil, d.fail(method, log, err)
	}
	d.mu.Lock()
	n, err := bindmount.Remove(req.GetTargetPath())
	d.mu.Unlock()
	if err != nil {
		return nil, d.fail(method, log, internal("unpublish", err))
	}
	d.metrics.unpublishes.Inc()
	log.Info("volume unpublished", "removed_mounts", n)
	return &csispec.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetCapabilities returns none: no staging, no volume stats.
func (d *Driver) NodeGetCapabilities(context.Context, *csispec.NodeGetCapabilitiesRequest) (*csispec.NodeGetCapabilitiesResponse, error) {
	return &csispec.NodeGetCapabilitiesResponse{}, nil
}

// NodeGetInfo returns the node ID; no volume limit.
func (d *Driver) NodeGetInfo(context.Context, *csispec.NodeGetInfoRequest) (*csispec.NodeGetInfoResponse, error) {
	return &csispec.NodeGetInfoResponse{NodeId: d.cfg.NodeID}, nil
}

// fail logs and counts a failed call and returns err.
func (d *Driver) fail(method string, log *slog.Logger, err error) error {
	d.metrics.failed(method, statusCode(err))
	log.Error("csi call failed", "method", method, "error", err)
	return err
}
