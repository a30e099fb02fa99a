package render

import (
	"bytes"
	"fmt"
	"text/template"
	"text/template/parse"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Data is what every template sees.
type Data struct {
	TrustDomain   string
	ClusterName   string
	ClusterDomain string
	PodMeta       *metav1.ObjectMeta
	PodSpec       *corev1.PodSpec
	NodeMeta      *metav1.ObjectMeta
	NodeSpec      *corev1.NodeSpec
}

// AliasWarning is the warning a resource gets once when one of its
// templates uses .PodMeta.ServiceAccountName, a common mistake in
// published manifests (ObjectMeta has no such field), which is read as
// .PodSpec.ServiceAccountName.
const AliasWarning = ".PodMeta.ServiceAccountName is not a field of the pod's metadata; read as .PodSpec.ServiceAccountName"

// compileTemplate parses text as a Go text/template that fails on a
// missing map key, rewriting .PodMeta.ServiceAccountName to
// .PodSpec.ServiceAccountName; aliased reports whether it did.
func compileTemplate(field, text string) (t *template.Template, aliased bool, err error) {
	t, err = template.New(field).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", field, err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && rewriteAlias(tt.Root) {
			aliased = true
		}
	}
	return t, aliased, nil
}

// execute renders t over d.
func execute(t *template.Template, d *Data) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("%s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// rewriteAlias walks a parse tree and rewrites every field chain
// PodMeta.ServiceAccountName (after the dot or $) in place, reporting
// whether it found one.
func rewriteAlias(n parse.Node) bool {
	found := false
	var walk func(parse.Node)
	walkPipe := func(p *parse.PipeNode) {
		if p == nil {
			return
		}
		for _, c := range p.Cmds {
			walk(c)
		}
	}
	walkBranch := func(b *parse.BranchNode) {
		walkPipe(b.Pipe)
		walk(b.List)
		if b.ElseList != nil {
			walk(b.ElseList)
		}
	}
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walkPipe(n.Pipe)
		case *parse.PipeNode:
			walkPipe(n)
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walkBranch(&n.BranchNode)
		case *parse.RangeNode:
			walkBranch(&n.BranchNode)
		case *parse.WithNode:
			walkBranch(&n.BranchNode)
		case *parse.TemplateNode:
			walkPipe(n.Pipe)
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.FieldNode:
			found = rewriteIdent(n.Ident) || found
		case *parse.VariableNode:
			if len(n.Ident) > 0 && n.Ident[0] == "$" {
				found = rewriteIdent(n.Ident[1:]) || found
			}
		}
	}
	walk(n)
	return found
}

// rewriteIdent rewrites a leading PodMeta, ServiceAccountName pair.
func rewriteIdent(id []string) bool {
	if len(id) >= 2 && id[0] == "PodMeta" && id[1] == "ServiceAccountName" {
		id[0] = "PodSpec"
		return true
	}
	return false
}
