package k8s_test

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// helperConfName matches the ConfigMap keys holding svidkit-helper (or
// spiffe-helper) configurations.
var helperConfName = regexp.MustCompile(`^(.+-)?helper(-.+)?\.conf$`)

// parseEmbedded loads one ConfigMap entry with the loader its name calls
// for; ok is false for entries that are not configuration files. Loaders
// are the ones that take bytes (ParseServer, ParseAgent,
// helperconfig.Parse), so paths in the files need not exist here.
func parseEmbedded(name, key, content string) (warnings []string, ok bool, err error) {
	switch {
	case key == "server.conf":
		_, warnings, err = config.ParseServer(name, []byte(content))
	case key == "agent.conf":
		_, warnings, err = config.ParseAgent(name, []byte(content))
	case helperConfName.MatchString(key):
		_, warnings, err = helperconfig.Parse(name, []byte(content))
	case key == "pg_hba.conf":
		err = checkHBA(content)
	case strings.HasSuffix(key, ".conf"):
		err = fmt.Errorf("%s: no loader for %q: name it server.conf, agent.conf or helper*.conf, or teach this test", name, key)
	default:
		return nil, false, nil
	}
	return warnings, true, err
}

func TestEmbeddedConfigsParse(t *testing.T) {
	s := loadManifests(t)
	found := map[string]int{}
	for _, cm := range all[*corev1.ConfigMap](s) {
		for _, key := range slices.Sorted(maps.Keys(cm.v.Data)) {
			name := fmt.Sprintf("%s[%s %s]", cm.file, cm.id(), key)
			warnings, ok, err := parseEmbedded(name, key, cm.v.Data[key])
			if !ok {
				continue // not a configuration file (bundle.crt, a script)
			}
			found[kindOfConf(key)]++
			t.Run(cm.file+"/"+cm.meta.GetName()+"/"+key, func(t *testing.T) {
				if err != nil {
					t.Errorf("%v", err)
				}
				for _, w := range warnings {
					t.Errorf("warning: %s", w)
				}
			})
		}
	}
	for kind, want := range map[string]int{"server.conf": 1, "agent.conf": 1, "helper.conf": 4, "pg_hba.conf": 1} {
		if found[kind] < want {
			t.Errorf("found %d %s files in the manifests, want at least %d", found[kind], kind, want)
		}
	}
}

func kindOfConf(key string) string {
	if helperConfName.MatchString(key) {
		return "helper.conf"
	}
	return key
}

// hbaLine matches one pg_hba.conf record: type, database, user, then an
// address (host records) and the method.
var hbaLine = regexp.MustCompile(`^\s*(\S+)\s+(\S+)\s+(\S+)\s+(.*?)\s*$`)

// checkHBA checks a pg_hba.conf meant for SVID logins: TCP clients must
// use TLS with a client certificate (hostssl ... cert), and nothing may let
// a TCP client in another way.
func checkHBA(content string) error {
	var errs []error
	haveCert := false
	for i, line := range strings.Split(content, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := hbaLine.FindStringSubmatch(line)
		if m == nil {
			errs = append(errs, fmt.Errorf("pg_hba.conf:%d: not a record: %q", i+1, line))
			continue
		}
		typ, rest := m[1], strings.Fields(m[4])
		switch typ {
		case "local":
			continue
		case "hostssl":
			// address, method, options...
			if len(rest) >= 2 && rest[0] == "all" && rest[1] == "cert" && m[2] == "all" && m[3] == "all" {
				haveCert = true
				continue
			}
			if len(rest) < 2 || rest[1] != "cert" {
				errs = append(errs, fmt.Errorf("pg_hba.conf:%d: hostssl record without the cert method: %q", i+1, line))
			}
		default:
			errs = append(errs, fmt.Errorf("pg_hba.conf:%d: %s record lets TCP clients in without a client certificate", i+1, typ))
		}
	}
	if !haveCert {
		errs = append(errs, errors.New("pg_hba.conf: no \"hostssl all all all cert\" record"))
	}
	return errors.Join(errs...)
}

