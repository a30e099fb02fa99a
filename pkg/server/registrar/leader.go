package registrar

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// elector campaigns for a coordination.k8s.io/v1 Lease with client-go
// leaderelection's algorithm — a lease is expired when its record has not
// changed for its duration on this server's own clock (so clock skew
// between servers does not matter), writes use the resourceVersion read,
// and a leader that cannot renew within RenewDeadline stops — over the
// registrar's REST client. client-go's leaderelection package links the
// whole generated clientset and its informers (about 25 MB of binary and
// the scheme registration of every API group) for these few calls. It
// also waits for the leading session to end before campaigning again or
// releasing, so two sessions of one server never overlap.
type elector struct {
	client                                    rest.Interface
	namespace, name, identity                 string
	leaseDuration, renewDeadline, retryPeriod time.Duration
	log                                       func(msg string, args ...any)

	observedRV   string
	observedTime time.Time
	lastHolder   string
}

// run campaigns until ctx ends, calling lead with a context that ends
// when leadership is lost; the lease is released on shutdown.
func (e *elector) run(ctx context.Context, lead func(context.Context)) {
	for {
		if !e.acquire(ctx) {
			return
		}
		leadCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			lead(leadCtx)
		}()
		e.renew(leadCtx)
		cancel()
		<-done
		if ctx.Err() != nil {
			e.release()
			return
		}
		e.log("registrar lost the lease; campaigning again")
	}
}

// acquire tries every retryPeriod (jittered) until it holds the lease;
// false when ctx ended first.
func (e *elector) acquire(ctx context.Context) bool {
	for {
		if e.tryAcquireOrRenew(ctx) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(jitter(e.retryPeriod)):
		}
	}
}

// renew renews every retryPeriod; it returns when a renewal did not
// succeed within renewDeadline, or ctx ended.
func (e *elector) renew(ctx context.Context) {
	tick := time.NewTicker(e.retryPeriod)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, e.renewDeadline)
		ok := e.tryAcquireOrRenew(rctx)
		cancel()
		if ok {
			lastOK = time.Now()
		} else if time.Since(lastOK) > e.renewDeadline {
			return
		}
	}
}

// tryAcquireOrRenew makes this server the lease's holder if it is free,
// expired or already ours.
func (e *elector) tryAcquireOrRenew(ctx context.Context) bool {
	now := time.Now()
	secs := int32(e.leaseDuration / time.Second)
	lease := &coordinationv1.Lease{}
	err := e.client.Get().Namespace(e.namespace).Resource("leases").Name(e.name).Do(ctx).Into(lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: e.name},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: &e.identity, LeaseDurationSeconds: &secs,
				AcquireTime: micro(now), RenewTime: micro(now), LeaseTransitions: new(int32),
			},
		}
		out := &coordinationv1.Lease{}
		if err := e.client.Post().Namespace(e.namespace).Resource("leases").Body(lease).Do(ctx).Into(out); err != nil {
			return false
		}
		e.observe(out, now)
		return true
	}
	if err != nil {
		return false
	}
	if lease.ResourceVersion != e.observedRV {
		e.observe(lease, now)
	}
	holder := deref(lease.Spec.HolderIdentity)
	duration := e.leaseDuration
	if d := lease.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		duration = time.Duration(*d) * time.Second
	}
	if holder != "" && holder != e.identity && now.Before(e.observedTime.Add(duration)) {
		return false
	}
	spec := lease.Spec
	if holder != e.identity {
		spec.AcquireTime = micro(now)
		spec.LeaseTransitions = ptr(deref(spec.LeaseTransitions) + 1)
	}
	spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime = &e.identity, &secs, micro(now)
	lease.Spec = spec
	out := &coordinationv1.Lease{}
	if err := e.client.Put().Namespace(e.namespace).Resource("leases").Name(e.name).Body(lease).Do(ctx).Into(out); err != nil {
		return false // a conflict: another server wrote first
	}
	e.observe(out, now)
	return true
}

// observe records a lease version seen at now, logging a new holder.
func (e *elector) observe(l *coordinationv1.Lease, now time.Time) {
	e.observedRV, e.observedTime = l.ResourceVersion, now
	if h := deref(l.Spec.HolderIdentity); h != e.lastHolder {
		e.lastHolder = h
		if h != "" && h != e.identity {
			e.log("registrar lease held by another server", "holder", h)
		}
	}
}

// release gives the lease up, if still ours, so another server takes
// over at once instead of after it expires.
func (e *elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.renewDeadline)
	defer cancel()
	lease := &coordinationv1.Lease{}
	if err := e.client.Get().Namespace(e.namespace).Resource("leases").Name(e.name).Do(ctx).Into(lease); err != nil {
		return
	}
	if deref(lease.Spec.HolderIdentity) != e.identity {
		return
	}
	one := int32(1)
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = ptr(""), &one, micro(time.Now())
	if err := e.client.Put().Namespace(e.namespace).Resource("leases").Name(e.name).Body(lease).Do(ctx).Error(); err != nil {
		e.log("registrar: release the lease", "error", err)
	}
}

// campaign runs the elector for the registrar's Lease until ctx ends.
func (r *Registrar) campaign(ctx context.Context) error {
	if r.cfg.RenewDeadline >= r.cfg.LeaseDuration || r.cfg.RetryPeriod >= r.cfg.RenewDeadline {
		return fmt.Errorf("registrar: lease timings: want retry period < renew deadline < lease duration")
	}
	e := &elector{
		client: r.clients.coordination, namespace: r.cfg.LeaseNamespace, name: r.cfg.LeaseName, identity: r.cfg.Identity,
		leaseDuration: r.cfg.LeaseDuration, renewDeadline: r.cfg.RenewDeadline, retryPeriod: r.cfg.RetryPeriod,
		log: r.log.Info,
	}
	e.run(ctx, r.lead)
	return nil
}

// jitter returns d plus up to 20 %, so servers do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

func micro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
