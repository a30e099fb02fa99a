package workloadapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// audiences returns n distinct audience values of size bytes.
func audiences(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("aud-%d-", i)
		out[i] = s + strings.Repeat("x", max(size-len(s), 0))
	}
	return out
}

// TestFetchJWTSVIDAudienceLimits: a FetchJWTSVID request whose audience
// has too many values, one too long, or too many bytes in all is refused
// with InvalidArgument naming the limit, before the agent mints anything
// (issue 10, finding 4).
func TestFetchJWTSVIDAudienceLimits(t *testing.T) {
	ca := newTestCA(t, "example.org")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")})
	raw := serve(t, mgr, &fakeAttestor{}).raw(t)
	perValue := workloadapi.MaxAudienceTotalLength / workloadapi.MaxAudiences
	tests := []struct {
		name     string
		audience []string
		want     string // part of the error; empty: accepted
	}{
		{"at every limit", audiences(workloadapi.MaxAudiences, perValue), ""},
		{"longest value", audiences(1, workloadapi.MaxAudienceLength), ""},
		{"one value too many", audiences(workloadapi.MaxAudiences+1, 8), fmt.Sprintf("limit of %d values", workloadapi.MaxAudiences)},
		{"one value too long", audiences(1, workloadapi.MaxAudienceLength+1), fmt.Sprintf("limit of %d bytes per value", workloadapi.MaxAudienceLength)},
		{"the issue's 200 KB audience", audiences(1, 200_000), fmt.Sprintf("limit of %d bytes per value", workloadapi.MaxAudienceLength)},
		{"too long in all", audiences(5, workloadapi.MaxAudienceLength), fmt.Sprintf("limit of %d bytes in all", workloadapi.MaxAudienceTotalLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.FetchJWTSVID(withHeader(testCtx(t)), &workload.JWTSVIDRequest{Audience: tt.audience})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused an audience within the limits: %v", err)
			case tt.want != "" && (status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want)):
				t.Fatalf("got %.300v, want InvalidArgument naming the %q", err, tt.want)
			}
		})
	}
}
