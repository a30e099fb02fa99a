package k8s

import (
	"fmt"
	"strconv"

	"github.com/svidkit/svidkit/pkg/selector"
)

// SelectorType is the type of every selector this package produces.
const SelectorType = "k8s"

// Selectors returns the k8s selectors of the container with the given
// runtime ID in pod: the pod-wide selectors (PodSelectors) plus
// container-name and container-image. It fails with ErrContainerNotFound
// when the pod has no status for that container.
func Selectors(pod *Pod, containerID string) (selector.Set, error) {
	status, ok := pod.ContainerStatus(containerID)
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: container %q: %w",
			pod.Metadata.Namespace, pod.Metadata.Name, containerID, ErrContainerNotFound)
	}
	b := builder{}
	b.pod(pod)
	b.add("container-name:", status.Name)
	b.images("container-image:", *status)
	return selector.NewSet(b.sels...), nil
}

// PodSelectors returns the selectors describing the pod as a whole.
func PodSelectors(pod *Pod) selector.Set {
	b := builder{}
	b.pod(pod)
	return selector.NewSet(b.sels...)
}

// builder collects selectors, skipping empty values: a selector such as
// "k8s:sa:" would only match entries written for a missing field.
type builder struct{ sels []selector.Selector }

func (b *builder) add(prefix, value string) {
	if value == "" {
		return
	}
	b.sels = append(b.sels, selector.Selector{Type: SelectorType, Value: prefix + value})
}

// images adds prefix+image and prefix+imageID for each status: the tag form
// matches entries written before the image was pulled, the digest form pins
// the exact image.
func (b *builder) images(prefix string, statuses ...ContainerStatus) {
	for _, s := range statuses {
		b.add(prefix, s.Image)
		b.add(prefix, s.ImageID)
	}
}

func (b *builder) pod(pod *Pod) {
	m := pod.Metadata
	b.add("ns:", m.Namespace)
	b.add("sa:", pod.Spec.ServiceAccountName)
	b.add("node-name:", pod.Spec.NodeName)
	b.add("pod-name:", m.Name)
	b.add("pod-uid:", m.UID)
	b.add("pod-image-count:", strconv.Itoa(len(pod.Status.ContainerStatuses)))
	b.add("pod-init-image-count:", strconv.Itoa(len(pod.Status.InitContainerStatuses)))
	b.images("pod-image:", pod.Status.ContainerStatuses...)
	b.images("pod-init-image:", pod.Status.InitContainerStatuses...)
	for k, v := range m.Labels {
		b.add("pod-label:", k+":"+v)
	}
	for _, o := range m.OwnerReferences {
		if o.Kind == "" {
			continue
		}
		if o.Name != "" {
			b.add("pod-owner:", o.Kind+":"+o.Name)
		}
		if o.UID != "" {
			b.add("pod-owner-uid:", o.Kind+":"+o.UID)
		}
	}
}
