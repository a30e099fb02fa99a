package sdsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// Decode parses an HCL configuration file named name (used in messages)
// over Default(). Every problem is reported, each as "name:line: ...":
// unknown or duplicate keys, wrong value types. It does not Validate.
func Decode(name string, data []byte) (cfg Config, err error) {
	// The HCL v1 parser has panicked on fuzzed input; bad input must give
	// an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = Config{}, fmt.Errorf("%s: malformed configuration: %v", name, r)
		}
	}()
	cfg = Default()
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return Config{}, fmt.Errorf("%s: JSON configuration is not supported; write the file in HCL", name)
	}
	f, err := hcl.ParseBytes(data)
	if err != nil {
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("%s:%d:%d: syntax error: %w", name, pe.Pos.Line, pe.Pos.Column, pe.Err)
		}
		return Config{}, fmt.Errorf("%s: syntax error: %w", name, err)
	}
	list, ok := f.Node.(*ast.ObjectList)
	if !ok {
		return Config{}, fmt.Errorf("%s: top level is not an object", name)
	}
	d := &decoder{file: name}
	h := &cfg.HealthChecks
	d.block("configuration", list, map[string]field{
		"agent_address":                  d.str(&cfg.AgentAddress),
		"listen_address":                 d.stringList(&cfg.ListenAddresses),
		"listen_socket_mode":             d.mode(&cfg.ListenSocketMode),
		"default_svid_name":              d.str(&cfg.DefaultSVIDName),
		"default_bundle_name":            d.str(&cfg.DefaultBundleName),
		"default_all_bundles_name":       d.str(&cfg.DefaultAllBundlesName),
		"disable_spiffe_cert_validation": d.boolean(&cfg.DisableSPIFFECertValidation),
		"log_level":                      d.str(&cfg.LogLevel),
		"log_format":                     d.str(&cfg.LogFormat),
		"health_checks": func(it *ast.ObjectItem) {
			if body, ok := d.object(it); ok {
				d.block("health_checks", body, map[string]field{
					"listener_enabled": d.boolean(&h.ListenerEnabled),
					"bind_address":     d.str(&h.BindAddress),
					"bind_port":        d.integer(&h.BindPort),
					"live_path":        d.str(&h.LivePath),
					"ready_path":       d.str(&h.ReadyPath),
				})
			}
		},
	})
	if err := errors.Join(d.errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decoder walks one file's syntax tree and collects every problem, so a
// user sees all mistakes in one run.
type decoder struct {
	file string
	errs []error
}

// field decodes the value of one key.
type field func(it *ast.ObjectItem)

// errorf records a problem at pos as "file:line: message".
func (d *decoder) errorf(pos token.Pos, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s", d.file, pos.Line, fmt.Sprintf(format, args...)))
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

// block decodes the items of one block with fields; any other key is an
// error naming it.
func (d *decoder) block(what string, list *ast.ObjectList, fields map[string]field) {
	seen := map[string]bool{}
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		key, pos := keyName(it.Keys[0]), it.Keys[0].Pos()
		f, ok := fields[key]
		switch {
		case !ok:
			d.errorf(pos, "unknown key %q in %s", key, what)
		case seen[key]:
			d.errorf(pos, "duplicate key %q in %s", key, what)
		default:
			seen[key] = true
			f(it)
		}
	}
}

// object returns the body of a nested block such as `health_checks { }`.
func (d *decoder) object(it *ast.ObjectItem) (*ast.ObjectList, bool) {
	key := keyName(it.Keys[0])
	obj, ok := it.Val.(*ast.ObjectType)
	if len(it.Keys) > 1 || !ok {
		d.errorf(it.Pos(), "%s: want a block { ... }", key)
		return nil, false
	}
	return obj.List, true
}

// literal returns the single literal value of a key = value item.
func (d *decoder) literal(it *ast.ObjectItem, want string) (token.Token, bool) {
	lit, ok := it.Val.(*ast.LiteralType)
	if len(it.Keys) > 1 || !ok {
		d.errorf(it.Pos(), "%s: want %s", keyName(it.Keys[0]), want)
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
	if t.Type == token.STRING || t.Type == token.HEREDOC {
		return t.Value().(string), true
	}
	return "", false
}

// str decodes a string.
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

// integer decodes a number (or a string holding one).
func (d *decoder) integer(dst *int) field {
	return func(it *ast.ObjectItem) {
		t, ok := d.literal(it, "a number")
		if !ok {
			return
		}
		text := t.Text
		if s, isStr := tokenString(t); isStr {
			text = s
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			d.errorf(t.Pos, "%s: want a number, got %s", keyName(it.Keys[0]), t.Text)
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

// mode decodes an octal permission such as "0660" (string or number).
func (d *decoder) mode(dst *os.FileMode) field {
	return func(it *ast.ObjectItem) {
		t, ok := d.literal(it, `an octal mode such as "0660"`)
		if !ok {
			return
		}
		text := t.Text
		if s, isStr := tokenString(t); isStr {
			text = s
		}
		m, err := ParseMode(text)
		if err != nil {
			d.errorf(t.Pos, "%s: %v", keyName(it.Keys[0]), err)
			return
		}
		*dst = m
	}
}

// ParseMode parses an octal permission such as "0660" or "660".
func ParseMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n&^0o777 != 0 {
		return 0, fmt.Errorf("want an octal mode such as \"0660\", got %q", s)
	}
	return os.FileMode(n), nil
}

// stringList decodes ["a", "b"] or a single "a".
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
			d.errorf(it.Pos(), "%s: want a string or a list of strings", key)
		}
	}
}
