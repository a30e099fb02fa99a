package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// bundleEndpointBlock names federation.bundle_endpoint in messages and Lines.
const bundleEndpointBlock = "bundle_endpoint block"

// acmeRefusal is the message for SPIRE's acme block, which svidkit does
// not implement: the operator must bring a certificate.
const acmeRefusal = `acme: ACME is not supported by svidkit; use profile "https_web" { serving_cert_file { cert_file_path key_file_path } } with a certificate obtained elsewhere`

// federation decodes server { federation { ... } }.
func (d *decoder) federation(s *Server) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		f := &Federation{}
		s.Federation = f
		seen := make(map[spiffeid.TrustDomain]bool)
		d.BlockRepeat(federationBlock, body, map[string]hcldecode.Field{
			"bundle_endpoint": func(it *ast.ObjectItem) {
				if be, ok := d.Object(it); ok {
					f.BundleEndpoint = d.bundleEndpoint(it, be)
				}
			},
			"federates_with": func(it *ast.ObjectItem) {
				fw, ok := d.federatesWith(it)
				if !ok {
					return
				}
				if seen[fw.TrustDomain] {
					d.Errorf(it.Pos(), "federates_with %q is configured twice", fw.TrustDomain.Name())
					return
				}
				seen[fw.TrustDomain] = true
				d.Record(federationBlock, federatesWithKey(fw.TrustDomain), it.Pos())
				f.FederatesWith = append(f.FederatesWith, fw)
			},
		}, "federates_with")
	}
}

// bundleEndpoint decodes federation.bundle_endpoint.
func (d *decoder) bundleEndpoint(blk *ast.ObjectItem, body *ast.ObjectList) *BundleEndpoint {
	be := &BundleEndpoint{
		Address:     DefaultBundleEndpointAddress,
		Port:        DefaultBundleEndpointPort,
		RefreshHint: DefaultBundleRefreshHint,
	}
	d.Block(bundleEndpointBlock, body, map[string]hcldecode.Field{
		"address": d.String(&be.Address),
		"port": func(it *ast.ObjectItem) {
			d.Int(&be.Port)(it)
			if err := checkPort(be.Port); err != nil {
				d.Errorf(it.Pos(), "bundle_endpoint port: %v", err)
			}
		},
		"refresh_hint": func(it *ast.ObjectItem) {
			d.Duration(&be.RefreshHint)(it)
			switch {
			case be.RefreshHint == 0:
				d.Errorf(it.Pos(), "refresh_hint must be positive")
			case be.RefreshHint < minRefreshHint:
				d.Warnf(it.Pos(), "refresh_hint %s is below one minute; foreign servers will not refresh more often than once a minute", be.RefreshHint)
			case be.RefreshHint >= 24*time.Hour:
				d.Warnf(it.Pos(), "refresh_hint %s is high; unscheduled bundle changes reach federated servers late (5m is recommended)", be.RefreshHint)
			}
		},
		"profile": func(it *ast.ObjectItem) { d.endpointProfile(it, be) },
		"acme":    func(it *ast.ObjectItem) { d.Errorf(it.Pos(), "bundle_endpoint %s", acmeRefusal) },
	}, nil)
	if be.Address == "" {
		d.Errorf(blk.Pos(), "bundle_endpoint address must not be empty")
	}
	if be.Profile == "" {
		d.Warnf(blk.Pos(), `bundle_endpoint has no profile; using "https_spiffe" as SPIRE does (set profile "https_spiffe" {} explicitly)`)
		be.Profile = ProfileHTTPSSPIFFE
	}
	return be
}

// endpointProfile decodes profile "https_spiffe" {} or profile "https_web"
// { serving_cert_file { ... } }.
func (d *decoder) endpointProfile(it *ast.ObjectItem, be *BundleEndpoint) {
	name, body, ok := d.labelled(it, `profile "https_spiffe" {} or profile "https_web" { ... }`)
	if !ok {
		return
	}
	what := `profile "` + name + `" block`
	switch name {
	case ProfileHTTPSSPIFFE:
		be.Profile = name
		d.Block(what, body, nil, nil)
	case ProfileHTTPSWeb:
		be.Profile = name
		d.Block(what, body, map[string]hcldecode.Field{
			"serving_cert_file": func(it *ast.ObjectItem) {
				if sc, ok := d.servingCertFile(it, "serving_cert_file block", "", DefaultFileSyncInterval, nil); ok {
					be.ServingCertFile = sc
				}
			},
			"acme": func(it *ast.ObjectItem) { d.Errorf(it.Pos(), "profile \"https_web\" %s", acmeRefusal) },
		}, nil)
		if be.ServingCertFile == nil && !hasKey(body, "acme") {
			d.Errorf(it.Pos(), `profile "https_web": missing required block "serving_cert_file" { cert_file_path key_file_path }`)
		}
	default:
		d.Errorf(it.Pos(), `unknown bundle endpoint profile %q (want "https_spiffe" or "https_web")`, name)
	}
}

