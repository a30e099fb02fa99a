package sds

import (
	"context"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fetchSecrets answers one unary request from the workload's first
// snapshot. It cannot wait for names that are not available, so those make
// it fail with NotFound (a short message: see notFound).
func (h *Handler) fetchSecrets(ctx context.Context, req *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	if err := checkType(req.GetTypeUrl()); err != nil {
		return nil, err
	}
	if err := checkNames("resource_names", req.GetResourceNames()); err != nil {
		h.log.Warn("refusing request", "protocol", "fetch", "error", err)
		return nil, err
	}
	w, err := h.watch(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	var snap *Snapshot
	select {
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case s, ok := <-w.Updates():
		if !ok {
			return nil, errWatchEnded
		}
		snap = s
	}
	v := snap.view(h.names, h.useSPIFFEValidator(req.GetNode()))
	served, missing, err := v.render(req.GetResourceNames())
	if err != nil {
		h.log.Error("render secrets", "protocol", "fetch", "error", err)
		return nil, status.Errorf(codes.Internal, "sds: render secrets: %v", err)
	}
	if len(missing) > 0 {
		return nil, notFound(missing)
	}
	resp := &discoveryv3.DiscoveryResponse{VersionInfo: setVersion(served), TypeUrl: secretTypeURL}
	for _, r := range served {
		resp.Resources = append(resp.Resources, r.any)
	}
	h.metrics.pushes.WithLabelValues("fetch").Inc()
	return resp, nil
}
