package hcldecode

import (
	"strconv"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// String decodes a string value into dst; with NumbersAsStrings, a bare
// number too, as its text.
func (d *Decoder) String(dst *string) Field {
	return func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, "a string")
		if !ok {
			return
		}
		if d.NumbersAsStrings && t.Type == token.NUMBER {
			*dst = t.Text
			return
		}
		s, ok := TokenString(t)
		if !ok {
			d.Errorf(t.Pos, "%s: want a string, got %s", KeyName(it.Keys[0]), t.Text)
			return
		}
		*dst = s
	}
}

// Int decodes a decimal number, or a string holding one as SPIRE accepts,
// into dst.
func (d *Decoder) Int(dst *int) Field {
	return func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, "a number")
		if !ok {
			return
		}
		text := t.Text
		if s, isStr := TokenString(t); isStr {
			text = s
		} else if t.Type != token.NUMBER {
			d.Errorf(t.Pos, "%s: want a number, got %s", KeyName(it.Keys[0]), t.Text)
			return
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			d.Errorf(t.Pos, "%s: want a number, got %q", KeyName(it.Keys[0]), text)
			return
		}
		*dst = n
	}
}

// Bool decodes true or false into dst.
func (d *Decoder) Bool(dst *bool) Field {
	return func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, "true or false")
		if !ok {
			return
		}
		if t.Type != token.BOOL {
			d.Errorf(t.Pos, "%s: want true or false, got %s", KeyName(it.Keys[0]), t.Text)
			return
		}
		*dst = t.Text == "true"
	}
}

// Duration decodes a non-negative Go duration string such as "1h" or "90s"
// into dst.
func (d *Decoder) Duration(dst *time.Duration) Field {
	return func(it *ast.ObjectItem) {
		key := KeyName(it.Keys[0])
		t, ok := d.Literal(it, `a duration such as "1h" or "90s"`)
		if !ok {
			return
		}
		s, isStr := TokenString(t)
		if !isStr {
			d.Errorf(t.Pos, "%s: want a duration string such as \"1h\" or \"90s\", got %s", key, t.Text)
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			d.Errorf(t.Pos, "%s: invalid duration %q (want e.g. \"1h\" or \"90s\")", key, s)
			return
		}
		*dst = v
	}
}

// StringList decodes ["a", "b"] or a single "a" (decoded as String
// decodes it) into dst.
func (d *Decoder) StringList(dst *[]string) Field {
	return func(it *ast.ObjectItem) {
		key := KeyName(it.Keys[0])
		switch v := it.Val.(type) {
		case *ast.LiteralType:
			var s string
			d.String(&s)(it)
			*dst = []string{s}
		case *ast.ListType:
			out := make([]string, 0, len(v.List))
			for _, n := range v.List {
				lit, ok := n.(*ast.LiteralType)
				s, isStr := "", false
				if ok {
					s, isStr = TokenString(lit.Token)
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
	}
}
