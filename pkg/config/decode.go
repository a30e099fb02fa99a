package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// decoder walks one file's syntax tree and collects every problem found, so a
// user sees all mistakes in one run instead of fixing them one at a time.
type decoder struct {
	file     string
	errs     []error
	warnings []string
}

// field decodes the value of one key of a block.
type field func(it *ast.ObjectItem)

// errorf records a problem at pos as "file:line: message".
func (d *decoder) errorf(pos token.Pos, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s", d.file, pos.Line, fmt.Sprintf(format, args...)))
}

// warnf records a non-fatal note at pos as "file:line: message".
func (d *decoder) warnf(pos token.Pos, format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: %s", d.file, pos.Line, fmt.Sprintf(format, args...)))
}

// err returns every recorded problem joined, or nil.
func (d *decoder) err() error { return errors.Join(d.errs...) }

// parseHCL parses data (HCL or JSON) to its top-level object list. Parse
// errors carry the file name and position.
func parseHCL(name string, data []byte) (list *ast.ObjectList, err error) {
	// The HCL v1 parser is old and has panicked on fuzzed input; bad input
	// must produce an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			list, err = nil, fmt.Errorf("%s: malformed configuration: %v", name, r)
		}
	}()
	// HCL v1 flattens JSON objects into multi-key items and drops their
	// positions, so JSON files cannot get the same checks; refuse them
	// plainly instead of half-supporting them.
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return nil, fmt.Errorf("%s: JSON configuration is not supported; write the file in HCL", name)
	}
	f, err := hcl.ParseBytes(data)
	if err != nil {
		var hp *hclparser.PosError
		switch {
		case errors.As(err, &hp):
			return nil, fmt.Errorf("%s:%d:%d: syntax error: %w", name, hp.Pos.Line, hp.Pos.Column, hp.Err)
		}
		return nil, fmt.Errorf("%s: syntax error: %w", name, err)
	}
	list, ok := f.Node.(*ast.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s: top level is not an object", name)
	}
	return list, nil
}

// keyName returns the unquoted text of an object key.
func keyName(k *ast.ObjectKey) string {
	if k.Token.Type == token.STRING {
		if s, err := strconv.Unquote(k.Token.Text); err == nil {
			return s
		}
	}
	return k.Token.Text
}

// block decodes the items of one block (named in messages by what, e.g.
// "server block") with the given fields. Keys SPIRE has but svidkit does not
// are reported as such; any other key is reported as unknown.
func (d *decoder) block(what string, list *ast.ObjectList, fields map[string]field, unsupported map[string]bool) {
	seen := make(map[string]bool)
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		key := keyName(it.Keys[0])
		pos := it.Keys[0].Pos()
		f, ok := fields[key]
		switch {
		case ok && seen[key]:
			d.errorf(pos, "duplicate key %q in %s", key, what)
			continue
		case ok:
			seen[key] = true
			f(it)
		case unsupported[key]:
			d.errorf(pos, "key %q in %s is a SPIRE setting svidkit does not support yet", key, what)
		default:
			d.errorf(pos, "unknown key %q in %s", key, what)
		}
	}
}

// object returns the body of a nested block such as `server { ... }`.
func (d *decoder) object(it *ast.ObjectItem) (*ast.ObjectList, bool) {
	key := keyName(it.Keys[0])
	if len(it.Keys) > 1 {
		d.errorf(it.Pos(), "%s: unexpected label %q", key, keyName(it.Keys[1]))
		return nil, false
	}
	obj, ok := it.Val.(*ast.ObjectType)
	if !ok {
		d.errorf(it.Pos(), "%s: want a block { ... }", key)
		return nil, false
	}
	return obj.List, true
}

// literal returns the single literal value of a key = value item.
func (d *decoder) literal(it *ast.ObjectItem, want string) (token.Token, bool) {
	key := keyName(it.Keys[0])
	lit, ok := it.Val.(*ast.LiteralType)
	if len(it.Keys) > 1 || !ok {
		d.errorf(it.Pos(), "%s: want %s", key, want)
		return token.Token{}, false
	}
	return lit.Token, true
}

// tokenString returns the value of a string token.
func tokenString(t token.Token) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	switch t.Type {
	case token.STRING, token.HEREDOC:
		return t.Value().(string), true
	}
	return "", false
}

// str decodes a string value into dst.
func (d *decoder) str(dst *string) field {
	return func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "a string")
		if !ok {
			return
		}
		s, ok := tokenString(t)
		if !ok {
			d.errorf(t.Pos, "%s: want a string, got %s", keyName(it.Keys[0]), t.Text)
			return
		}
		*dst = s
	}
}

// integer decodes a number (or a string holding one, as SPIRE accepts).
func (d *decoder) integer(dst *int) field {
	return func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "a number")
		if !ok {
			return
		}
		text := t.Text
		if s, isStr := tokenString(t); isStr {
			text = s
		} else if t.Type != token.NUMBER {
			d.errorf(t.Pos, "%s: want a number, got %s", keyName(it.Keys[0]), t.Text)
			return
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			d.errorf(t.Pos, "%s: want a number, got %q", keyName(it.Keys[0]), text)
			return
		}
		*dst = n
	}
}

// boolean decodes true or false.
func (d *decoder) boolean(dst *bool) field {
	return func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "true or false")
		if !ok {
			return
		}
		if t.Type != token.BOOL {
			d.errorf(t.Pos, "%s: want true or false, got %s", keyName(it.Keys[0]), t.Text)
			return
		}
		*dst = t.Text == "true"
	}
}

// duration decodes a Go duration string such as "1h" or "90s".
func (d *decoder) duration(dst *time.Duration) field {
	return func(it *ast.ObjectItem) {
		key := keyName(it.Keys[0])
		t, ok := d.literal(it, `a duration such as "1h" or "90s"`)
		if !ok {
			return
		}
		s, isStr := tokenString(t)
		if !isStr {
			d.errorf(t.Pos, "%s: want a duration string such as \"1h\" or \"90s\", got %s", key, t.Text)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			d.errorf(t.Pos, "%s: invalid duration %q (want e.g. \"1h\" or \"90s\")", key, s)
			return
		}
		*dst = v
	}
}

// stringList decodes ["a", "b"] or a single "a" into dst.
func (d *decoder) stringList(dst *[]string) field {
	return func(it *ast.ObjectItem) {
		key := keyName(it.Keys[0])
		switch v := it.Val.(type) {
		case *ast.LiteralType:
			var s string
			d.str(&s)(it)
			*dst = []string{s}
		case *ast.ListType:
			out := make([]string, 0, len(v.List))
			for _, n := range v.List {
				lit, ok := n.(*ast.LiteralType)
				s, isStr := "", false
				if ok {
					s, isStr = tokenString(lit.Token)
				}
				if !isStr {
					d.errorf(n.Pos(), "%s: want a list of strings", key)
					return
				}
				out = append(out, s)
			}
			*dst = out
		default:
			d.errorf(it.Pos(), "%s: want a list of strings", key)
		}
	}
}
