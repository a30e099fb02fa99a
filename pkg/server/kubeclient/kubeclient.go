// Package kubeclient is the server's Kubernetes API client: the few calls
// the k8s_psat node attestor and the k8sbundle notifier make (TokenReview
// create, pod and node get, ConfigMap get and merge patch), over
// client-go's REST client.
//
// It deliberately does not use client-go's generated clientset
// (k8s.io/client-go/kubernetes): that package links a typed client for
// every API group and registers every built-in type at start-up, which
// cost the server about 9 MiB of resident memory and 15 MB of binary for
// four calls. client-go's rest package still does everything that matters
// — kubeconfig and in-cluster configuration, TLS, bearer tokens re-read
// from file, exec credential plugins, rate limiting, and turning the
// apiserver's metav1.Status errors into k8s.io/apimachinery/pkg/api/errors
// values — with a scheme holding only the types used here.
package kubeclient

import (
	"context"
	"fmt"
	"net/http"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

// userAgent names svidkit in the apiserver's audit log.
const userAgent = "svidkit-server"

// Client-side rate limit per client. client-go's default (5 requests/s,
// burst 10) would throttle a cluster's agents re-attesting together after
// an upgrade to under two attestations a second (each makes three
// requests); the apiserver's own priority and fairness still protects it.
const (
	clientQPS   = 50
	clientBurst = 100
)

// Client calls one cluster's apiserver. It is safe for concurrent use.
type Client struct {
	core  rest.Interface // /api/v1
	authn rest.Interface // /apis/authentication.k8s.io/v1
}

// RESTConfig returns the configuration of the cluster described by the
// kubeconfig file at path, or, when path is empty, of the cluster the
// process runs in (its service account token and CA,
// KUBERNETES_SERVICE_HOST/PORT), with svidkit's user agent, JSON and
// client-side rate limit.
func RESTConfig(path string) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if path == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeclient: in-cluster config (configure a kubeconfig file when the server runs outside the cluster): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeclient: kubeconfig %q: %w", path, err)
		}
	}
	cfg.UserAgent = userAgent
	// JSON: the few requests made here gain nothing from protobuf, and
	// JSON is what every apiserver, proxy and test fake speaks.
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	return cfg, nil
}

// New returns a client for the cluster RESTConfig(path) describes.
func New(path string) (*Client, error) {
	cfg, err := RESTConfig(path)
	if err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, authv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("kubeclient: build scheme: %w", err)
		}
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeclient: build HTTP client: %w", err)
	}
	// One rate limiter for both API groups, as a clientset shares one.
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(clientQPS, clientBurst)
	core, err := restClient(cfg, "/api", corev1.SchemeGroupVersion, codecs, httpClient)
	if err != nil {
		return nil, err
	}
	authn, err := restClient(cfg, "/apis", authv1.SchemeGroupVersion, codecs, httpClient)
	if err != nil {
		return nil, err
	}
	return &Client{core: core, authn: authn}, nil
}

// restClient builds the REST client of one API group version.
func restClient(base *rest.Config, apiPath string, gv schema.GroupVersion, codecs runtime.NegotiatedSerializer, httpClient *http.Client) (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(base)
	cfg.APIPath = apiPath
	cfg.GroupVersion = &gv
	cfg.NegotiatedSerializer = codecs
	c, err := rest.RESTClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubeclient: %s client: %w", gv, err)
	}
	return c, nil
}

// CreateTokenReview asks the apiserver to review a token.
func (c *Client) CreateTokenReview(ctx context.Context, review *authv1.TokenReview) (*authv1.TokenReview, error) {
	out := &authv1.TokenReview{}
	err := c.authn.Post().Resource("tokenreviews").Body(review).Do(ctx).Into(out)
	return out, err
}

// GetPod returns the pod namespace/name.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := c.core.Get().Namespace(namespace).Resource("pods").Name(name).Do(ctx).Into(out)
	return out, err
}

// GetNode returns the node name.
func (c *Client) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	out := &corev1.Node{}
	err := c.core.Get().Resource("nodes").Name(name).Do(ctx).Into(out)
	return out, err
}

// GetConfigMap returns the ConfigMap namespace/name.
func (c *Client) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	out := &corev1.ConfigMap{}
	err := c.core.Get().Namespace(namespace).Resource("configmaps").Name(name).Do(ctx).Into(out)
	return out, err
}

// MergePatchConfigMap applies a JSON merge patch to the ConfigMap
// namespace/name and returns the result.
func (c *Client) MergePatchConfigMap(ctx context.Context, namespace, name string, patch []byte) (*corev1.ConfigMap, error) {
	out := &corev1.ConfigMap{}
	err := c.core.Patch(types.MergePatchType).Namespace(namespace).Resource("configmaps").Name(name).
		Body(patch).Do(ctx).Into(out)
	return out, err
}
