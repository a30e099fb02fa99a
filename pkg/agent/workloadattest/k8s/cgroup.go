package k8s

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Container identifies the container a process runs in, as read from its
// cgroup membership.
type Container struct {
	// ID is the runtime's container ID (64 lower-case hex digits), the same
	// value the kubelet reports after "<runtime>://" in a container status.
	ID string
	// PodUID is the UID of the pod the container belongs to, with dashes
	// (systemd slice names carry it with underscores). It is empty for a
	// container outside Kubernetes, such as a plain Docker container.
	PodUID string
}

// InPod reports whether the container belongs to a Kubernetes pod.
func (c Container) InPod() bool { return c.PodUID != "" }

// ParseCgroup reads the content of /proc/<pid>/cgroup (cgroup v1, v2 or
// hybrid) and returns the container the process runs in.
//
// It understands the cgroupfs driver layout
// (/kubepods/<qos>/pod<uid>/<id>) and the systemd driver layout
// (kubepods-<qos>-pod<uid_with_underscores>.slice/<runtime>-<id>.scope)
// for containerd (cri-containerd-), CRI-O (crio-) and Docker (docker-),
// for every QoS class, also nested under another container (kind), as well
// as plain Docker containers (/docker/<id>, docker-<id>.scope).
//
// A process that is not in a container (host cgroups such as
// 0::/init.scope or 0::/user.slice/...) gives ok == false and no error.
// A malformed file, lines naming different containers, or a pod cgroup
// without a container give an error.
func ParseCgroup(content []byte) (c Container, ok bool, err error) {
	var (
		found    Container
		foundAny bool
		podOnly  string
	)
	sc := bufio.NewScanner(bytes.NewReader(content))
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		// hierarchy-ID:controller-list:cgroup-path; the path may contain ':'.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return Container{}, false, fmt.Errorf("cgroup line %d %q: want \"hierarchy-id:controllers:path\"", lineNo, line)
		}
		got, podUID := parseCgroupPath(parts[2])
		switch {
		case got.ID != "":
			if foundAny && got != found {
				return Container{}, false, fmt.Errorf("cgroup line %d: container %q (pod %q) disagrees with container %q (pod %q) on an earlier line",
					lineNo, got.ID, got.PodUID, found.ID, found.PodUID)
			}
			found, foundAny = got, true
		case podUID != "":
			podOnly = podUID
		}
	}
	if err := sc.Err(); err != nil {
		return Container{}, false, fmt.Errorf("read cgroup: %w", err)
	}
	if foundAny {
		return found, true, nil
	}
	if podOnly != "" {
		return Container{}, false, fmt.Errorf("cgroup of pod %q names no container", podOnly)
	}
	return Container{}, false, nil
}

// parseCgroupPath finds the innermost pod and container in one cgroup path.
// It returns the container (ID empty when none follows the pod, or when a
// pod is named without a container) and, separately, the pod UID seen.
func parseCgroupPath(path string) (Container, string) {
	segs := strings.Split(path, "/")
	podIdx, podUID := -1, ""
	kubepods := false
	for i, seg := range segs {
		// Only look for a pod inside the kubepods hierarchy. The pod slice
		// may itself be the first such segment (kubepods-pod<uid>.slice).
		if strings.Contains(seg, "kubepods") {
			kubepods = true
		}
		if !kubepods {
			continue
		}
		if uid, ok := podUIDFromSegment(seg); ok {
			podIdx, podUID = i, uid
		}
	}
	// The container is the innermost segment naming one. Under a pod it must
	// come after the pod segment: a container before it is the node itself
	// (Kubernetes in Docker).
	for i := len(segs) - 1; i > podIdx; i-- {
		if id, ok := containerIDFromSegment(segs[i]); ok {
			return Container{ID: id, PodUID: podUID}, podUID
		}
	}
	return Container{}, podUID
}

// podUIDFromSegment recognises "pod<uid>" (cgroupfs driver) and
// "kubepods[-<qos>]-pod<uid_with_underscores>.slice" (systemd driver).
func podUIDFromSegment(seg string) (string, bool) {
	var raw string
	switch {
	case strings.HasPrefix(seg, "pod"):
		raw = strings.TrimPrefix(seg, "pod")
	case strings.HasSuffix(seg, ".slice"):
		name := strings.TrimSuffix(seg, ".slice")
		i := strings.LastIndex(name, "-pod")
		if i < 0 {
			return "", false
		}
		raw = name[i+len("-pod"):]
	default:
		return "", false
	}
	uid := strings.ReplaceAll(raw, "_", "-")
	if !isPodUID(uid) {
		return "", false
	}
	return uid, true
}

// isPodUID accepts API-server UIDs (RFC 4122 form) and static-pod UIDs (a
// bare 32-digit hash): hex digits and dashes only.
func isPodUID(s string) bool {
	if len(s) < 32 || len(s) > 36 {
		return false
	}
	for _, r := range s {
		if r != '-' && !isLowerHex(r) {
			return false
		}
	}
	return true
}

// containerIDFromSegment recognises "<id>" (cgroupfs driver, /docker/<id>)
// and "<runtime>-<id>.scope" (systemd driver: cri-containerd-, crio-,
// docker-). CRI-O's conmon monitor scope (crio-conmon-<id>.scope) is not the
// container and is rejected.
func containerIDFromSegment(seg string) (string, bool) {
	if strings.HasPrefix(seg, "crio-conmon-") {
		return "", false
	}
	name := strings.TrimSuffix(seg, ".scope")
	if i := strings.LastIndex(name, "-"); i >= 0 {
		if !strings.HasSuffix(seg, ".scope") {
			return "", false
		}
		name = name[i+1:]
	}
	if len(name) != 64 {
		return "", false
	}
	for _, r := range name {
		if !isLowerHex(r) {
			return "", false
		}
	}
	return name, true
}

func isLowerHex(r rune) bool {
	return ('0' <= r && r <= '9') || ('a' <= r && r <= 'f')
}
