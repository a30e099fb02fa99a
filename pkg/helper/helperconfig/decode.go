package helperconfig

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// decoder walks one file's syntax tree and collects every problem, so a user
// sees all mistakes in one run.
//
// Errors, parsing and the generic helpers come from hcldecode.Decoder; the
// warnings are kept here because helperconfig also records unpositioned ones
// and returns them sorted by line.
type decoder struct {
	hcldecode.Decoder
	warnings []warning // use warnf, not the embedded Warnf
}

// warning is a non-fatal note; line 0 means no position.
type warning struct {
	line int
	msg  string
}

// field decodes the value of one key. Unlike hcldecode.Field it can be
// marked repeatable, which block honours.
type field struct {
	decode     func(it *ast.ObjectItem)
	repeatable bool // may appear more than once (jwt_svids blocks)
}

// warnf records a non-fatal note at pos as "file:line: message", or as
// "file: message" when pos has no line.
func (d *decoder) warnf(pos token.Pos, format string, args ...any) {
	msg := fmt.Sprintf("%s:%d: %s", d.File, pos.Line, fmt.Sprintf(format, args...))
	if pos.Line == 0 {
		msg = fmt.Sprintf("%s: %s", d.File, fmt.Sprintf(format, args...))
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

// block decodes the items of one object (what names it in messages) with
// the given fields; any other key is reported as unknown.
func (d *decoder) block(what string, list *ast.ObjectList, fields map[string]field) {
	seen := make(map[string]bool)
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		key := hcldecode.KeyName(it.Keys[0])
		pos := it.Keys[0].Pos()
		f, ok := fields[key]
		switch {
		case !ok:
			d.Errorf(pos, "unknown key %q in %s", key, what)
		case seen[key] && !f.repeatable:
			d.Errorf(pos, "duplicate key %q in %s", key, what)
		default:
			seen[key] = true
			d.Record(what, key, pos)
			f.decode(it)
		}
	}
}

// str decodes a string. Like spiffe-helper's HCL decoder it also takes a
// bare number as its text (hint = 123).
func (d *decoder) str(dst *string) field {
	return field{decode: func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, "a string")
		if !ok {
			return
		}
		if t.Type == token.NUMBER {
			*dst = t.Text
			return
		}
		s, ok := hcldecode.TokenString(t)
		if !ok {
			d.Errorf(t.Pos, "%s: want a string, got %s", hcldecode.KeyName(it.Keys[0]), t.Text)
			return
		}
		*dst = s
	}}
}

// boolean decodes true or false.
func (d *decoder) boolean(dst *bool) field {
	return field{decode: d.Bool(dst)}
}

// integer decodes a number, or a string holding one, with Go's base prefix
// rules (0644 octal, 0x1a4 hex, else decimal) as spiffe-helper's HCL
// decoder does. It reports the raw text too.
func (d *decoder) integer(it *ast.ObjectItem, want string) (n int64, text string, pos token.Pos, ok bool) {
	key := hcldecode.KeyName(it.Keys[0])
	t, ok := d.Literal(it, want)
	if !ok {
		return 0, "", it.Pos(), false
	}
	text = t.Text
	if s, isStr := hcldecode.TokenString(t); isStr {
		text = s
	} else if t.Type != token.NUMBER {
		d.Errorf(t.Pos, "%s: want %s, got %s", key, want, t.Text)
		return 0, "", t.Pos, false
	}
	n, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		d.Errorf(t.Pos, "%s: want %s, got %q", key, want, text)
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
			d.Errorf(pos, "%s: port %d out of range 0-65535", hcldecode.KeyName(it.Keys[0]), n)
			return
		}
		*dst = int(n)
	}}
}

// duration decodes a Go duration string such as "30s" or "5m".
func (d *decoder) duration(dst *time.Duration) field {
	return field{decode: func(it *ast.ObjectItem) {
		key := hcldecode.KeyName(it.Keys[0])
		t, ok := d.Literal(it, `a duration such as "30s"`)
		if !ok {
			return
		}
		s, isStr := hcldecode.TokenString(t)
		if !isStr {
			d.Errorf(t.Pos, "%s: want a duration string such as \"30s\", got %s", key, t.Text)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			d.Errorf(t.Pos, "%s: invalid duration %q (want e.g. \"30s\" or \"5m\")", key, s)
			return
		}
		*dst = v
	}}
}

// stringList decodes ["a", "b"] or a single "a".
func (d *decoder) stringList(dst *[]string) field {
	return field{decode: func(it *ast.ObjectItem) {
		key := hcldecode.KeyName(it.Keys[0])
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
					s, isStr = hcldecode.TokenString(lit.Token)
				}
				if !isStr {
					d.Errorf(n.Pos(), "%s: want a list of strings", key)
					return
				}
				out = append(out, s)
			}
			*dst = out
		default:
			d.Errorf(it.Pos(), "%s: want a list of strings", key)
		}
	}}
}
