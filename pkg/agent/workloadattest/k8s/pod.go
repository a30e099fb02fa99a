package k8s

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrContainerNotFound reports that a pod has no status for the container
// ID asked for (not started yet, or not part of that pod).
var ErrContainerNotFound = errors.New("container not found in pod")

// PodList is the part of the kubelet's /pods response (a core/v1 PodList)
// the attestor needs. Field names mirror the Kubernetes JSON.
type PodList struct {
	Items []Pod `json:"items"`
}

// Pod is the part of a core/v1 Pod the attestor needs.
type Pod struct {
	Metadata PodMetadata `json:"metadata"`
	Spec     PodSpec     `json:"spec"`
	Status   PodStatus   `json:"status"`
}

// PodMetadata mirrors the used fields of a Pod's metadata (ObjectMeta).
type PodMetadata struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	UID             string            `json:"uid"`
	Labels          map[string]string `json:"labels,omitempty"`
	OwnerReferences []OwnerReference  `json:"ownerReferences,omitempty"`
}

// OwnerReference mirrors the used fields of a metav1.OwnerReference.
type OwnerReference struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// PodSpec mirrors the used fields of a PodSpec.
type PodSpec struct {
	ServiceAccountName string `json:"serviceAccountName"`
	NodeName           string `json:"nodeName"`
}

// PodStatus mirrors the used fields of a PodStatus.
type PodStatus struct {
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
}

// ContainerStatus mirrors the used fields of a ContainerStatus.
type ContainerStatus struct {
	Name string `json:"name"`
	// Image is the image as named in the pod spec (usually a tag).
	Image string `json:"image"`
	// ImageID is the resolved image, usually a digest reference.
	ImageID string `json:"imageID"`
	// ContainerID is "<runtime>://<id>", e.g. "containerd://<64 hex>";
	// empty until the container has been created.
	ContainerID string `json:"containerID,omitempty"`
}

// RuntimeID returns the container ID without its "<runtime>://" prefix,
// or "" when the status has no ID yet.
func (s ContainerStatus) RuntimeID() string {
	if _, id, ok := strings.Cut(s.ContainerID, "://"); ok {
		return id
	}
	return s.ContainerID
}

// DecodePodList decodes a kubelet /pods response.
func DecodePodList(r io.Reader) (*PodList, error) {
	var l PodList
	if err := json.NewDecoder(r).Decode(&l); err != nil {
		return nil, fmt.Errorf("decode pod list: %w", err)
	}
	return &l, nil
}

// Pod returns the pod with the given UID.
func (l *PodList) Pod(uid string) (*Pod, bool) {
	if uid == "" {
		return nil, false
	}
	for i := range l.Items {
		if l.Items[i].Metadata.UID == uid {
			return &l.Items[i], true
		}
	}
	return nil, false
}

// ContainerStatus returns the status of the regular or init container with
// the given runtime ID (without "<runtime>://"). Ephemeral (debug)
// containers are not considered, as in SPIRE.
func (p *Pod) ContainerStatus(containerID string) (*ContainerStatus, bool) {
	if containerID == "" {
		return nil, false
	}
	for _, list := range [][]ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].RuntimeID() == containerID {
				return &list[i], true
			}
		}
	}
	return nil, false
}
