package config

import (
	"slices"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// plugin is one `Type "name" { ... }` declaration in a plugins block.
type plugin struct {
	typ, name string
	pos       token.Pos
	// data is the plugin_data block; nil when absent.
	data *ast.ObjectList
}

// pluginKind describes one plugin type for a role (server or agent): the
// names svidkit implements, with a decoder for their plugin_data, and the
// names SPIRE ships that svidkit does not implement yet.
type pluginKind struct {
	supported map[string]func(d *decoder, p plugin)
	spire     []string
}

// pluginEntryUnsupported lists per-plugin keys SPIRE accepts that svidkit
// does not.
var pluginEntryUnsupported = map[string]bool{
	"plugin_data_file": true,
	"plugin_cmd":       true,
	"plugin_checksum":  true,
}

// plugins decodes a plugins block into its enabled declarations. Both the
// HCL form `NodeAttestor "join_token" { ... }` and the nested-object form
// `NodeAttestor { join_token { ... } }` (what JSON configs produce) work.
func (d *decoder) plugins(list *ast.ObjectList, kinds map[string]pluginKind) []plugin {
	var out []plugin
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		typ := hcldecode.KeyName(it.Keys[0])
		if _, ok := kinds[typ]; !ok {
			d.Errorf(it.Pos(), "unknown plugin type %q in plugins block", typ)
			continue
		}
		body, ok := it.Val.(*ast.ObjectType)
		if !ok {
			d.Errorf(it.Pos(), "%s: want a plugin block such as %s \"name\" { ... }", typ, typ)
			continue
		}
		switch len(it.Keys) {
		case 2:
			if p, ok := d.pluginEntry(typ, it.Keys[1], body.List); ok {
				out = append(out, p)
			}
		case 1:
			for _, inner := range body.List.Items {
				innerBody, isObj := inner.Val.(*ast.ObjectType)
				if len(inner.Keys) != 1 || !isObj {
					d.Errorf(inner.Pos(), "%s: want a plugin block such as %s \"name\" { ... }", typ, typ)
					continue
				}
				if p, ok := d.pluginEntry(typ, inner.Keys[0], innerBody.List); ok {
					out = append(out, p)
				}
			}
		default:
			d.Errorf(it.Pos(), "%s: want a plugin block such as %s \"name\" { ... }", typ, typ)
		}
	}
	seen := make(map[string]bool)
	for _, p := range out {
		id := p.typ + " " + p.name
		if seen[id] {
			d.Errorf(p.pos, "duplicate %s %q in plugins block", p.typ, p.name)
			continue
		}
		seen[id] = true
		kind := kinds[p.typ]
		dec, ok := kind.supported[p.name]
		switch {
		case ok:
			dec(d, p)
		case slices.Contains(kind.spire, p.name):
			d.Errorf(p.pos, "%s %q is a SPIRE plugin svidkit does not support yet", p.typ, p.name)
		default:
			d.Errorf(p.pos, "unknown %s plugin %q", p.typ, p.name)
		}
	}
	return out
}

// pluginEntry decodes the body of one plugin declaration. Disabled plugins
// (enabled = false) are dropped, as SPIRE does.
func (d *decoder) pluginEntry(typ string, nameKey *ast.ObjectKey, body *ast.ObjectList) (plugin, bool) {
	p := plugin{typ: typ, name: hcldecode.KeyName(nameKey), pos: nameKey.Pos()}
	enabled := true
	what := typ + " \"" + p.name + "\" block"
	d.Block(what, body, map[string]hcldecode.Field{
		"enabled": d.Bool(&enabled),
		"plugin_data": func(it *ast.ObjectItem) {
			if data, ok := d.Object(it); ok {
				p.data = data
			}
		},
	}, pluginEntryUnsupported)
	return p, enabled
}

// pluginData decodes p's plugin_data with fields; a missing block is empty.
func (d *decoder) pluginData(p plugin, fields map[string]hcldecode.Field) {
	if p.data == nil {
		return
	}
	d.Block("plugin_data of "+p.typ+" \""+p.name+"\"", p.data, fields, nil)
}

// countPlugins returns how many declarations of type typ there are.
func countPlugins(ps []plugin, typ string) int {
	n := 0
	for _, p := range ps {
		if p.typ == typ {
			n++
		}
	}
	return n
}

// SPIRE's plugin names by type, used to tell "not supported yet" apart from
// a typo.
var (
	spireNodeAttestors = []string{"join_token", "k8s_psat", "k8s_sat", "aws_iid", "azure_msi", "azure_imds",
		"gcp_iit", "x509pop", "sshpop", "tpm_devid", "http_challenge"}
	spireServerKeyManagers = []string{"disk", "memory", "aws_kms", "gcp_kms", "azure_key_vault", "hashicorp_vault"}
	spireAgentKeyManagers  = []string{"disk", "memory"}
	spireDataStores        = []string{"sql"}
	spireUpstreamAuthority = []string{"disk", "aws_pca", "vault", "cert-manager", "spire", "awssecret",
		"gcp_cas", "ejbca"}
	spireNotifiers         = []string{"k8sbundle", "gcs_bundle", "aws_s3"}
	spireBundlePublishers  = []string{"aws_s3", "gcp_cloudstorage", "aws_rolesanywhere_trustanchor", "k8s_configmap"}
	spireCredComposers     = []string{"uniqueid"}
	spireWorkloadAttestors = []string{"unix", "k8s", "docker", "systemd", "windows"}
	spireSVIDStores        = []string{"aws_secretsmanager", "gcp_secretmanager"}
)
