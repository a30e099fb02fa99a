package workloadapi

import "fmt"

// Limits on the audience of one JWT-SVID request. A JWT-SVID carries its
// audience in its "aud" claim and travels as a bearer token in an HTTP
// header, which servers commonly cap at 8 KiB (nginx's and Apache's
// defaults); real audiences are a URL or a name of a few dozen bytes
// ("https://sts.amazonaws.com") to about 150 (a GCP workload identity
// provider). The limits are far above real use and keep every token, and
// the agent's JWT-SVID cache of up to jwt_svid_cache_max_size of them,
// small: without them 1,500 requests with unique 200 KB audiences took the
// agent from 21 to 723 MiB (issue 10).
const (
	// MaxAudiences is the most audience values one request may carry.
	MaxAudiences = 32
	// MaxAudienceLength is the most bytes one audience value may have.
	MaxAudienceLength = 1024
	// MaxAudienceTotalLength is the most bytes all audience values of one
	// request may add up to, leaving a token well below 8 KiB.
	MaxAudienceTotalLength = 4096
)

// CheckAudience reports an audience beyond the limits above, naming the
// limit. The Workload API refuses such a request with InvalidArgument; the
// agent's cache checks again so that no caller can fill it with large keys.
func CheckAudience(audience []string) error {
	if len(audience) > MaxAudiences {
		return fmt.Errorf("audience: %d values, over the limit of %d values", len(audience), MaxAudiences)
	}
	total := 0
	for i, a := range audience {
		if len(a) > MaxAudienceLength {
			return fmt.Errorf("audience: value %d has %d bytes, over the limit of %d bytes per value", i, len(a), MaxAudienceLength)
		}
		total += len(a)
	}
	if total > MaxAudienceTotalLength {
		return fmt.Errorf("audience: %d bytes, over the limit of %d bytes in all", total, MaxAudienceTotalLength)
	}
	return nil
}
