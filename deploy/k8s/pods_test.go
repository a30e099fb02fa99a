package k8s_test

import (
	"fmt"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pod is the pod template of a workload object (or a bare Pod).
type pod struct {
	object
	spec     *corev1.PodSpec
	labels   map[string]string
	selector *metav1.LabelSelector
	// claims are a StatefulSet's volumeClaimTemplates: volumes the pod
	// mounts by name without listing them in spec.volumes.
	claims []string
}

// pods returns the pods of every workload object in s.
func pods(s *manifestSet) []pod {
	var out []pod
	for _, o := range s.objects {
		p := pod{object: o}
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			p.spec, p.labels, p.selector = &v.Spec.Template.Spec, v.Spec.Template.Labels, v.Spec.Selector
		case *appsv1.DaemonSet:
			p.spec, p.labels, p.selector = &v.Spec.Template.Spec, v.Spec.Template.Labels, v.Spec.Selector
		case *appsv1.StatefulSet:
			p.spec, p.labels, p.selector = &v.Spec.Template.Spec, v.Spec.Template.Labels, v.Spec.Selector
			for _, c := range v.Spec.VolumeClaimTemplates {
				p.claims = append(p.claims, c.Name)
			}
		case *appsv1.ReplicaSet:
			p.spec, p.labels, p.selector = &v.Spec.Template.Spec, v.Spec.Template.Labels, v.Spec.Selector
		case *batchv1.Job:
			p.spec, p.labels, p.selector = &v.Spec.Template.Spec, v.Spec.Template.Labels, v.Spec.Selector
		case *corev1.Pod:
			p.spec, p.labels = &v.Spec, v.Labels
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}

// container is one container of a pod, init or not.
type container struct {
	pod  pod
	c    *corev1.Container
	init bool
}

// where names the container in messages.
func (c container) where() string {
	kind := "container"
	if c.init {
		kind = "init container"
	}
	return fmt.Sprintf("%s: %s %s, %s %q", c.pod.file, c.pod.gvk.Kind, c.pod.id(), kind, c.c.Name)
}

// containers returns the pod's init containers, then its containers.
func (p pod) containers() []container {
	var out []container
	for i := range p.spec.InitContainers {
		out = append(out, container{pod: p, c: &p.spec.InitContainers[i], init: true})
	}
	for i := range p.spec.Containers {
		out = append(out, container{pod: p, c: &p.spec.Containers[i]})
	}
	return out
}

// serviceAccount returns the pod's service account name ("default" when
// unset, as the API server fills it in).
func (p pod) serviceAccount() string {
	if p.spec.ServiceAccountName == "" {
		return "default"
	}
	return p.spec.ServiceAccountName
}

// volume returns the pod volume called name, or nil.
func (p pod) volume(name string) *corev1.Volume {
	for i := range p.spec.Volumes {
		if p.spec.Volumes[i].Name == name {
			return &p.spec.Volumes[i]
		}
	}
	return nil
}

// isClaim reports whether name is one of the pod's volumeClaimTemplates.
func (p pod) isClaim(name string) bool {
	for _, c := range p.claims {
		if c == name {
			return true
		}
	}
	return false
}

// location is where a path inside a container is stored.
type location struct {
	mount corev1.VolumeMount
	// volume is the pod volume; nil for a volumeClaimTemplate (claim).
	volume *corev1.Volume
	claim  bool
	// rel is the path below the volume's root ("" for the root), with the
	// mount's subPath applied.
	rel string
}

// volumeName names the location's volume.
func (l location) volumeName() string { return l.mount.Name }

// locate finds the volume holding file (an absolute path) in container c:
// the mount with the longest mountPath that is file or one of its parents.
// Paths on no volume are on the container's root filesystem: an error.
func (c container) locate(file string) (location, error) {
	file = path.Clean(file)
	if !path.IsAbs(file) {
		return location{}, fmt.Errorf("%s: path %q is not absolute", c.where(), file)
	}
	best := -1
	for i, m := range c.c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if file != mp && !strings.HasPrefix(file, strings.TrimSuffix(mp, "/")+"/") {
			continue
		}
		if best < 0 || len(mp) > len(path.Clean(c.c.VolumeMounts[best].MountPath)) {
			best = i
		}
	}
	if best < 0 {
		return location{}, fmt.Errorf("%s: %s is on no volume (the container's root filesystem)", c.where(), file)
	}
	m := c.c.VolumeMounts[best]
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(m.MountPath)), "/")
	if m.SubPath != "" {
		rel = strings.TrimPrefix(path.Join(m.SubPath, rel), "/")
	}
	loc := location{mount: m, rel: rel, volume: c.pod.volume(m.Name), claim: c.pod.isClaim(m.Name)}
	if loc.volume == nil && !loc.claim {
		return location{}, fmt.Errorf("%s: mount %s names volume %q, which the pod does not define", c.where(), m.MountPath, m.Name)
	}
	return loc, nil
}

