package agentd

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/config"
)

// workloadAttestor builds the attestor the Workload API and the SDS service
// share: every configured WorkloadAttestor, run together by
// workloadattest.Multi so a workload's selectors are the union of theirs.
// The unix attestor also runs when no WorkloadAttestor is configured at all,
// as it always has.
func workloadAttestor(cfg *config.Agent, log *slog.Logger) (workloadapi.Attestor, error) {
	log = log.With("subsystem", "workload_attestor")
	var m workloadattest.Multi
	if cfg.Unix != nil || cfg.K8s == nil {
		unixCfg := unix.Config{Log: log.With("attestor", "unix")}
		if cfg.Unix != nil {
			unixCfg.DisableWorkloadPath = !cfg.Unix.DiscoverWorkloadPath
		}
		m = append(m, workloadattest.Named{Name: "unix", Attestor: unix.New(unixCfg)})
	}
	if kc := cfg.K8s; kc != nil {
		att, err := k8s.New(k8s.Config{
			ProcRoot: kc.ProcRoot,
			Kubelet: k8s.KubeletConfig{
				ReadOnlyPort:     kc.KubeletReadOnlyPort,
				SecurePort:       kc.KubeletSecurePort,
				NodeName:         kc.ResolveNodeName(os.Getenv),
				CAPath:           kc.KubeletCAPath,
				SkipVerification: kc.SkipKubeletVerification,
				TokenPath:        kc.TokenPath,
				CertificatePath:  kc.CertificatePath,
				PrivateKeyPath:   kc.PrivateKeyPath,
				Anonymous:        kc.UseAnonymousAuthentication,
			},
			MaxPollAttempts:           kc.MaxPollAttempts,
			PollRetryInterval:         kc.PollRetryInterval,
			DisableContainerSelectors: kc.DisableContainerSelectors,
			Log:                       log.With("attestor", "k8s"),
		})
		if err != nil {
			return nil, fmt.Errorf("WorkloadAttestor \"k8s\": %w", err)
		}
		m = append(m, workloadattest.Named{Name: "k8s", Attestor: att})
	}
	return m, nil
}
