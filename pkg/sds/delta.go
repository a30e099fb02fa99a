package sds

import (
	"maps"
	"slices"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// deltaState is what one incremental stream subscribed to and what the
// client holds.
type deltaState struct {
	wildcard   bool
	subscribed map[string]bool
	// subscribedBytes is the length of the subscribed names in all.
	subscribedBytes int
	// has maps each resource name the client holds to its version.
	has map[string]string
}

// apply records a request's subscription changes. The first request with
// no names subscribes to the wildcard, as the xDS protocol defines. It
// refuses a request whose name lists exceed the limits, or that would
// subscribe the stream to more names than one request may carry: requests
// within the limits must not add up to an unbounded subscription.
func (s *deltaState) apply(r *discoveryv3.DeltaDiscoveryRequest, first bool) error {
	if err := checkNames("resource_names_subscribe", r.GetResourceNamesSubscribe()); err != nil {
		return err
	}
	if err := checkNames("resource_names_unsubscribe", r.GetResourceNamesUnsubscribe()); err != nil {
		return err
	}
	if first {
		initial := r.GetInitialResourceVersions()
		if err := checkNames("initial_resource_versions", slices.Collect(maps.Keys(initial))); err != nil {
			return err
		}
		for name, v := range initial {
			s.has[name] = v
		}
		if len(r.GetResourceNamesSubscribe()) == 0 {
			s.wildcard = true
		}
	}
	for _, name := range r.GetResourceNamesSubscribe() {
		if name == "*" {
			s.wildcard = true
			continue
		}
		if !s.subscribed[name] {
			s.subscribed[name] = true
			s.subscribedBytes += len(name)
		}
	}
	for _, name := range r.GetResourceNamesUnsubscribe() {
		if name == "*" {
			s.wildcard = false
			continue
		}
		if s.subscribed[name] {
			delete(s.subscribed, name)
			s.subscribedBytes -= len(name)
		}
	}
	const what = "subscriptions of this stream"
	if len(s.subscribed) > MaxResourceNames {
		return tooMany(what, len(s.subscribed))
	}
	if s.subscribedBytes > MaxResourceNameBytes {
		return tooLong(what, s.subscribedBytes)
	}
	return nil
}

// diff returns the response that brings the client from what it holds to
// what v serves, or nil when nothing changed. It updates has.
func (s *deltaState) diff(v view) (*discoveryv3.DeltaDiscoveryResponse, error) {
	want := make(map[string]*resource)
	if s.wildcard {
		rs, err := v.all()
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			want[r.name] = r
		}
	}
	names := slices.Sorted(maps.Keys(s.subscribed))
	rs, _, err := v.render(names)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		want[r.name] = r
	}
	resp := &discoveryv3.DeltaDiscoveryResponse{TypeUrl: secretTypeURL}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		r := want[name]
		if s.has[name] == r.version {
			continue
		}
		resp.Resources = append(resp.Resources, &discoveryv3.Resource{Name: name, Version: r.version, Resource: r.any})
		s.has[name] = r.version
	}
	for _, name := range slices.Sorted(maps.Keys(s.has)) {
		if want[name] != nil {
			continue
		}
		// Tell the client about resources that went away while it still
		// wants them; unsubscribed ones are simply forgotten.
		if s.wildcard || s.subscribed[name] {
			resp.RemovedResources = append(resp.RemovedResources, name)
		}
		delete(s.has, name)
	}
	if len(resp.Resources) == 0 && len(resp.RemovedResources) == 0 {
		return nil, nil
	}
	return resp, nil
}

// deltaSecrets runs one incremental stream: resources are sent when they
// appear or change, and listed as removed when they disappear.
func (h *Handler) deltaSecrets(stream grpc.BidiStreamingServer[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]) error {
	ctx := stream.Context()
	w, err := h.watch(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	h.metrics.streams.WithLabelValues("delta").Inc()
	defer h.metrics.streams.WithLabelValues("delta").Dec()
	log := h.log.With("protocol", "delta")

	reqs, errc := receive(ctx, stream)
	updates := w.Updates()
	state := &deltaState{subscribed: make(map[string]bool), has: make(map[string]string)}
	var (
		snap    *Snapshot
		started bool
		spiffe  bool
		nonce   nonces
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
			snap = s
		case r := <-reqs:
			if err := checkType(r.GetTypeUrl()); err != nil {
				return err
			}
			if d := r.GetErrorDetail(); d != nil {
				h.metrics.nacks.WithLabelValues("delta").Inc()
				log.Error("Envoy rejected secrets", "nonce", r.GetResponseNonce(),
					"code", codes.Code(d.GetCode()).String(), "message", d.GetMessage())
			}
			if !started {
				// Node is only required on the first request.
				spiffe = h.useSPIFFEValidator(r.GetNode())
			}
			if err := state.apply(r, !started); err != nil {
				log.Warn("refusing request", "error", err)
				return err
			}
			started = true
		}
		if !started || snap == nil {
			continue
		}
		resp, err := state.diff(snap.view(h.names, spiffe))
		if err != nil {
			log.Error("render secrets", "error", err)
			return status.Errorf(codes.Internal, "sds: render secrets: %v", err)
		}
		if resp == nil {
			continue
		}
		resp.Nonce = nonce.next()
		resp.SystemVersionInfo = resp.Nonce
		if err := stream.Send(resp); err != nil {
			log.Debug("send secrets", "error", err)
			return err
		}
		h.metrics.pushes.WithLabelValues("delta").Inc()
		log.Debug("sent secrets", "nonce", resp.Nonce, "count", len(resp.Resources), "removed", resp.RemovedResources)
	}
}
