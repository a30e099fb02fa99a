package helperconfig

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// decoder walks one file's syntax tree and collects every problem, so a user
// sees all mistakes in one run.
type decoder struct {
	file     string
	errs     []error
	warnings []warning
}

// warning is a non-fatal note; line 0 means no position.
type warning struct {
	line int
	msg  string
}

// field decodes the value of one key.
type field struct {
	decode     func(it *ast.ObjectItem)
	repeatable bool // may appear more than once (jwt_svids blocks)
}

func (d *decoder) errorf(pos token.Pos, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s", d.file, pos.Line, fmt.Sprintf(format, args...)))
}

func (d *decoder) warnf(pos token.Pos, format string, args ...any) {
	msg := fmt.Sprintf("%s:%d: %s", d.file, pos.Line, fmt.Sprintf(format, args...))
	if pos.Line == 0 {
		msg = fmt.Sprintf("%s: %s", d.file, fmt.Sprintf(format, args...))
	}
	d.warnings = append(d.warnings, warning{line: pos.Line, msg: msg})
}

// sortedWarnings returns the warnings in file order, unpositioned ones last.
func (d *decoder) sortedWarnings() []string {
	ws := slices.Clone(d.warnings)
	slices.SortStableFunc(ws, func(a, b warning) int {
		switch {
		case a.line == b.line:
			return 0
		case a.line == 0:
			return 1
		case b.line == 0:
			return -1
		}
		return a.line - b.line
	})
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.msg
	}
	return out
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// parseHCL parses data to its top-level object list; errors carry the file
// name and position.
func parseHCL(name string, data []byte) (list *ast.ObjectList, err error) {
	// The HCL v1 parser has panicked on fuzzed input; bad input must give
	// an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			list, err = nil, fmt.Errorf("%s: malformed configuration: %v", name, r)
		}
	}()
	// HCL v1 drops positions when it reads JSON, so JSON files could not
	// get file:line errors; refuse them plainly.
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return nil, fmt.Errorf("%s: JSON configuration is not supported; write the file in HCL", name)
	}
	f, err := hcl.ParseBytes(data)
	if err != nil {
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d:%d: syntax error: %w", name, pe.Pos.Line, pe.Pos.Column, pe.Err)
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

// block decodes the items of one object (what names it in messages) with
// the given fields; any other key is reported as unknown.
func (d *decoder) block(what string, list *ast.ObjectList, fields map[string]field) {
	seen := make(map[string]bool)
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		key := keyName(it.Keys[0])
		pos := it.Keys[0].Pos()
		f, ok := fields[key]
		switch {
		case !ok:
			d.errorf(pos, "unknown key %q in %s", key, what)
		case seen[key] && !f.repeatable:
			d.errorf(pos, "duplicate key %q in %s", key, what)
		default:
			seen[key] = true
			f.decode(it)
		}
	}
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
		v, isStr := t.Value().(string)
		return v, isStr
	}
	return "", false
}

// str decodes a string. Like spiffe-helper's HCL decoder it also takes a
// bare number as its text (hint = 123).
func (d *decoder) str(dst *string) field {
	return field{decode: func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "a string")
		if !ok {
			return
		}
		if t.Type == token.NUMBER {
			*dst = t.Text
			return
		}
		s, ok := tokenString(t)
		if !ok {
			d.errorf(t.Pos, "%s: want a string, got %s", keyName(it.Keys[0]), t.Text)
			return
		}
		*dst = s
	}}
}

// integer decodes a number, or a string holding one, with Go's base prefix
// rules (0644 octal, 0x1a4 hex, else decimal) as spiffe-helper's HCL
// decoder does. It reports the raw text too.
func (d *decoder) integer(it *ast.ObjectItem, want string) (n int64, text string, pos token.Pos, ok bool) {
	key := keyName(it.Keys[0])
	t, ok := d.literal(it, want)
	if !ok {
		return 0, "", it.Pos(), false
	}
	text = t.Text
	if s, isStr := tokenString(t); isStr {
		text = s
	} else if t.Type != token.NUMBER {
		d.errorf(t.Pos, "%s: want %s, got %s", key, want, t.Text)
		return 0, "", t.Pos, false
	}
	n, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		d.errorf(t.Pos, "%s: want %s, got %q", key, want, text)
		return 0, "", t.Pos, false
	}
	return n, text, t.Pos, true
}

// port decodes a TCP port number.
func (d *decoder) port(dst *int) field {
	return field{decode: func(it *ast.ObjectItem) {
		n, _, pos, ok := d.integer(it, "a port number")
		if !ok {
			return
		}
		if n < 0 || n > 65535 {
			d.errorf(pos, "%s: port %d out of range 0-65535", keyName(it.Keys[0]), n)
			return
		}
		*dst = int(n)
	}}
}

// boolean decodes true or false.
func (d *decoder) boolean(dst *bool) field {
	return field{decode: func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "true or false")
		if !ok {
			return
		}
		if t.Type != token.BOOL {
			d.errorf(t.Pos, "%s: want true or false, got %s", keyName(it.Keys[0]), t.Text)
			return
		}
		*dst = t.Text == "true"
	}}
}

// duration decodes a Go duration string such as "30s" or "5m".
func (d *decoder) duration(dst *time.Duration) field {
	return field{decode: func(it *ast.ObjectItem) {
		key := keyName(it.Keys[0])
		t, ok := d.literal(it, `a duration such as "30s"`)
		if !ok {
			return
		}
		s, isStr := tokenString(t)
		if !isStr {
			d.errorf(t.Pos, "%s: want a duration string such as \"30s\", got %s", key, t.Text)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			d.errorf(t.Pos, "%s: invalid duration %q (want e.g. \"30s\" or \"5m\")", key, s)
			return
		}
		*dst = v
	}}
}

// stringList decodes ["a", "b"] or a single "a".
func (d *decoder) stringList(dst *[]string) field {
	return field{decode: func(it *ast.ObjectItem) {
		key := keyName(it.Keys[0])
		switch v := it.Val.(type) {
		case *ast.LiteralType:
			var s string
			d.str(&s).decode(it)
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
	}}
}

// object returns the body of `key { ... }` or `key = { ... }`.
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
