package k8s_test

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csicli"
)

// csiArgs returns the svidkit-csi container's command-line arguments.
func csiArgs(c container) []string {
	return append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
}

// csiFlag returns the value of flag name on the svidkit-csi command line,
// or its default.
func csiFlag(c container, name string) string {
	root := csicli.NewCommand(csicli.Options{})
	_ = root.ParseFlags(cliargs.Normalize(csiArgs(c)))
	return root.Flags().Lookup(name).Value.String()
}

// checkCSIArgs parses the container's arguments with svidkit-csi's own
// flags: no sub-command, no unknown flag, the socket directory set.
func checkCSIArgs(c container) error {
	args := csiArgs(c)
	root := csicli.NewCommand(csicli.Options{})
	if err := root.ParseFlags(cliargs.Normalize(args)); err != nil {
		return fmt.Errorf("%s: args %q: %w", c.where(), args, err)
	}
	if rest := root.Flags().Args(); len(rest) > 0 {
		return fmt.Errorf("%s: args %q: svidkit-csi takes no sub-command or argument (%q)", c.where(), args, rest)
	}
	if !root.Flags().Changed("workload-api-socket-dir") {
		return fmt.Errorf("%s: no -workload-api-socket-dir", c.where())
	}
	return nil
}

// csiNodePath returns the node path of a location on an inline CSI volume
// of container c: the driver must be svidkit-csi's, which publishes its
// -workload-api-socket-dir, itself on a hostPath volume.
func csiNodePath(m *model, c container, loc location) (string, error) {
	name := csiFlag(m.csi, "plugin-name")
	if drv := loc.volume.CSI.Driver; drv != name {
		return "", fmt.Errorf("%s: volume %q uses CSI driver %q; svidkit-csi serves %q", c.where(), loc.volumeName(), drv, name)
	}
	dir := csiFlag(m.csi, "workload-api-socket-dir")
	src, err := m.csi.locate(dir)
	if err != nil {
		return "", fmt.Errorf("-workload-api-socket-dir: %w", err)
	}
	hp, err := src.hostPath()
	if err != nil {
		return "", fmt.Errorf("%s: -workload-api-socket-dir %s: %w", m.csi.where(), dir, err)
	}
	return path.Join(hp, loc.rel), nil
}

func checkCSIDriver(m *model) error {
	name := csiFlag(m.csi, "plugin-name")
	if name != csi.DefaultPluginName {
		return fmt.Errorf("%s: -plugin-name %q; spiffe-csi-driver's pods name %q", m.csi.where(), name, csi.DefaultPluginName)
	}
	d, ok := find[*storagev1.CSIDriver](m.s, "", name)
	if !ok {
		return fmt.Errorf("no CSIDriver %q for %s", name, m.csi.where())
	}
	var p problems
	s := d.v.Spec
	if s.AttachRequired == nil || *s.AttachRequired {
		p.add("%s: attachRequired must be false (no controller)", d.where())
	}
	if s.PodInfoOnMount == nil || !*s.PodInfoOnMount {
		p.add("%s: podInfoOnMount must be true: the driver refuses volumes without csi.storage.k8s.io/ephemeral", d.where())
	}
	if s.FSGroupPolicy == nil || *s.FSGroupPolicy != storagev1.NoneFSGroupPolicy {
		p.add("%s: fsGroupPolicy must be None (the socket is the agent's)", d.where())
	}
	if !slices.Equal(s.VolumeLifecycleModes, []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}) {
		p.add("%s: volumeLifecycleModes %v, want [Ephemeral]", d.where(), s.VolumeLifecycleModes)
	}
	return p.err()
}

// registrar returns the node-driver-registrar container beside svidkit-csi.
func registrar(m *model) (container, error) {
	for _, c := range m.csi.pod.containers() {
		if strings.Contains(c.c.Image, "/csi-node-driver-registrar:") {
			return c, nil
		}
	}
	return container{}, fmt.Errorf("%s: no csi-node-driver-registrar container beside svidkit-csi", m.csi.pod.where())
}

