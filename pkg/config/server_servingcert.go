package config

import (
	"time"

	"github.com/hashicorp/hcl/hcl/ast"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// ServingCertFile is a serving_cert_file { cert_file_path key_file_path
// file_sync_interval } block, as SPIRE writes it for the bundle endpoint's
// https_web profile and for the OIDC discovery provider: a PEM certificate
// and key, re-read every FileSyncInterval (pkg/server/servingcert).
type ServingCertFile struct {
	CertFilePath string
	KeyFilePath  string
	// FileSyncInterval is how often the files are checked for a change;
	// its default depends on the block (DefaultFileSyncInterval for the
	// bundle endpoint, DefaultOIDCFileSyncInterval for OIDC discovery).
	FileSyncInterval time.Duration
}

// servingCertFile decodes a serving_cert_file block at it. what names the
// block in errors ("serving_cert_file block of oidc_discovery"); prefix
// starts the missing-key errors; extra adds keys the block refuses with a
// reason. A zero or absent file_sync_interval means def, as in SPIRE.
func (d *decoder) servingCertFile(it *ast.ObjectItem, what, prefix string, def time.Duration, extra map[string]hcldecode.Field) (*ServingCertFile, bool) {
	body, ok := d.Object(it)
	if !ok {
		return nil, false
	}
	sc := &ServingCertFile{FileSyncInterval: def}
	fields := map[string]hcldecode.Field{
		"cert_file_path":     d.String(&sc.CertFilePath),
		"key_file_path":      d.String(&sc.KeyFilePath),
		"file_sync_interval": d.Duration(&sc.FileSyncInterval),
	}
	for k, f := range extra {
		fields[k] = f
	}
	d.Block(what, body, fields, nil)
	if sc.CertFilePath == "" {
		d.Errorf(it.Pos(), `%sserving_cert_file: missing required key "cert_file_path"`, prefix)
	}
	if sc.KeyFilePath == "" {
		d.Errorf(it.Pos(), `%sserving_cert_file: missing required key "key_file_path"`, prefix)
	}
	if sc.FileSyncInterval == 0 {
		sc.FileSyncInterval = def
	}
	return sc, true
}
