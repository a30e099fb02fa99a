package helperconfig

import (
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// decoder walks one file's syntax tree and collects every problem, so a user
// sees all mistakes in one run. Parsing, blocks, the value decoders and the
// sorted errors and warnings come from hcldecode.Decoder; what stays here
// is what only spiffe-helper's format has: integers with Go's base prefixes
// (file modes) and ports.
type decoder struct {
	hcldecode.Decoder
}

// newDecoder returns a decoder for the file called name. Like
// spiffe-helper's HCL decoder it takes a bare number where a string is
// wanted (hint = 123).
func newDecoder(name string) *decoder {
	return &decoder{Decoder: hcldecode.Decoder{File: name, NumbersAsStrings: true}}
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
func (d *decoder) port(dst *int) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		n, _, pos, ok := d.integer(it, "a port number")
		if !ok {
			return
		}
		if n < 0 || n > 65535 {
			d.Errorf(pos, "%s: port %d out of range 0-65535", hcldecode.KeyName(it.Keys[0]), n)
			return
		}
		*dst = int(n)
	}
}
