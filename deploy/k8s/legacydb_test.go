package k8s_test

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// legacyDir holds the legacy-db example's manifests.
const legacyDir = "examples/legacy-db/k8s"

// certConsumer is a container that reads the helper's files, with the
// paths it reads them at.
type certConsumer struct {
	container
	cert, key, bundle string
	// what names the settings, for messages.
	what [3]string
}

// args returns a container's command after the program, then its args.
func (c container) args() []string {
	return append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
}

// program returns the program a container runs, if its command names it.
func (c container) program() string {
	if len(c.c.Command) > 0 {
		return path.Base(c.c.Command[0])
	}
	return ""
}

// postgresSettings returns the `-c name=value` settings on a postgres
// command line.
func postgresSettings(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		var kv string
		switch a := args[i]; {
		case a == "-c" && i+1 < len(args):
			kv = args[i+1]
			i++
		case strings.HasPrefix(a, "--") && strings.Contains(a, "="):
			kv = strings.TrimPrefix(a, "--")
		default:
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[strings.ReplaceAll(k, "-", "_")] = v
		}
	}
	return out
}

// legacyPods returns the example's pods.
func legacyPods(m *model) []pod { return pods(m.s.under(legacyDir)) }

// dbServer returns the example's PostgreSQL server container.
func dbServer(m *model) (container, error) {
	var found []container
	for _, p := range legacyPods(m) {
		for _, c := range p.containers() {
			if !c.init && c.program() == "postgres" {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		return container{}, fmt.Errorf("%s: found %d containers running postgres, want 1", legacyDir, len(found))
	}
	return found[0], nil
}

// dbClient returns the example's libpq client container (it has PGHOST).
func dbClient(m *model) (container, error) {
	var found []container
	for _, p := range legacyPods(m) {
		for _, c := range p.containers() {
			if _, ok := c.env("PGHOST"); ok && !c.init {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		return container{}, fmt.Errorf("%s: found %d client containers (with PGHOST), want 1", legacyDir, len(found))
	}
	return found[0], nil
}

// consumers returns the PostgreSQL server and client with the certificate
// paths their settings name.
func consumers(m *model) ([]certConsumer, error) {
	db, err := dbServer(m)
	if err != nil {
		return nil, err
	}
	client, err := dbClient(m)
	if err != nil {
		return nil, err
	}
	set := postgresSettings(db.args())
	env := func(name string) string { v, _ := client.env(name); return v }
	return []certConsumer{
		{container: db, cert: set["ssl_cert_file"], key: set["ssl_key_file"], bundle: set["ssl_ca_file"],
			what: [3]string{"ssl_cert_file", "ssl_key_file", "ssl_ca_file"}},
		{container: client, cert: env("PGSSLCERT"), key: env("PGSSLKEY"), bundle: env("PGSSLROOTCERT"),
			what: [3]string{"PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT"}},
	}, nil
}

// helpersOf returns the helpers of the pod c belongs to.
func helpersOf(m *model, p pod) []loadedHelper {
	var out []loadedHelper
	for _, h := range m.helpers {
		if h.pod.file == p.file && h.pod.id() == p.id() && h.pod.gvk == p.gvk {
			out = append(out, h)
		}
	}
	return out
}

func checkPIDFile(m *model) error {
	var p problems
	db, err := dbServer(m)
	if err != nil {
		return err
	}
	var signallers []loadedHelper
	for _, h := range helpersOf(m, db.pod) {
		if h.cfg.PIDFileName != "" {
			signallers = append(signallers, h)
		}
	}
	if len(signallers) != 1 {
		return fmt.Errorf("%s: %d helpers with pid_file_name, want the one sidecar", db.pod.file, len(signallers))
	}
	h := signallers[0]
	if sp := db.pod.spec.ShareProcessNamespace; sp == nil || !*sp {
		p.add("%s: shareProcessNamespace is not true: the helper cannot see the postmaster's pid", db.pod.file)
	}
	if h.cfg.RenewSignalName != "SIGHUP" {
		p.add("%s: renew_signal %q; PostgreSQL reloads its certificates on SIGHUP", h.where(), h.cfg.RenewSignalName)
	}
	pgdata, ok := db.env("PGDATA")
	if !ok {
		return errors.Join(append(p, fmt.Errorf("%s: no PGDATA", db.where()))...)
	}
	want, err := db.locate(path.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return errors.Join(append(p, err)...)
	}
	got, err := h.locate(h.cfg.PIDFileName)
	switch {
	case err != nil:
		p.add("pid_file_name: %w", err)
	case got.volumeName() != want.volumeName() || got.rel != want.rel:
		p.add("%s: pid_file_name %s is %s:%s; the postmaster writes %s/postmaster.pid, which is %s:%s", h.where(), h.cfg.PIDFileName, got.volumeName(), got.rel, pgdata, want.volumeName(), want.rel)
	case !got.mount.ReadOnly:
		p.add("%s: mounts the database volume read-write; it only reads the pid file", h.where())
	}
	hu, hok := h.runAsUser()
	du, dok := db.runAsUser()
	if !hok || !dok || hu != du {
		p.add("%s runs as uid %v and postgres as %v: only the same user may signal the postmaster", h.where(), uidString(hu, hok), uidString(du, dok))
	}
	return p.err()
}

func uidString(uid int64, ok bool) string {
	if !ok {
		return "the image's user"
	}
	return fmt.Sprint(uid)
}

func checkCertFiles(m *model) error {
	var p problems
	cs, err := consumers(m)
	if err != nil {
		return err
	}
	for _, c := range cs {
		hs := helpersOf(m, c.pod)
		if len(hs) == 0 {
			p.add("%s: no helper writes the certificates of %s", c.pod.file, c.where())
		}
		for _, h := range hs {
			dir, err := h.locate(h.cfg.CertDir)
			if err != nil {
				p.add("cert_dir: %w", err)
				continue
			}
			if ed := volumeEmptyDir(dir.volume); ed == nil || ed.Medium != corev1.StorageMediumMemory {
				p.add("%s: cert_dir %s is on volume %q, not an emptyDir with medium Memory", h.where(), h.cfg.CertDir, dir.volumeName())
			}
			for i, f := range []struct{ path, name string }{
				{c.cert, h.cfg.SVIDFileName}, {c.key, h.cfg.SVIDKeyFileName}, {c.bundle, h.cfg.SVIDBundleFileName},
			} {
				if f.path == "" {
					p.add("%s: %s is not set", c.where(), c.what[i])
					continue
				}
				at, err := c.locate(f.path)
				wantRel := path.Join(dir.rel, f.name)
				switch {
				case err != nil:
					p.add("%s: %w", c.what[i], err)
				case at.volumeName() != dir.volumeName() || at.rel != wantRel:
					want, _ := c.mountedAt(dir.volumeName(), wantRel)
					p.add("%s: %s %s is not the file %s writes as %s (this container sees that file at %s)", c.where(), c.what[i], f.path, h.where(), path.Join(h.cfg.CertDir, f.name), orNone(want))
				}
			}
		}
	}
	return p.err()
}

func volumeEmptyDir(v *corev1.Volume) *corev1.EmptyDirVolumeSource {
	if v == nil {
		return nil
	}
	return v.EmptyDir
}

func orNone(s string) string {
	if s == "" {
		return "no path: not mounted"
	}
	return s
}

func checkInitMatchesSidecar(m *model) error {
	var p problems
	for _, pd := range legacyPods(m) {
		hs := helpersOf(m, pd)
		if len(hs) == 0 {
			continue
		}
		var initH, side []loadedHelper
		for _, h := range hs {
			if h.init {
				initH = append(initH, h)
			} else {
				side = append(side, h)
			}
		}
		if len(initH) != 1 || len(side) != 1 {
			p.add("%s %s: %d init and %d sidecar helpers, want one of each", pd.file, pd.id(), len(initH), len(side))
			continue
		}
		a, b := initH[0].cfg, side[0].cfg
		type files struct {
			addr, dir, cert, key, bundle string
			certMode, keyMode            uint32
		}
		fa := files{a.AgentAddress, a.CertDir, a.SVIDFileName, a.SVIDKeyFileName, a.SVIDBundleFileName, uint32(a.CertFileMode), uint32(a.KeyFileMode)}
		fb := files{b.AgentAddress, b.CertDir, b.SVIDFileName, b.SVIDKeyFileName, b.SVIDBundleFileName, uint32(b.CertFileMode), uint32(b.KeyFileMode)}
		if fa != fb {
			p.add("%s %s: %s writes %+v but %s writes %+v", pd.file, pd.id(), initH[0].key, fa, side[0].key, fb)
		}
		la, errA := initH[0].locate(a.CertDir)
		lb, errB := side[0].locate(b.CertDir)
		if errA == nil && errB == nil && (la.volumeName() != lb.volumeName() || la.rel != lb.rel) {
			p.add("%s %s: the init and sidecar helpers' cert_dir are on different volumes", pd.file, pd.id())
		}
	}
	return p.err()
}

func checkKeyOwner(m *model) error {
	var p problems
	cs, err := consumers(m)
	if err != nil {
		return err
	}
	for _, c := range cs {
		cu, cok := c.runAsUser()
		for _, h := range helpersOf(m, c.pod) {
			if h.cfg.KeyFileMode != 0o600 {
				p.add("%s: key_file_mode %#o; PostgreSQL and libpq want 0600 for a key file they own", h.where(), uint32(h.cfg.KeyFileMode))
			}
			hu, hok := h.runAsUser()
			if !hok || !cok || hu != cu {
				p.add("%s writes the key as uid %s but %s reads it as %s", h.where(), uidString(hu, hok), c.where(), uidString(cu, cok))
			}
		}
	}
	return p.err()
}

func checkHBAFile(m *model) error {
	var p problems
	db, err := dbServer(m)
	if err != nil {
		return err
	}
	set := postgresSettings(db.args())
	if set["ssl"] != "on" {
		p.add("%s: ssl is %q, want on", db.where(), set["ssl"])
	}
	hba, ok := set["hba_file"]
	if !ok {
		p.add("%s: no hba_file setting: the data directory's pg_hba.conf from initdb would apply", db.where())
		return p.err()
	}
	_, _, content, err := db.configMapFile(m.s, hba)
	if err != nil {
		p.add("hba_file: %w", err)
		return p.err()
	}
	p.addErr(checkHBA(content))
	return p.err()
}

func checkClientNames(m *model) error {
	var p problems
	client, err := dbClient(m)
	if err != nil {
		return err
	}
	db, err := dbServer(m)
	if err != nil {
		return err
	}
	env := func(name, def string) string {
		if v, ok := client.env(name); ok {
			return v
		}
		return def
	}
	host, user, port := env("PGHOST", ""), env("PGUSER", ""), env("PGPORT", "5432")
	if mode := env("PGSSLMODE", "prefer"); mode != "verify-full" {
		p.add("%s: PGSSLMODE %q; verify-full checks the server's DNS name", client.where(), mode)
	}
	svc, selected, err := serviceFor(m.s, host, client.pod.meta.GetNamespace())
	if err != nil {
		return errors.Join(append(p, fmt.Errorf("PGHOST: %w", err))...)
	}
	if len(selected) != 1 || selected[0].id() != db.pod.id() {
		p.add("Service %s does not select exactly the database pod", svc.id())
	}
	var portN int32
	fmt.Sscan(port, &portN)
	want := int32(5432)
	if v, ok := postgresSettings(db.args())["port"]; ok {
		fmt.Sscan(v, &want)
	}
	if got, c, err := servicePort(svc, db.pod, portN); err != nil {
		p.add("PGPORT: %w", err)
	} else if c.c.Name != db.c.Name || got != want {
		p.add("Service %s port %s reaches %s port %d; PostgreSQL listens on %d", svc.id(), port, c.where(), got, want)
	}
	if dbEntry, err := entryFor(m, db.pod); err != nil {
		p.addErr(err)
	} else if !slices.Contains(dbEntry.entry.DNSNames, host) {
		p.add("%s: the database's DNS names %q lack %s, the host the client verifies (PGHOST)", dbEntry.where(), dbEntry.entry.DNSNames, host)
	}
	if clientEntry, err := entryFor(m, client.pod); err != nil {
		p.addErr(err)
	} else if dns := clientEntry.entry.DNSNames; len(dns) == 0 || dns[0] != user {
		p.add("%s: the client's first DNS name (its certificate's CN, its PostgreSQL user) is %q, want PGUSER %q", clientEntry.where(), dns, user)
	}
	p.addErr(checkRoleCreated(m, db, user, env("PGDATABASE", user)))
	return p.err()
}

// checkRoleCreated checks that the database's init script creates the
// client's login role and database.
func checkRoleCreated(m *model, db container, user, database string) error {
	for _, c := range db.pod.containers() {
		if !c.init || c.program() != "sh" || len(c.c.Command) < 2 {
			continue
		}
		_, _, script, err := c.configMapFile(m.s, c.c.Command[1])
		if err != nil {
			return err
		}
		var missing []string
		for _, stmt := range []string{"CREATE ROLE " + user + " LOGIN", "CREATE DATABASE " + database + " OWNER " + user} {
			if !strings.Contains(script, stmt) {
				missing = append(missing, stmt)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s: the init script lacks %q", c.where(), missing)
		}
		return nil
	}
	return fmt.Errorf("%s: no init container runs a ConfigMap script to create role %s", db.pod.file, user)
}