// federatesWith decodes one federates_with "<trust domain>" { ... } block.
func (d *decoder) federatesWith(it *ast.ObjectItem) (FederatesWith, bool) {
	var fw FederatesWith
	name, body, ok := d.labelled(it, `federates_with "<trust domain>" { ... }`)
	if !ok {
		return fw, false
	}
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		d.Errorf(it.Pos(), "federates_with %q: invalid trust domain: %v", name, err)
		return fw, false
	}
	fw.TrustDomain = td
	what := `federates_with "` + td.Name() + `"`
	good := true
	d.Block(what+" block", body, map[string]hcldecode.Field{
		"bundle_endpoint_url": func(it *ast.ObjectItem) {
			d.String(&fw.BundleEndpointURL)(it)
			if fw.BundleEndpointURL == "" {
				return
			}
			u, err := url.Parse(fw.BundleEndpointURL)
			switch {
			case err != nil:
				d.Errorf(it.Pos(), "%s: bundle_endpoint_url: %v", what, err)
				good = false
			case !strings.EqualFold(u.Scheme, "https") || u.Host == "":
				d.Errorf(it.Pos(), "%s: bundle_endpoint_url %q must be an https:// URL", what, fw.BundleEndpointURL)
				good = false
			}
		},
		"bundle_endpoint_profile": func(it *ast.ObjectItem) {
			good = d.relationshipProfile(it, what, &fw) && good
		},
	}, nil)
	if fw.BundleEndpointURL == "" {
		d.Errorf(it.Pos(), `%s: missing required key "bundle_endpoint_url"`, what)
		good = false
	}
	if fw.Profile == "" && !hasKey(body, "bundle_endpoint_profile") {
		d.Errorf(it.Pos(), `%s: missing required block bundle_endpoint_profile "https_spiffe" { endpoint_spiffe_id = "..." } or bundle_endpoint_profile "https_web" {}`, what)
		good = false
	}
	return fw, good && fw.Profile != ""
}

// relationshipProfile decodes bundle_endpoint_profile "https_spiffe" {
// endpoint_spiffe_id } or bundle_endpoint_profile "https_web" {}.
func (d *decoder) relationshipProfile(it *ast.ObjectItem, what string, fw *FederatesWith) bool {
	name, body, ok := d.labelled(it, `bundle_endpoint_profile "https_spiffe" { endpoint_spiffe_id = "..." } or bundle_endpoint_profile "https_web" {}`)
	if !ok {
		return false
	}
	switch name {
	case ProfileHTTPSWeb:
		fw.Profile = name
		d.Block(`bundle_endpoint_profile "https_web" block of `+what, body, nil, nil)
		return true
	case ProfileHTTPSSPIFFE:
		var raw string
		d.Block(`bundle_endpoint_profile "https_spiffe" block of `+what, body, map[string]hcldecode.Field{
			"endpoint_spiffe_id": d.String(&raw),
		}, nil)
		if raw == "" {
			d.Errorf(it.Pos(), `%s: bundle_endpoint_profile "https_spiffe": missing required key "endpoint_spiffe_id"`, what)
			return false
		}
		id, err := spiffeid.FromString(raw)
		if err != nil {
			d.Errorf(it.Pos(), `%s: endpoint_spiffe_id %q: %v`, what, raw, err)
			return false
		}
		fw.Profile, fw.EndpointSPIFFEID = name, id
		return true
	}
	d.Errorf(it.Pos(), `%s: unknown bundle_endpoint_profile %q (want "https_spiffe" or "https_web")`, what, name)
	return false
}

// labelled returns the label and body of a `key "label" { ... }` block,
// reporting anything else as "key: want <want>".
func (d *decoder) labelled(it *ast.ObjectItem, want string) (string, *ast.ObjectList, bool) {
	key := hcldecode.KeyName(it.Keys[0])
	obj, isObj := it.Val.(*ast.ObjectType)
	if len(it.Keys) != 2 || !isObj {
		d.Errorf(it.Pos(), "%s: want %s", key, want)
		return "", nil, false
	}
	return hcldecode.KeyName(it.Keys[1]), obj.List, true
}

// hasKey reports whether body gives key (so a refusal already reported
// for it is not followed by a "missing" one).
func hasKey(body *ast.ObjectList, key string) bool {
	for _, it := range body.Items {
		if len(it.Keys) > 0 && hcldecode.KeyName(it.Keys[0]) == key {
			return true
		}
	}
	return false
}
