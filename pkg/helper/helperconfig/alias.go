package helperconfig

import (
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// alias is a deprecated camelCase spelling of a key that older
// spiffe-helper releases accepted.
type alias struct {
	key, old string
	field    hcldecode.Field
	keyPos   *token.Pos // where key was seen, nil if not
	oldPos   *token.Pos // where old was seen, nil if not
}

// aliases collects the deprecated spellings and checks that a file does not
// use both spellings of one key.
type aliases struct {
	d    *decoder
	list []*alias
}

func newAliases(d *decoder) *aliases { return &aliases{d: d} }

// add registers old as a deprecated spelling of key and returns the field
// for key. Both decode with f; then hooks run with the item.
func (a *aliases) add(key, old string, f hcldecode.Field, hooks []func(*ast.ObjectItem)) hcldecode.Field {
	al := &alias{key: key, old: old}
	wrap := func(seen **token.Pos) hcldecode.Field {
		return func(it *ast.ObjectItem) {
			p := it.Pos()
			*seen = &p
			f(it)
			for _, h := range hooks {
				h(it)
			}
		}
	}
	oldField := wrap(&al.oldPos)
	al.field = func(it *ast.ObjectItem) {
		// Messages name the key as it is spelled today.
		a.d.Record(TopLevel, key, it.Keys[0].Pos())
		oldField(it)
	}
	a.list = append(a.list, al)
	return wrap(&al.keyPos)
}

// str registers a string key with its deprecated spelling.
func (a *aliases) str(key, old string, dst *string, hooks ...func(*ast.ObjectItem)) hcldecode.Field {
	return a.add(key, old, a.d.String(dst), hooks)
}

// boolean registers a boolean key with its deprecated spelling.
func (a *aliases) boolean(key, old string, dst *bool, hooks ...func(*ast.ObjectItem)) hcldecode.Field {
	return a.add(key, old, a.d.Bool(dst), hooks)
}

// check reports deprecated spellings (a warning) and both spellings used
// together (an error, as spiffe-helper made it).
func (a *aliases) check() {
	for _, al := range a.list {
		if al.oldPos == nil {
			continue
		}
		if al.keyPos != nil {
			a.d.Errorf(*al.oldPos, "use of %s and %s found, use only %s", al.key, al.old, al.key)
			continue
		}
		a.d.Warnf(*al.oldPos, "%s is deprecated, use %s", al.old, al.key)
	}
}
