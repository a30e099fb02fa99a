package registrar

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// campaign runs for the Lease until ctx ends, leading (lead) whenever it
// holds it; a lost lease is campaigned for again. On shutdown the lease is
// released, so another server takes over without waiting for it to
// expire.
func (r *Registrar) campaign(ctx context.Context) error {
	coord, err := coordinationv1.NewForConfigAndClient(r.cfg.REST, r.clients.http)
	if err != nil {
		return fmt.Errorf("registrar: lease client: %w", err)
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: r.cfg.LeaseNamespace, Name: r.cfg.LeaseName},
			Client:     coord,
			LockConfig: resourcelock.ResourceLockConfig{Identity: r.cfg.Identity},
		},
		LeaseDuration:   r.cfg.LeaseDuration,
		RenewDeadline:   r.cfg.RenewDeadline,
		RetryPeriod:     r.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            r.cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: r.lead,
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != r.cfg.Identity {
					r.log.Info("registrar lease held by another server", "holder", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("registrar: leader election: %w", err)
	}
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}
