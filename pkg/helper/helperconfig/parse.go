package helperconfig

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Load reads, decodes and validates the configuration file at path. The
// warnings (deprecated keys, suspicious values) are for the log.
func Load(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read helper configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is used in messages.
func Parse(name string, data []byte) (*Config, []string, error) {
	c, warnings, err := Decode(name, data)
	if err != nil {
		return nil, warnings, err
	}
	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

// Decode decodes a configuration without the final Validate, so a command
// line can apply overrides (-daemon-mode, -timeout) first and validate
// after. Syntax errors, unknown keys and malformed values are reported with
// file:line, all of them at once.
func Decode(name string, data []byte) (*Config, []string, error) {
	top, err := hcldecode.Parse(name, data)
	if err != nil {
		return nil, nil, err
	}
	d := newDecoder(name)
	c := New()
	c.Source = name
	var (
		cmdArgs    string
		cmdArgsPos token.Pos
		haveArgs   bool
		signal     string
		signalPos  token.Pos
		exitReady  bool
		exitPos    token.Pos
		daemonSet  bool
		cmdPos     token.Pos
	)
	aliases := newAliases(d)
	fields := map[string]hcldecode.Field{
		"agent_address": aliases.str("agent_address", "agentAddress", &c.AgentAddress),
		"cmd": func(it *ast.ObjectItem) {
			cmdPos = it.Pos()
			d.String(&c.Cmd)(it)
		},
		"cmd_args": aliases.str("cmd_args", "cmdArgs", &cmdArgs, func(it *ast.ObjectItem) {
			haveArgs, cmdArgsPos = true, it.Pos()
		}),
		"pid_file_name": d.String(&c.PIDFileName),
		"cert_dir":      aliases.str("cert_dir", "certDir", &c.CertDir),
		"daemon_mode": func(it *ast.ObjectItem) {
			daemonSet = true
			d.Bool(&c.DaemonMode)(it)
		},
		"add_intermediates_to_bundle": aliases.boolean("add_intermediates_to_bundle", "addIntermediatesToBundle", &c.AddIntermediatesToBundle),
		"renew_signal": aliases.str("renew_signal", "renewSignal", &signal, func(it *ast.ObjectItem) {
			signalPos = it.Pos()
		}),
		"svid_file_name":            aliases.str("svid_file_name", "svidFileName", &c.SVIDFileName),
		"svid_key_file_name":        aliases.str("svid_key_file_name", "svidKeyFileName", &c.SVIDKeyFileName),
		"svid_bundle_file_name":     aliases.str("svid_bundle_file_name", "svidBundleFileName", &c.SVIDBundleFileName),
		"jwt_svids":                 d.jwtSVIDs(&c.JWTSVIDs),
		"jwt_bundle_file_name":      d.String(&c.JWTBundleFileName),
		"include_federated_domains": d.Bool(&c.IncludeFederatedDomains),
		"cert_file_mode":            d.fileMode(&c.CertFileMode),
		"key_file_mode":             d.fileMode(&c.KeyFileMode),
		"jwt_bundle_file_mode":      d.fileMode(&c.JWTBundleFileMode),
		"jwt_svid_file_mode":        d.fileMode(&c.JWTSVIDFileMode),
		"hint":                      d.String(&c.Hint),
		"omit_expired":              d.Bool(&c.OmitExpired),
		"health_checks":             d.health(&c.Health),
		"exit_when_ready": func(it *ast.ObjectItem) {
			exitPos = it.Pos()
			d.Bool(&exitReady)(it)
			d.Warnf(exitPos, "exit_when_ready is deprecated; use daemon_mode = false")
		},

		// svidkit extras.
		"exit_timeout":                d.Duration(&c.ExitTimeout),
		"write_mode":                  d.String(&c.WriteMode),
		"key_encoding":                d.String(&c.KeyEncoding),
		"combined_file_name":          d.String(&c.CombinedFileName),
		"pkcs12_file_name":            d.String(&c.PKCS12FileName),
		"pkcs12_password_file":        d.String(&c.PKCS12PasswordFile),
		"pkcs12_truststore_file_name": d.String(&c.PKCS12TrustStoreFileName),
		"restart_policy":              d.String(&c.RestartPolicy),
		"metrics_bind_address":        d.String(&c.MetricsBindAddress),
		"bundle_dir":                  d.String(&c.BundleDir),
	}
	d.safetyFields(fields, &c.Safety)
	for _, a := range aliases.list {
		fields[a.old] = a.field
	}
	d.BlockRepeat(TopLevel, top, fields, "jwt_svids")
	aliases.check()

	if haveArgs {
		args, err := SplitArgs(cmdArgs)
		if err != nil {
			d.Errorf(cmdArgsPos, "cmd_args: %v", err)
		} else {
			c.CmdArgs = args
			if extraLines(cmdArgs) {
				d.Warnf(cmdArgsPos, "cmd_args: only the first line is used, as in spiffe-helper")
			}
		}
		if c.Cmd == "" && cmdArgs != "" {
			d.Warnf(cmdArgsPos, "cmd_args is set but cmd is not; cmd_args is ignored")
		}
	}
	if signal != "" {
		sig, name, err := ParseSignal(signal)
		if err != nil {
			d.Errorf(signalPos, "renew_signal: %v", err)
		} else {
			c.RenewSignal, c.RenewSignalName = sig, name
		}
	}
	if exitReady {
		if daemonSet && c.DaemonMode {
			d.Errorf(exitPos, "exit_when_ready = true contradicts daemon_mode = true")
		}
		c.DaemonMode = false
	}
	if !c.DaemonMode {
		if c.Cmd != "" {
			d.Warnf(cmdPos, "cmd is set but daemon_mode is false; cmd is ignored")
		}
		if signal != "" {
			d.Warnf(signalPos, "renew_signal is set but daemon_mode is false; renew_signal is ignored")
		}
	}
	if m := c.KeyFileMode; m&0o007 != 0 {
		d.Warnf(token.Pos{}, "key_file_mode %#o gives every user access to the private key", m)
	}
	if err := d.Err(); err != nil {
		return nil, d.Warnings(), err
	}
	c.Lines = d.Lines()
	return c, d.Warnings(), nil
}
