package helperconfig

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/svidkit/svidkit/pkg/hcldecode"
	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// Validate checks the configuration as a whole: spiffe-helper's rules
// (X.509 names all or none; something to write; jwt_svids entries complete;
// pid_file_name needs renew_signal and daemon mode) plus svidkit's (valid
// modes and extras; every output a plain file name inside cert_dir, refused
// here rather than at the first write; no two outputs with one file name).
// It reports every problem at once, one per line, each with the file and
// the line of the key it is about when Decode read it, and does not change
// c.
func (c *Config) Validate() error {
	v := &validation{c: c, p: hcldecode.Problems{File: c.Source}}
	for i, j := range c.JWTSVIDs {
		entry := fmt.Sprintf("jwt_svids[%d]", i)
		if j.FileName == "" {
			v.at(v.line(entry), "%s: jwt_svid_file_name is required", entry)
		}
		if j.Audience == "" {
			v.at(v.line(entry), "%s: jwt_audience is required", entry)
		}
	}
	if !c.DaemonMode && c.PIDFileName != "" {
		v.at(v.line("pid_file_name"), "pid_file_name is set but daemon_mode is false; pid_file_name is only supported in daemon mode")
	}
	if c.PIDFileName != "" && c.RenewSignal == 0 {
		v.at(v.line("pid_file_name"), "renew_signal is required when pid_file_name is set")
	}
	x509Keys := []string{"svid_file_name", "svid_key_file_name", "svid_bundle_file_name"}
	if n := countSet(c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName); n != 0 && n != 3 {
		v.at(c.Lines.First(TopLevel, x509Keys...), "all or none of svid_file_name, svid_key_file_name, svid_bundle_file_name must be set")
	} else if n == 0 && len(c.JWTSVIDs) == 0 && c.JWTBundleFileName == "" {
		v.at(0, "nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or jwt_svids, or jwt_bundle_file_name")
	}
	for _, m := range []struct {
		key  string
		mode uint32
	}{
		{"cert_file_mode", uint32(c.CertFileMode)},
		{"key_file_mode", uint32(c.KeyFileMode)},
		{"jwt_bundle_file_mode", uint32(c.JWTBundleFileMode)},
		{"jwt_svid_file_mode", uint32(c.JWTSVIDFileMode)},
	} {
		if m.mode == 0 || m.mode > 0o777 {
			v.at(v.line(m.key), "%s: file mode %#o must be between 01 and 0777", m.key, m.mode)
		}
	}
	v.health()
	v.extras()
	v.names()
	return v.p.Err()
}

// validation is one run of Validate.
type validation struct {
	c *Config
	p hcldecode.Problems
}

// at records a problem on line (0 for none).
func (v *validation) at(line int, format string, args ...any) { v.p.At(line, format, args...) }

// line returns the line of a top-level key, or of a nested one named
// "block.key" (health_checks.bind_port, jwt_svids[0].jwt_svid_file_name).
func (v *validation) line(key string) int {
	if block, k, nested := strings.Cut(key, "."); nested {
		return v.c.Lines.Line(block, k)
	}
	return v.c.Lines.Line(TopLevel, key)
}

// health checks the health_checks block.
func (v *validation) health() {
	h := v.c.Health
	if h.BindPort < 0 || h.BindPort > 65535 {
		v.at(v.line("health_checks.bind_port"), "health_checks.bind_port: port %d out of range 0-65535", h.BindPort)
	}
	for _, p := range []struct{ key, path string }{
		{"health_checks.liveness_path", h.LivenessPath},
		{"health_checks.readiness_path", h.ReadinessPath},
	} {
		if !strings.HasPrefix(p.path, "/") {
			v.at(v.line(p.key), "%s: path %q must start with /", p.key, p.path)
		}
	}
	if h.LivenessPath == h.ReadinessPath {
		v.at(v.line("health_checks.readiness_path"), "health_checks: liveness_path and readiness_path are both %q", h.LivenessPath)
	}
}

