package helperconfig

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Validate checks the configuration as a whole: spiffe-helper's rules
// (X.509 names all or none; something to write; jwt_svids entries complete;
// pid_file_name needs renew_signal and daemon mode) plus svidkit's (valid
// modes and extras, no two outputs with one file name). It reports every
// problem at once and does not change c.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for i, j := range c.JWTSVIDs {
		if j.FileName == "" {
			add("jwt_svids[%d]: jwt_svid_file_name is required", i)
		}
		if j.Audience == "" {
			add("jwt_svids[%d]: jwt_audience is required", i)
		}
	}
	if !c.DaemonMode && c.PIDFileName != "" {
		add("pid_file_name is set but daemon_mode is false; pid_file_name is only supported in daemon mode")
	}
	if c.PIDFileName != "" && c.RenewSignal == 0 {
		add("renew_signal is required when pid_file_name is set")
	}
	if n := countSet(c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName); n != 0 && n != 3 {
		add("all or none of svid_file_name, svid_key_file_name, svid_bundle_file_name must be set")
	} else if n == 0 && len(c.JWTSVIDs) == 0 && c.JWTBundleFileName == "" {
		add("nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or jwt_svids, or jwt_bundle_file_name")
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
			add("%s: file mode %#o must be between 01 and 0777", m.key, m.mode)
		}
	}
	errs = append(errs, c.validateHealth()...)
	errs = append(errs, c.validateExtras()...)
	errs = append(errs, c.validateNames()...)
	return errors.Join(errs...)
}

// validateHealth checks the health_checks block.
func (c *Config) validateHealth() []error {
	h := c.Health
	var errs []error
	if h.BindPort < 0 || h.BindPort > 65535 {
		errs = append(errs, fmt.Errorf("health_checks.bind_port: port %d out of range 0-65535", h.BindPort))
	}
	for _, p := range []struct{ key, path string }{
		{"health_checks.liveness_path", h.LivenessPath},
		{"health_checks.readiness_path", h.ReadinessPath},
	} {
		if !strings.HasPrefix(p.path, "/") {
			errs = append(errs, fmt.Errorf("%s: path %q must start with /", p.key, p.path))
		}
	}
	if h.LivenessPath == h.ReadinessPath {
		errs = append(errs, fmt.Errorf("health_checks: liveness_path and readiness_path are both %q", h.LivenessPath))
	}
	return errs
}

// validateExtras checks svidkit's own keys.
func (c *Config) validateExtras() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ExitTimeout < 0 {
		add("exit_timeout: must not be negative, got %s", c.ExitTimeout)
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		add("%s: %q is not one of %s", key, v, strings.Join(quoteAll(allowed), ", "))
	}
	oneOf("write_mode", c.WriteMode, WriteModeAtomic, WriteModePlain)
	oneOf("key_encoding", c.KeyEncoding, KeyEncodingPKCS8, KeyEncodingPKCS1, KeyEncodingSEC1)
	oneOf("restart_policy", c.RestartPolicy, RestartNever, RestartOnFailure, RestartAlways)
	if c.RestartPolicy != RestartNever && c.Cmd == "" {
		add("restart_policy %q needs cmd", c.RestartPolicy)
	}
	if (c.PKCS12FileName == "") != (c.PKCS12PasswordFile == "") {
		add("pkcs12_file_name and pkcs12_password_file must be set together")
	}
	if c.PKCS12TrustStoreFileName != "" && c.PKCS12PasswordFile == "" {
		add("pkcs12_truststore_file_name needs pkcs12_password_file")
	}
	if !c.X509Enabled() {
		if c.CombinedFileName != "" {
			add("combined_file_name needs svid_file_name, svid_key_file_name and svid_bundle_file_name")
		}
		if c.PKCS12FileName != "" {
			add("pkcs12_file_name needs svid_file_name, svid_key_file_name and svid_bundle_file_name")
		}
		if c.PKCS12TrustStoreFileName != "" {
			add("pkcs12_truststore_file_name needs svid_file_name, svid_key_file_name and svid_bundle_file_name")
		}
	}
	if a := c.MetricsBindAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add("metrics_bind_address: want host:port, got %q", a)
		}
	}
	return errs
}

// validateNames rejects two outputs written to one file: spiffe-helper
// would let the second write clobber the first, and the atomic set writer
// cannot hold both.
func (c *Config) validateNames() []error {
	var errs []error
	seen := make(map[string]string)
	check := func(key, name string) {
		if name == "" {
			return
		}
		if prev, ok := seen[name]; ok {
			errs = append(errs, fmt.Errorf("%s and %s are both %q", prev, key, name))
			return
		}
		seen[name] = key
	}
	check("svid_file_name", c.SVIDFileName)
	check("svid_key_file_name", c.SVIDKeyFileName)
	check("svid_bundle_file_name", c.SVIDBundleFileName)
	check("jwt_bundle_file_name", c.JWTBundleFileName)
	for i, j := range c.JWTSVIDs {
		check(fmt.Sprintf("jwt_svids[%d].jwt_svid_file_name", i), j.FileName)
	}
	check("combined_file_name", c.CombinedFileName)
	check("pkcs12_file_name", c.PKCS12FileName)
	check("pkcs12_truststore_file_name", c.PKCS12TrustStoreFileName)
	return errs
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
