// Package hcldecode holds the position-aware HCL v1 decoding helpers shared
// by svidkit's configuration packages. A Decoder walks one file's syntax
// tree and collects every problem as "file:line: message", so a user sees
// all mistakes in one run instead of fixing them one at a time.
package hcldecode

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// Decoder collects the errors and warnings found while decoding one file.
// The zero value is usable; set File to the name used in messages.
type Decoder struct {
	// File is the file name prefixed to every message.
	File string
	// NumbersAsStrings makes String (and a single value of StringList)
	// take a bare number as its text (hint = 123), as HCL's own decoder
	// does for a string field. spiffe-helper's files rely on it; SPIRE's
	// server and agent files are decoded without it.
	NumbersAsStrings bool

	errs     Problems
	warnings Problems
	lines    Lines
}

// Field decodes the value of one key of a block.
type Field func(it *ast.ObjectItem)

// Errorf records a problem at pos, reported as "file:line: message".
func (d *Decoder) Errorf(pos token.Pos, format string, args ...any) {
	d.errs.At(pos.Line, format, args...)
}

// Warnf records a non-fatal note at pos, reported as "file:line: message",
// or as "file: message" when pos has no line (a note about the whole file).
func (d *Decoder) Warnf(pos token.Pos, format string, args ...any) {
	d.warnings.At(pos.Line, format, args...)
}

// Err returns every recorded problem, one per line in file order, or nil.
func (d *Decoder) Err() error {
	d.errs.File = d.File
	return d.errs.Err()
}

// Warnings returns the warnings recorded with Warnf in file order, those
// without a line last, as Err orders errors; nil when there are none.
func (d *Decoder) Warnings() []string {
	d.warnings.File = d.File
	return d.warnings.Messages()
}

// Record notes that key was given in block at pos; Block records every key
// it decodes.
func (d *Decoder) Record(block, key string, pos token.Pos) { d.lines.set(block, key, pos.Line) }

// Lines returns the lines of the keys recorded so far.
func (d *Decoder) Lines() Lines { return d.lines }

// Parse parses the HCL data of the file called name to its top-level object
// list. Errors carry the file name and, where known, the position. JSON
// input is refused, and a panic in the HCL parser becomes an error.
func Parse(name string, data []byte) (list *ast.ObjectList, err error) {
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

// KeyName returns the unquoted text of an object key.
func KeyName(k *ast.ObjectKey) string {
	if k.Token.Type == token.STRING {
		if s, err := strconv.Unquote(k.Token.Text); err == nil {
			return s
		}
	}
	return k.Token.Text
}

// TokenString returns the value of a string or heredoc token; ok is false
// for any other token or one whose value cannot be read.
func TokenString(t token.Token) (s string, ok bool) {
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

// Block decodes the items of one block (named in messages by what, e.g.
// "server block") with the given fields. A key given twice is reported as
// duplicate; a key in unsupported (which may be nil) is reported as a SPIRE
// setting svidkit does not support yet; any other key is reported as
// unknown.
func (d *Decoder) Block(what string, list *ast.ObjectList, fields map[string]Field, unsupported map[string]bool) {
	d.block(what, list, fields, unsupported, nil)
}

// BlockRepeat is Block for a block in which the keys named in repeatable
// may be given more than once (HCL's repeated blocks, such as two
// jwt_svids { ... }); their field decodes each occurrence in file order.
func (d *Decoder) BlockRepeat(what string, list *ast.ObjectList, fields map[string]Field, repeatable ...string) {
	d.block(what, list, fields, nil, repeatable)
}

func (d *Decoder) block(what string, list *ast.ObjectList, fields map[string]Field, unsupported map[string]bool, repeatable []string) {
	seen := make(map[string]bool)
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		key := KeyName(it.Keys[0])
		pos := it.Keys[0].Pos()
		f, ok := fields[key]
		switch {
		case ok && seen[key] && !slices.Contains(repeatable, key):
			d.Errorf(pos, "duplicate key %q in %s", key, what)
		case ok:
			seen[key] = true
			d.Record(what, key, pos)
			f(it)
		case unsupported[key]:
			d.Errorf(pos, "key %q in %s is a SPIRE setting svidkit does not support yet", key, what)
		default:
			d.Errorf(pos, "unknown key %q in %s", key, what)
		}
	}
}

// Object returns the body of a nested block such as `server { ... }`,
// reporting a label or a non-block value.
func (d *Decoder) Object(it *ast.ObjectItem) (*ast.ObjectList, bool) {
	key := KeyName(it.Keys[0])
	if len(it.Keys) > 1 {
		d.Errorf(it.Pos(), "%s: unexpected label %q", key, KeyName(it.Keys[1]))
		return nil, false
	}
	obj, ok := it.Val.(*ast.ObjectType)
	if !ok {
		d.Errorf(it.Pos(), "%s: want a block { ... }", key)
		return nil, false
	}
	return obj.List, true
}

// Literal returns the single literal value of a key = value item, reporting
// "key: want <want>" otherwise.
func (d *Decoder) Literal(it *ast.ObjectItem, want string) (token.Token, bool) {
	key := KeyName(it.Keys[0])
	lit, ok := it.Val.(*ast.LiteralType)
	if len(it.Keys) > 1 || !ok {
		d.Errorf(it.Pos(), "%s: want %s", key, want)
		return token.Token{}, false
	}
	return lit.Token, true
}
