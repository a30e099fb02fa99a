package sdsconfig

import (
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Decode parses an HCL configuration file named name (used in messages)
// over Default(). Every problem is reported, each as "name:line: ...":
// unknown or duplicate keys, wrong value types. It does not Validate, but
// records the file's name and each key's line (Source, Lines) for
// Validate's messages.
func Decode(name string, data []byte) (Config, error) {
	cfg := Default()
	list, err := hcldecode.Parse(name, data)
	if err != nil {
		return Config{}, err
	}
	d := &decoder{Decoder: hcldecode.Decoder{File: name}}
	h := &cfg.HealthChecks
	d.Block(TopLevel, list, map[string]hcldecode.Field{
		"agent_address":                  d.String(&cfg.AgentAddress),
		"listen_address":                 d.StringList(&cfg.ListenAddresses),
		"allow_insecure_tcp":             d.Bool(&cfg.AllowInsecureTCP),
		"listen_socket_mode":             d.mode(&cfg.ListenSocketMode),
		"socket_dir_shared":              d.Bool(&cfg.SocketDirShared),
		"default_svid_name":              d.String(&cfg.DefaultSVIDName),
		"default_bundle_name":            d.String(&cfg.DefaultBundleName),
		"default_all_bundles_name":       d.String(&cfg.DefaultAllBundlesName),
		"disable_spiffe_cert_validation": d.Bool(&cfg.DisableSPIFFECertValidation),
		"log_level":                      d.String(&cfg.LogLevel),
		"log_format":                     d.String(&cfg.LogFormat),
		"health_checks": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.Block(HealthBlock, body, map[string]hcldecode.Field{
					"listener_enabled": d.Bool(&h.ListenerEnabled),
					"bind_address":     d.String(&h.BindAddress),
					"bind_port":        d.Int(&h.BindPort),
					"live_path":        d.String(&h.LivePath),
					"ready_path":       d.String(&h.ReadyPath),
				}, nil)
			}
		},
	}, nil)
	if err := d.Err(); err != nil {
		return Config{}, err
	}
	cfg.Source = name
	cfg.Lines = d.Lines()
	return cfg, nil
}

// decoder adds the one decoder only the bridge's file needs, mode, to
// hcldecode.Decoder.
type decoder struct {
	hcldecode.Decoder
}

// mode decodes an octal permission such as "0660" (string or number).
func (d *decoder) mode(dst *os.FileMode) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, `an octal mode such as "0660"`)
		if !ok {
			return
		}
		text := t.Text
		if s, isStr := hcldecode.TokenString(t); isStr {
			text = s
		}
		m, err := ParseMode(text)
		if err != nil {
			d.Errorf(t.Pos, "%s: %v", hcldecode.KeyName(it.Keys[0]), err)
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
