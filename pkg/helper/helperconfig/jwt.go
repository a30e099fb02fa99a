package helperconfig

import (
	"fmt"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// jwtSVIDs decodes jwt_svids, written as a list of objects
// (jwt_svids = [{...}, {...}]) or as repeated jwt_svids { ... } blocks,
// both of which spiffe-helper's HCL decoder accepts. Entries are numbered
// in file order in messages: jwt_svids[0], jwt_svids[1], ...
func (d *decoder) jwtSVIDs(dst *[]JWTSVID) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		if len(it.Keys) > 1 {
			d.Errorf(it.Pos(), "jwt_svids: unexpected label %q", hcldecode.KeyName(it.Keys[1]))
			return
		}
		switch v := it.Val.(type) {
		case *ast.ObjectType:
			d.jwtSVID(dst, v)
		case *ast.ListType:
			for _, n := range v.List {
				obj, ok := n.(*ast.ObjectType)
				if !ok {
					d.Errorf(n.Pos(), "jwt_svids[%d]: want an object {jwt_audience = ..., jwt_svid_file_name = ...}", len(*dst))
					*dst = append(*dst, JWTSVID{})
					continue
				}
				d.jwtSVID(dst, obj)
			}
		default:
			d.Errorf(it.Pos(), "jwt_svids: want a list of objects [{jwt_audience = ..., jwt_svid_file_name = ...}]")
		}
	}
}

// jwtSVID decodes one jwt_svids entry and appends it.
func (d *decoder) jwtSVID(dst *[]JWTSVID, obj *ast.ObjectType) {
	var j JWTSVID
	what := fmt.Sprintf("jwt_svids[%d]", len(*dst))
	d.Record(TopLevel, what, obj.Pos())
	d.Block(what, obj.List, map[string]hcldecode.Field{
		"jwt_audience":        d.String(&j.Audience),
		"jwt_extra_audiences": d.StringList(&j.ExtraAudiences),
		"jwt_svid_file_name":  d.String(&j.FileName),
	}, nil)
	*dst = append(*dst, j)
}

// health decodes the health_checks block; keys left out keep their
// defaults (port 8081, /live, /ready).
func (d *decoder) health(dst *Health) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		d.Block("health_checks", body, map[string]hcldecode.Field{
			"listener_enabled": d.Bool(&dst.ListenerEnabled),
			"bind_port":        d.port(&dst.BindPort),
			"liveness_path":    d.String(&dst.LivenessPath),
			"readiness_path":   d.String(&dst.ReadinessPath),
		}, nil)
		// spiffe-helper treats 0 and "" as "use the default".
		if dst.BindPort == 0 {
			dst.BindPort = DefaultHealthBindPort
		}
		if dst.LivenessPath == "" {
			dst.LivenessPath = DefaultLivenessPath
		}
		if dst.ReadinessPath == "" {
			dst.ReadinessPath = DefaultReadinessPath
		}
	}
}
