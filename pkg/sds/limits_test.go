package sds_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/sds"
)

// unknownNames returns n distinct names of size bytes no workload has.
func unknownNames(prefix string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("%s-%d-", prefix, i)
		out[i] = s + strings.Repeat("x", max(size-len(s), 0))
	}
	return out
}

// atLimit is "default" and unknown names, as many and as long in all as
// the limits allow.
func atLimit() []string {
	names := append(unknownNames("n", sds.MaxResourceNames-1, sds.MaxResourceNameBytes/sds.MaxResourceNames), "default")
	total := 0
	for _, n := range names {
		total += len(n)
	}
	names[0] += strings.Repeat("x", sds.MaxResourceNameBytes-total)
	return names
}

// limitCases are requests at and beyond the per-request name limits; want
// is empty when the request is within them, else a part of the error.
var limitCases = []struct {
	name  string
	names []string
	want  string
}{
	{"at both limits", atLimit(), ""},
	{"one name too many", unknownNames("n", sds.MaxResourceNames+1, 8), fmt.Sprintf("limit of %d names", sds.MaxResourceNames)},
	{"the issue's 40,000 names", unknownNames("n", 40000, 90), fmt.Sprintf("limit of %d names", sds.MaxResourceNames)},
	{"one byte too many", append(unknownNames("n", 1, sds.MaxResourceNameBytes), "x"), fmt.Sprintf("limit of %d bytes", sds.MaxResourceNameBytes)},
}

// checkRefusal fails unless err is nil when want is empty, or an
// InvalidArgument whose message contains want.
func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused a request within the limits: %v", err)
	case want != "" && (status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), want)):
		t.Fatalf("got %v, want InvalidArgument naming the %q", err, want)
	}
}

// TestRequestNameLimits: a request with more resource names, or longer
// ones, than the limits is refused with InvalidArgument naming the limit,
// on every protocol (issue 10, finding 3).
func TestRequestNameLimits(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	client := serve(t, sds.New(sds.Config{Source: src}))
	for _, tt := range limitCases {
		t.Run("fetch/"+tt.name, func(t *testing.T) {
			_, err := client.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{ResourceNames: tt.names})
			if tt.want == "" && status.Code(err) == codes.NotFound {
				err = nil // within the limits: unknown names are not found
			}
			checkRefusal(t, err, tt.want)
		})
		t.Run("sotw/"+tt.name, func(t *testing.T) {
			c := openSotW(t, client, nil)
			c.subscribe(tt.names...)
			var err error
			select {
			case <-c.resps: // "default" served: the names were accepted
			case err = <-c.errc:
			case <-deadline():
				t.Fatal("no response and no error before deadline")
			}
			checkRefusal(t, err, tt.want)
		})
		t.Run("delta/"+tt.name, func(t *testing.T) {
			err := deltaExchange(t, client, &discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: tt.names})
			checkRefusal(t, err, tt.want)
		})
	}
	t.Run("delta/initial versions", func(t *testing.T) {
		versions := make(map[string]string)
		for _, n := range unknownNames("n", sds.MaxResourceNames+1, 8) {
			versions[n] = "1"
		}
		err := deltaExchange(t, client, &discoveryv3.DeltaDiscoveryRequest{InitialResourceVersions: versions})
		checkRefusal(t, err, fmt.Sprintf("limit of %d names", sds.MaxResourceNames))
	})
	t.Run("delta/unsubscribe", func(t *testing.T) {
		err := deltaExchange(t, client, &discoveryv3.DeltaDiscoveryRequest{ResourceNamesUnsubscribe: unknownNames("n", 40000, 90)})
		checkRefusal(t, err, fmt.Sprintf("limit of %d names", sds.MaxResourceNames))
	})
}

// TestDeltaSubscriptionLimit: requests within the per-request limit cannot
// add up to a larger subscription on one delta stream; names unsubscribed
// make room again.
func TestDeltaSubscriptionLimit(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	client := serve(t, sds.New(sds.Config{Source: src}))
	half := sds.MaxResourceNames / 2
	tests := []struct {
		name string
		reqs []*discoveryv3.DeltaDiscoveryRequest
		want string
	}{
		{"two halves fit", []*discoveryv3.DeltaDiscoveryRequest{
			{ResourceNamesSubscribe: unknownNames("a", half, 8)},
			{ResourceNamesSubscribe: append(unknownNames("b", half-1, 8), "default")},
		}, ""},
		{"three halves do not", []*discoveryv3.DeltaDiscoveryRequest{
			{ResourceNamesSubscribe: unknownNames("a", half, 8)},
			{ResourceNamesSubscribe: unknownNames("b", half, 8)},
			{ResourceNamesSubscribe: append(unknownNames("c", half-1, 8), "default")},
		}, fmt.Sprintf("limit of %d names", sds.MaxResourceNames)},
		{"nor do their bytes", []*discoveryv3.DeltaDiscoveryRequest{
			{ResourceNamesSubscribe: unknownNames("a", 2, sds.MaxResourceNameBytes/2)},
			{ResourceNamesSubscribe: []string{"default"}},
		}, fmt.Sprintf("limit of %d bytes", sds.MaxResourceNameBytes)},
		{"unsubscribing makes room", []*discoveryv3.DeltaDiscoveryRequest{
			{ResourceNamesSubscribe: unknownNames("a", half, 8)},
			{ResourceNamesSubscribe: unknownNames("b", half, 8)},
			{ResourceNamesUnsubscribe: unknownNames("a", half, 8), ResourceNamesSubscribe: append(unknownNames("c", half-1, 8), "default")},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRefusal(t, deltaExchange(t, client, tt.reqs...), tt.want)
		})
	}
}

// TestFetchSecretsNotFoundIsShort: the NotFound answer to unknown names
// counts them and quotes a few, shortened, instead of echoing them all.
func TestFetchSecretsNotFoundIsShort(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	client := serve(t, sds.New(sds.Config{Source: src}))
	names := unknownNames("n", sds.MaxResourceNames, sds.MaxResourceNameBytes/sds.MaxResourceNames)
	_, err := client.FetchSecrets(context.Background(), &discoveryv3.DiscoveryRequest{ResourceNames: append([]string{"default"}, names[1:]...)})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("got %v, want NotFound", err)
	}
	msg := status.Convert(err).Message()
	want := fmt.Sprintf("no secrets for %d names", sds.MaxResourceNames-1)
	if !strings.Contains(msg, want) || !strings.Contains(msg, "n-1-") || len(msg) > 512 {
		t.Fatalf("NotFound message (%d bytes) %.600q: want at most 512 bytes containing %q and the first name", len(msg), msg, want)
	}
}

// deltaExchange opens a delta stream, sends reqs and returns the stream's
// error, or nil once a response carrying "default" arrives: the request
// subscribing to it, and every one before, was accepted.
func deltaExchange(t *testing.T, c secretv3.SecretDiscoveryServiceClient, reqs ...*discoveryv3.DeltaDiscoveryRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	stream, err := c.DeltaSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		r.TypeUrl = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
		if err := stream.Send(r); err != nil {
			break // refused: Recv reports why
		}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		for _, r := range resp.Resources {
			if r.Name == "default" {
				return nil
			}
		}
	}
}