// nodePathOf returns the node path of file in c, which must be on a
// hostPath volume.
func nodePathOf(c container, what, file string) (string, error) {
	loc, err := c.locate(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	p, err := loc.hostPath()
	if err != nil {
		return "", fmt.Errorf("%s: %s %s: %w", c.where(), what, file, err)
	}
	return p, nil
}

func checkCSISockets(m *model) error {
	var p problems
	reg, err := registrar(m)
	if err != nil {
		return err
	}
	regArgs := append(slices.Clone(reg.c.Command), reg.c.Args...)
	driverSock, err := nodePathOf(m.csi, "-csi-socket-path", csiFlag(m.csi, "csi-socket-path"))
	if err != nil {
		return err
	}
	addr, _ := flagValue(regArgs, "csi-address")
	regSock, err := nodePathOf(reg, "-csi-address", addr)
	switch {
	case err != nil:
		p.addErr(err)
	case regSock != driverSock:
		p.add("%s dials -csi-address %s, %s on the node; svidkit-csi listens on %s", reg.where(), addr, regSock, driverSock)
	}
	if kp, _ := flagValue(regArgs, "kubelet-registration-path"); kp != driverSock {
		p.add("%s: -kubelet-registration-path %q; the kubelet must dial svidkit-csi at %s", reg.where(), kp, driverSock)
	}
	want := "/var/lib/kubelet/plugins/" + csiFlag(m.csi, "plugin-name") + "/"
	if !strings.HasPrefix(driverSock, want) {
		p.add("%s: the CSI socket %s is not in %s, the kubelet's plugin directory for the driver", m.csi.where(), driverSock, want)
	}
	if dir, err := nodePathOf(reg, "registration directory", "/registration"); err != nil || dir != "/var/lib/kubelet/plugins_registry" {
		p.add("%s: /registration must be the node's /var/lib/kubelet/plugins_registry (got %q, %v)", reg.where(), dir, err)
	}
	return p.err()
}

func checkCSIMountpoints(m *model) error {
	const pods = "/var/lib/kubelet/pods"
	loc, err := m.csi.locate(pods)
	if err != nil {
		return err
	}
	// The kubelet names targets by their node paths: the container must see
	// the pods' directory at the same path, and its mounts must propagate
	// out to the node.
	switch hp, err := loc.hostPath(); {
	case err != nil:
		return err
	case hp != pods || path.Clean(loc.mount.MountPath) != pods:
		return fmt.Errorf("%s: mounts node %s at %s; both must be %s", m.csi.where(), hp, loc.mount.MountPath, pods)
	case loc.mount.MountPropagation == nil || *loc.mount.MountPropagation != corev1.MountPropagationBidirectional:
		return fmt.Errorf("%s: %s without mountPropagation: Bidirectional, so the pods would never see the mounts", m.csi.where(), pods)
	}
	return nil
}

func checkCSIVolumes(m *model) error {
	var p problems
	name := csiFlag(m.csi, "plugin-name")
	dirs := map[string]int{}
	for _, pd := range pods(m.s) {
		for i := range pd.spec.Volumes {
			v := &pd.spec.Volumes[i]
			if v.CSI == nil {
				continue
			}
			dirs[path.Dir(pd.file)]++
			where := fmt.Sprintf("%s: %s %s, volume %q", pd.file, pd.gvk.Kind, pd.id(), v.Name)
			if v.CSI.Driver != name {
				p.add("%s: CSI driver %q; svidkit-csi serves %q", where, v.CSI.Driver, name)
			}
			if v.CSI.ReadOnly == nil || !*v.CSI.ReadOnly {
				p.add("%s: readOnly is not true: the driver refuses the volume", where)
			}
			for _, c := range pd.containers() {
				for _, vm := range c.c.VolumeMounts {
					if vm.Name == v.Name && !vm.ReadOnly {
						p.add("%s mounts %q at %s read-write", c.where(), v.Name, vm.MountPath)
					}
				}
			}
		}
	}
	for _, dir := range []string{"examples/legacy-db/k8s", "examples/envoy"} {
		if dirs[dir] == 0 {
			p.add("no CSI volume in %s: the examples use svidkit-csi, not hostPath", dir)
		}
	}
	return p.err()
}

// replaceCSIArg replaces an argument of the svidkit-csi container.
func replaceCSIArg(m *model, old, new string) {
	i := slices.Index(m.csi.c.Args, old)
	if i < 0 {
		panic("svidkit-csi has no argument " + old)
	}
	m.csi.c.Args[i] = new
}

// firstCSIVolume returns the first inline CSI volume of the examples.
func firstCSIVolume(m *model) *corev1.CSIVolumeSource {
	for _, pd := range pods(m.s) {
		for i := range pd.spec.Volumes {
			if v := pd.spec.Volumes[i].CSI; v != nil {
				return v
			}
		}
	}
	panic("no CSI volume")
}

func checkCSIProbes(m *model) error {
	addr := csiFlag(m.csi, "health-address")
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: -health-address %q: %w", m.csi.where(), addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("%s: -health-address %q: %w", m.csi.where(), addr, err)
	}
	var p problems
	p.addErr(checkProbe(m.csi, "liveness", m.csi.c.LivenessProbe, n, "/live"))
	p.addErr(checkProbe(m.csi, "readiness", m.csi.c.ReadinessProbe, n, "/ready"))
	return p.err()
}
