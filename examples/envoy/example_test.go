// Package envoy_test checks the Envoy example: envoy.yaml must be a valid
// Envoy v3 bootstrap for go-control-plane, with every typed config resolved
// and validated, using svidkit-sds's default names and the socket path
// k8s.yaml mounts.
package envoy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	goyaml "go.yaml.in/yaml/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Typed configs used by envoy.yaml, so that protojson resolves them.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
)

// loadBootstrap parses envoy.yaml strictly: unknown fields and unresolvable
// typed configs are errors.
func loadBootstrap(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	data, err := os.ReadFile("envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, b); err != nil {
		t.Fatalf("envoy.yaml is not an Envoy v3 bootstrap: %v", err)
	}
	return b
}

// validator is what protoc-gen-validate generates on every message.
type validator interface{ ValidateAll() error }

// validateDeep runs ValidateAll on m and on every message packed in an Any
// below it (ValidateAll does not look inside Any). It returns the type
// URLs of the Any values found.
func validateDeep(m proto.Message) ([]string, error) {
	var (
		urls []string
		errs []error
	)
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Message() == nil:
			case fd.IsList():
				for i := range v.List().Len() {
					visit(v.List().Get(i).Message(), walk, &urls, &errs)
				}
			case fd.IsMap():
				if fd.MapValue().Message() != nil {
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						visit(mv.Message(), walk, &urls, &errs)
						return true
					})
				}
			default:
				visit(v.Message(), walk, &urls, &errs)
			}
			return true
		})
	}
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, err)
		}
	}
	walk(m.ProtoReflect())
	return urls, errors.Join(errs...)
}

// visit validates and walks the message inside an Any, or walks m.
func visit(m protoreflect.Message, walk func(protoreflect.Message), urls *[]string, errs *[]error) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		walk(m)
		return
	}
	*urls = append(*urls, a.TypeUrl)
	inner, err := a.UnmarshalNew()
	if err != nil {
		*errs = append(*errs, err)
		return
	}
	if v, ok := inner.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			*errs = append(*errs, err)
		}
	}
	walk(inner.ProtoReflect())
}

func TestEnvoyBootstrapIsValid(t *testing.T) {
	b := loadBootstrap(t)
	urls, err := validateDeep(b)
	if err != nil {
		t.Fatalf("envoy.yaml fails validation: %v", err)
	}
	for _, want := range []string{
		"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
		"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
		"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
		"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
		"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
	} {
		if !slices.Contains(urls, want) {
			t.Errorf("typed config %s not found in envoy.yaml", want)
		}
	}
}

// commonTLS returns the common_tls_context of every TLS transport socket.
func commonTLS(t *testing.T, b *bootstrapv3.Bootstrap) map[string]*tlsv3.CommonTlsContext {
	t.Helper()
	out := map[string]*tlsv3.CommonTlsContext{}
	unpack := func(ts *corev3.TransportSocket, into proto.Message) {
		if err := ts.GetTypedConfig().UnmarshalTo(into); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			if ts := fc.GetTransportSocket(); ts != nil {
				d := &tlsv3.DownstreamTlsContext{}
				unpack(ts, d)
				if !d.GetRequireClientCertificate().GetValue() {
					t.Errorf("listener %s: require_client_certificate is not set", l.Name)
				}
				out["listener "+l.Name] = d.GetCommonTlsContext()
			}
		}
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		if ts := c.GetTransportSocket(); ts != nil {
			u := &tlsv3.UpstreamTlsContext{}
			unpack(ts, u)
			out["cluster "+c.Name] = u.GetCommonTlsContext()
		}
	}
	return out
}

func TestEnvoySecretsUseSDSDefaults(t *testing.T) {
	b := loadBootstrap(t)
	ctxs := commonTLS(t, b)
	if len(ctxs) != 2 {
		t.Fatalf("found %d TLS contexts, want the inbound listener and the backend cluster", len(ctxs))
	}
	for where, c := range ctxs {
		certs := c.GetTlsCertificateSdsSecretConfigs()
		if len(certs) != 1 || certs[0].GetName() != sdsconfig.DefaultSVIDName {
			t.Errorf("%s: tls_certificate_sds_secret_configs = %v, want %q", where, certs, sdsconfig.DefaultSVIDName)
		}
		cv := c.GetCombinedValidationContext()
		if got := cv.GetValidationContextSdsSecretConfig().GetName(); got != sdsconfig.DefaultBundleName {
			t.Errorf("%s: validation context %q, want %q", where, got, sdsconfig.DefaultBundleName)
		}
		sans := cv.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
		if len(sans) == 0 || sans[0].GetSanType().String() != "URI" || !strings.HasPrefix(sans[0].GetMatcher().GetExact(), "spiffe://") {
			t.Errorf("%s: no SPIFFE ID URI SAN matcher", where)
		}
		for _, s := range append(certs, cv.GetValidationContextSdsSecretConfig()) {
			svc := s.GetSdsConfig().GetApiConfigSource().GetGrpcServices()
			if len(svc) != 1 || svc[0].GetEnvoyGrpc().GetClusterName() != "svidkit_sds" {
				t.Errorf("%s: secret %q is not fetched from the svidkit_sds cluster", where, s.GetName())
			}
		}
	}
}