// extras checks svidkit's own keys.
func (v *validation) extras() {
	c := v.c
	if c.ExitTimeout < 0 {
		v.at(v.line("exit_timeout"), "exit_timeout: must not be negative, got %s", c.ExitTimeout)
	}
	oneOf := func(key, val string, allowed ...string) {
		if !slices.Contains(allowed, val) {
			v.at(v.line(key), "%s: %q is not one of %s", key, val, strings.Join(quoteAll(allowed), ", "))
		}
	}
	oneOf("write_mode", c.WriteMode, WriteModeAtomic, WriteModePlain)
	oneOf("key_encoding", c.KeyEncoding, KeyEncodingPKCS8, KeyEncodingPKCS1, KeyEncodingSEC1)
	oneOf("restart_policy", c.RestartPolicy, RestartNever, RestartOnFailure, RestartAlways)
	if c.RestartPolicy != RestartNever && c.Cmd == "" {
		v.at(v.line("restart_policy"), "restart_policy %q needs cmd", c.RestartPolicy)
	}
	if (c.PKCS12FileName == "") != (c.PKCS12PasswordFile == "") {
		v.at(c.Lines.First(TopLevel, "pkcs12_file_name", "pkcs12_password_file"), "pkcs12_file_name and pkcs12_password_file must be set together")
	}
	if c.PKCS12TrustStoreFileName != "" && c.PKCS12PasswordFile == "" {
		v.at(v.line("pkcs12_truststore_file_name"), "pkcs12_truststore_file_name needs pkcs12_password_file")
	}
	if !c.X509Enabled() {
		for _, o := range []struct{ key, val string }{
			{"combined_file_name", c.CombinedFileName},
			{"pkcs12_file_name", c.PKCS12FileName},
			{"pkcs12_truststore_file_name", c.PKCS12TrustStoreFileName},
			{"bundle_dir", c.BundleDir},
		} {
			if o.val != "" {
				v.at(v.line(o.key), "%s needs svid_file_name, svid_key_file_name and svid_bundle_file_name", o.key)
			}
		}
	}
	if a := c.MetricsBindAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.at(v.line("metrics_bind_address"), "metrics_bind_address: want host:port, got %q", a)
		}
	}
}

// names checks every output's file name: a plain name inside cert_dir
// (svidfile.CheckName, the writer's own rule), and no two outputs with one
// name (spiffe-helper would let the second write clobber the first, and
// the atomic set writer cannot hold both). pid_file_name and
// pkcs12_password_file are paths, not outputs, and are not checked here.
func (v *validation) names() {
	c := v.c
	type output struct{ key, name string }
	outs := []output{
		{"svid_file_name", c.SVIDFileName},
		{"svid_key_file_name", c.SVIDKeyFileName},
		{"svid_bundle_file_name", c.SVIDBundleFileName},
		{"jwt_bundle_file_name", c.JWTBundleFileName},
	}
	for i, j := range c.JWTSVIDs {
		outs = append(outs, output{fmt.Sprintf("jwt_svids[%d].jwt_svid_file_name", i), j.FileName})
	}
	outs = append(outs,
		output{"combined_file_name", c.CombinedFileName},
		output{"pkcs12_file_name", c.PKCS12FileName},
		output{"pkcs12_truststore_file_name", c.PKCS12TrustStoreFileName},
		// A directory inside cert_dir, under the same rule as the files.
		output{"bundle_dir", c.BundleDir},
	)
	seen := make(map[string]string)
	for _, o := range outs {
		if o.name == "" {
			continue // unset; the rules above say which are required
		}
		if err := svidfile.CheckName(o.name); err != nil {
			v.at(v.line(o.key), "%s: invalid file name %q: %v; want a plain file name inside cert_dir", o.key, o.name, err)
			continue
		}
		prev, ok := seen[o.name]
		if !ok {
			seen[o.name] = o.key
			continue
		}
		if n := v.line(prev); n != 0 {
			prev = fmt.Sprintf("%s (line %d)", prev, n)
		}
		v.at(v.line(o.key), "%s and %s are both %q", prev, o.key, o.name)
	}
}

func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
