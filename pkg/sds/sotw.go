package sds

import (
	"slices"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// streamSecrets runs one state-of-the-world stream: one loop selects over
// Envoy's requests and the workload's snapshots and sends a response
// whenever the served content differs from what was last sent.
func (h *Handler) streamSecrets(stream grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]) error {
	ctx := stream.Context()
	w, err := h.watch(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	h.metrics.streams.WithLabelValues("sotw").Inc()
	defer h.metrics.streams.WithLabelValues("sotw").Dec()
	log := h.log.With("protocol", "sotw")

	reqs, errc := receive(ctx, stream)
	updates := w.Updates()
	var (
		snap     *Snapshot
		req      *discoveryv3.DiscoveryRequest // the current subscription
		sent     string                        // version last sent
		lastSent string                        // nonce last sent
		nonce    nonces
		dirty    bool // snapshot or subscription changed since last render
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				log.Debug("stream ended", "error", err)
			}
			return err
		case s, ok := <-updates:
			if !ok {
				return errWatchEnded
			}
			snap, dirty = s, true
		case r := <-reqs:
			if err := checkType(r.GetTypeUrl()); err != nil {
				return err
			}
			if err := checkNames("resource_names", r.GetResourceNames()); err != nil {
				log.Warn("refusing request", "error", err)
				return err
			}
			if lastSent != "" && r.GetResponseNonce() != lastSent {
				log.Debug("ignoring request with stale nonce", "nonce", r.GetResponseNonce(), "expected", lastSent)
				continue
			}
			if d := r.GetErrorDetail(); d != nil {
				h.metrics.nacks.WithLabelValues("sotw").Inc()
				log.Error("Envoy rejected secrets", "version", sent, "names", r.GetResourceNames(),
					"code", codes.Code(d.GetCode()).String(), "message", d.GetMessage())
			}
			if r.GetNode() == nil && req != nil {
				r.Node = req.GetNode() // Envoy may send the node only once
			}
			// An ACK repeats the subscription: nothing to render again.
			if req == nil || !slices.Equal(req.GetResourceNames(), r.GetResourceNames()) ||
				h.useSPIFFEValidator(req.GetNode()) != h.useSPIFFEValidator(r.GetNode()) {
				dirty = true
			}
			req = r
		}
		if req == nil || snap == nil || !dirty {
			continue
		}
		dirty = false
		v := snap.view(h.names, h.useSPIFFEValidator(req.GetNode()))
		served, missing, err := v.render(req.GetResourceNames())
		if err != nil {
			log.Error("render secrets", "error", err)
			return status.Errorf(codes.Internal, "sds: render secrets: %v", err)
		}
		version := setVersion(served)
		if version == sent || (sent == "" && len(served) == 0) {
			continue
		}
		resp := &discoveryv3.DiscoveryResponse{
			VersionInfo: version,
			TypeUrl:     secretTypeURL,
			Nonce:       nonce.next(),
		}
		for _, r := range served {
			resp.Resources = append(resp.Resources, r.any)
		}
		if err := stream.Send(resp); err != nil {
			log.Debug("send secrets", "error", err)
			return err
		}
		h.metrics.pushes.WithLabelValues("sotw").Inc()
		log.Debug("sent secrets", "version", version, "nonce", resp.Nonce, "count", len(served), "pending", missing)
		sent, lastSent = version, resp.Nonce
	}
}