func TestCheckHBARejects(t *testing.T) {
	for _, tc := range []struct{ name, hba, want string }{
		{"no cert record", "local all postgres peer\n", "no \"hostssl all all all cert\""},
		{"password over TCP", "hostssl all all all cert\nhost all all all scram-sha-256\n", "without a client certificate"},
		{"hostssl with a password", "hostssl all all all cert\nhostssl all all 10.0.0.0/8 md5\n", "without the cert method"},
		{"garbage", "hostssl all all all cert\nnonsense\n", "not a record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkHBA(tc.hba); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkHBA: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := checkHBA("local all postgres peer\nhostssl all all all cert\n"); err != nil {
		t.Errorf("checkHBA of a good file: %v", err)
	}
}

// loadedHelper is a helper container with the configuration it loads.
type loadedHelper struct {
	container
	cfg *helperconfig.Config
	// key names the ConfigMap entry (configmap/key).
	key string
}

// loadHelper loads a helper container's configuration the way
// svidkit-helper's command line does: -config names the file, which is
// decoded, -daemon-mode overrides daemon_mode, and then it is validated.
func loadHelper(s *manifestSet, c container) (loadedHelper, error) {
	args := append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
	file, ok := flagValue(args, "config")
	if !ok {
		return loadedHelper{}, fmt.Errorf("%s: no -config flag (the default is relative to the image's working directory)", c.where())
	}
	cmName, key, content, err := c.configMapFile(s, file)
	if err != nil {
		return loadedHelper{}, err
	}
	name := fmt.Sprintf("%s[%s/%s]", c.pod.file, cmName, key)
	cfg, _, err := helperconfig.Decode(name, []byte(content))
	if err != nil {
		return loadedHelper{}, err
	}
	if v, set := boolFlag(args, "daemon-mode"); set {
		cfg.DaemonMode = v
	}
	if err := cfg.Validate(); err != nil {
		return loadedHelper{}, fmt.Errorf("%s: %s: %w", c.where(), name, err)
	}
	return loadedHelper{container: c, cfg: cfg, key: cmName + "/" + key}, nil
}

// daemonConfigFile returns the ConfigMap entry a server or agent container
// runs with: `run -config <file>`.
func daemonConfigFile(s *manifestSet, c container) (name, content string, err error) {
	args := append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
	if len(args) == 0 || args[0] != "run" {
		return "", "", fmt.Errorf("%s: args %q do not start with the run sub-command", c.where(), args)
	}
	file, ok := flagValue(args, "config")
	if !ok {
		return "", "", fmt.Errorf("%s: run without -config", c.where())
	}
	cmName, key, content, err := c.configMapFile(s, file)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("%s[%s/%s]", c.pod.file, cmName, key), content, nil
}

// TestContainersLoadTheirConfigs starts every svidkit container's
// configuration loading as its command line would: the file its -config
// names, found through its volume mounts in a ConfigMap, with its flags.
func TestContainersLoadTheirConfigs(t *testing.T) {
	s := loadManifests(t)
	tools := map[string]int{}
	for _, p := range pods(s) {
		for _, c := range p.containers() {
			tool := svidkitTool(c.c.Image)
			if tool == "" {
				continue
			}
			tools[tool]++
			t.Run(path.Join(p.file, p.meta.GetName(), c.c.Name), func(t *testing.T) {
				switch tool {
				case "svidkit-server":
					name, content, err := daemonConfigFile(s, c)
					if err == nil {
						_, _, err = config.ParseServer(name, []byte(content))
					}
					if err != nil {
						t.Error(err)
					}
				case "svidkit-agent":
					name, content, err := daemonConfigFile(s, c)
					if err == nil {
						_, _, err = config.ParseAgent(name, []byte(content))
					}
					if err != nil {
						t.Error(err)
					}
				case "svidkit-helper":
					h, err := loadHelper(s, c)
					if err != nil {
						t.Fatal(err)
					}
					// An init container must exit for the pod to start; a
					// sidecar must stay to renew.
					if c.init == h.cfg.DaemonMode {
						t.Errorf("%s: daemon mode %v in an init container = %v: init containers run one-shot (-daemon-mode=false), sidecars in daemon mode", c.where(), h.cfg.DaemonMode, c.init)
					}
				case "svidkit-sds":
					args := append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
					if len(args) == 0 || args[0] != "run" {
						t.Errorf("%s: args %q do not start with the run sub-command", c.where(), args)
					}
				case "svidkit-csi":
					// spiffe-csi-driver's command line: flags, no sub-command.
					if err := checkCSIArgs(c); err != nil {
						t.Error(err)
					}
				default:
					t.Errorf("%s: unknown svidkit image %s", c.where(), c.c.Image)
				}
			})
		}
	}
	for _, tool := range []string{"svidkit-server", "svidkit-agent", "svidkit-helper", "svidkit-sds", "svidkit-csi"} {
		if tools[tool] == 0 {
			t.Errorf("no %s container in the manifests", tool)
		}
	}
}