// sdsSocketPath returns the pipe path of the svidkit_sds cluster.
func sdsSocketPath(t *testing.T, b *bootstrapv3.Bootstrap) string {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.Name == "svidkit_sds" {
			return c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()
		}
	}
	t.Fatal("no svidkit_sds cluster")
	return ""
}

// k8sDocs decodes every document of k8s.yaml strictly (duplicate keys are
// errors) into generic maps.
func k8sDocs(t *testing.T) []map[string]any {
	t.Helper()
	data, err := os.ReadFile("k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := goyaml.NewDecoder(bytes.NewReader(data))
	dec.SetStrict(true)
	var docs []map[string]any
	for {
		var raw any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("k8s.yaml: %v", err)
		}
		// Round trip to turn yaml.v2's map[any]any into map[string]any.
		out, err := goyaml.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	return docs
}

// get walks a decoded YAML document by keys (string) and indexes (int).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetesManifestMatchesEnvoy(t *testing.T) {
	sock := sdsSocketPath(t, loadBootstrap(t))
	var deploy map[string]any
	for _, d := range k8sDocs(t) {
		if d["kind"] == "Deployment" {
			deploy = d
		}
	}
	if deploy == nil {
		t.Fatal("k8s.yaml has no Deployment")
	}
	spec := get(deploy, "spec", "template", "spec")
	containers := map[string]map[string]any{}
	list, _ := get(spec, "containers").([]any)
	for _, c := range list {
		name, _ := get(c, "name").(string)
		containers[name], _ = c.(map[string]any)
	}
	for _, name := range []string{"app", "envoy", "svidkit-sds"} {
		if containers[name] == nil {
			t.Fatalf("Deployment lacks container %q", name)
		}
	}
	volumes := map[string]map[string]any{}
	list, _ = get(spec, "volumes").([]any)
	for _, v := range list {
		name, _ := get(v, "name").(string)
		volumes[name], _ = v.(map[string]any)
	}
	mountOf := func(container, dir string) string {
		mounts, _ := get(containers[container], "volumeMounts").([]any)
		for _, m := range mounts {
			if get(m, "mountPath") == dir {
				name, _ := get(m, "name").(string)
				return name
			}
		}
		return ""
	}

	// Envoy and svidkit-sds share the SDS socket's directory, an emptyDir.
	dir := path.Dir(sock)
	envoyVol, sdsVol := mountOf("envoy", dir), mountOf("svidkit-sds", dir)
	if envoyVol == "" || envoyVol != sdsVol || volumes[envoyVol]["emptyDir"] == nil {
		t.Errorf("envoy and svidkit-sds must mount one emptyDir at %s (envoy.yaml's socket %s); got %q and %q", dir, sock, envoyVol, sdsVol)
	}
	args, _ := get(containers["svidkit-sds"], "args").([]any)
	if i := slices.Index(args, any("-listen")); i < 0 || i+1 >= len(args) || args[i+1] != sock {
		t.Errorf("svidkit-sds args %v do not -listen on %s", args, sock)
	}

	// svidkit-sds reads the agent socket from the inline CSI volume
	// svidkit-csi publishes (deploy/k8s; the tie to the agent's node
	// directory is checked there): driver csi.spiffe.io, read-only.
	i := slices.Index(args, any("-agent-address"))
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("svidkit-sds args %v lack -agent-address", args)
	}
	agentSock, _ := args[i+1].(string)
	agentDir := path.Dir(agentSock)
	agentVol := mountOf("svidkit-sds", agentDir)
	if drv, ro := get(volumes[agentVol], "csi", "driver"), get(volumes[agentVol], "csi", "readOnly"); drv != "csi.spiffe.io" || ro != true {
		t.Errorf("agent socket %s is not on a read-only csi.spiffe.io volume (volume %q: driver %v, readOnly %v)", args[i+1], agentVol, drv, ro)
	}
	if mountOf("envoy", "/etc/envoy") == "" || get(volumes[mountOf("envoy", "/etc/envoy")], "configMap") == nil {
		t.Error("envoy does not mount its ConfigMap at /etc/envoy")
	}
	// The app never sees the agent or the SDS socket.
	if mountOf("app", dir) != "" || mountOf("app", agentDir) != "" {
		t.Error("the app container mounts a socket volume")
	}
}