// mountedAt returns the path at which container c sees the file stored at
// rel in volume vol, if c mounts that part of the volume.
func (c container) mountedAt(vol, rel string) (string, bool) {
	for _, m := range c.c.VolumeMounts {
		if m.Name != vol {
			continue
		}
		sub := strings.Trim(m.SubPath, "/")
		switch {
		case sub == "":
			return path.Join(m.MountPath, rel), true
		case rel == sub:
			return path.Clean(m.MountPath), true
		case strings.HasPrefix(rel, sub+"/"):
			return path.Join(m.MountPath, strings.TrimPrefix(rel, sub+"/")), true
		}
	}
	return "", false
}

// hostPath returns the node path of a location on a hostPath volume.
func (l location) hostPath() (string, error) {
	if l.volume == nil || l.volume.HostPath == nil {
		return "", fmt.Errorf("volume %q is not a hostPath volume", l.volumeName())
	}
	return path.Join(l.volume.HostPath.Path, l.rel), nil
}

// configMapFile returns the ConfigMap key and content behind file in
// container c: file must be on a configMap volume, the key either mapped
// by the volume's items or named by the file's base name.
func (c container) configMapFile(s *manifestSet, file string) (cmName, key, content string, err error) {
	loc, err := c.locate(file)
	if err != nil {
		return "", "", "", err
	}
	if loc.volume == nil || loc.volume.ConfigMap == nil {
		return "", "", "", fmt.Errorf("%s: %s is on volume %q, not a configMap volume", c.where(), file, loc.volumeName())
	}
	src := loc.volume.ConfigMap
	key = loc.rel
	if len(src.Items) > 0 {
		key = ""
		for _, it := range src.Items {
			if path.Clean(it.Path) == loc.rel {
				key = it.Key
			}
		}
		if key == "" {
			return "", "", "", fmt.Errorf("%s: %s: configMap volume %q maps no item to %q", c.where(), file, loc.volumeName(), loc.rel)
		}
	}
	cm, ok := find[*corev1.ConfigMap](s, c.pod.meta.GetNamespace(), src.Name)
	if !ok {
		return "", "", "", fmt.Errorf("%s: %s: ConfigMap %s/%s is not in the manifests", c.where(), file, c.pod.meta.GetNamespace(), src.Name)
	}
	content, ok = cm.v.Data[key]
	if !ok {
		return "", "", "", fmt.Errorf("%s: %s: ConfigMap %s has no key %q", c.where(), file, cm.id(), key)
	}
	return src.Name, key, content, nil
}

// env returns the value of the container's environment variable name.
func (c container) env(name string) (string, bool) {
	for _, e := range c.c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// runAsUser returns the uid the container runs as, if the manifests say.
func (c container) runAsUser() (int64, bool) {
	if sc := c.c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		return *sc.RunAsUser, true
	}
	if sc := c.pod.spec.SecurityContext; sc != nil && sc.RunAsUser != nil {
		return *sc.RunAsUser, true
	}
	return 0, false
}

// port resolves a probe or Service port (a number or a container port
// name) to a number.
func (c container) port(p string) (int32, error) {
	for _, cp := range c.c.Ports {
		if cp.Name != "" && cp.Name == p {
			return cp.ContainerPort, nil
		}
	}
	var n int32
	if _, err := fmt.Sscanf(p, "%d", &n); err != nil || fmt.Sprint(n) != p {
		return 0, fmt.Errorf("%s: no container port %q", c.where(), p)
	}
	return n, nil
}

// svidkitTool returns the svidkit program an image runs
// ("svidkit-helper"), or "" for other images.
func svidkitTool(image string) string {
	name, ok := strings.CutPrefix(image, "ghcr.io/svidkit/")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, ":")
	return name
}

// flagValue returns the value of flag name in args, in any of the forms
// Go's flag package and cobra accept: -name v, --name v, -name=v, --name=v.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// boolFlag returns the value of boolean flag name (-name, -name=false).
func boolFlag(args []string, name string) (value, set bool) {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case a == name || a == name+"=true":
			return true, true
		case a == name+"=false":
			return false, true
		}
	}
	return false, false
}
