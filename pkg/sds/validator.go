package sds

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// disableValidatorKey is the Envoy node metadata key SPIRE's agent reads to
// switch the SPIFFE certificate validator off (or on) per Envoy.
const disableValidatorKey = "disable_spiffe_cert_validation"

// useSPIFFEValidator reports whether validation contexts for node use
// Envoy's SPIFFE certificate validator; the rules are in the package doc.
func (h *Handler) useSPIFFEValidator(node *corev3.Node) bool {
	disabled := h.disable
	if v, ok := node.GetMetadata().GetFields()[disableValidatorKey]; ok {
		if b, ok := metadataBool(v); ok {
			disabled = b
		}
	}
	if disabled {
		return false
	}
	if bv := node.GetUserAgentBuildVersion(); bv != nil && bv.GetVersion() != nil {
		v := bv.GetVersion()
		return v.GetMajorNumber() > 1 || (v.GetMajorNumber() == 1 && v.GetMinorNumber() >= 18)
	}
	return true
}

// metadataBool reads a bool or a boolean string; other kinds are ignored,
// as SPIRE does.
func metadataBool(v *structpb.Value) (bool, bool) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_BoolValue:
		return k.BoolValue, true
	case *structpb.Value_StringValue:
		b, err := strconv.ParseBool(k.StringValue)
		return b, err == nil
	}
	return false, false
}
