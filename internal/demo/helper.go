package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// runHelper is pattern 2: svidkit-helper as an init container, then as a
// sidecar in front of a TLS server.
func (d *demo) runHelper(ctx context.Context) error {
	if err := d.runInit(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	return d.runSidecar(ctx)
}

// runInit starts the one-shot helper before its entry exists, creates the
// entry after InitDelay and waits for the helper to write and exit.
func (d *demo) runInit(ctx context.Context) error {
	certDir := filepath.Join(d.cfg.Dir, "helper-init")
	conf := filepath.Join(d.cfg.Dir, "helper-init.conf")
	if err := writeConfig(conf, helperHCL, hclData{AgentSocket: d.agentSocket, CertDir: certDir, Daemon: false}); err != nil {
		return err
	}
	d.screen.step("[2] starting svidkit-helper as an init container (daemon_mode = false); its entry does not exist yet")
	started := time.Now()
	d.setInit(func(s *InitSummary) { s.Started = started })
	p, err := d.start(procSpec{name: "helper-init", argv: []string{d.bin("svidkit-helper"), "-config", conf}})
	if err != nil {
		return err
	}
	d.screen.set(lineHelper, "[2] helper        init container blocked: no entry for it yet")
	select {
	case <-ctx.Done():
		return nil
	case <-p.done:
		return fmt.Errorf("init helper exited (code %d) before its entry existed: see %s", p.exitCode(), d.logPath("helper-init"))
	case <-time.After(d.cfg.InitDelay):
	}
	if err := d.createEntry(ctx, d.helperID, d.bin("svidkit-helper")); err != nil {
		return err
	}
	created := time.Now()
	d.setInit(func(s *InitSummary) { s.EntryCreated = created })
	d.screen.step("[2] created the entry %s for svidkit-helper, %.1fs after the init container started", d.helperID, created.Sub(started).Seconds())
	d.screen.set(lineHelper, "[2] helper        init container: entry created, writing")
	select {
	case <-ctx.Done():
		return nil
	case <-p.done:
	}
	exited := time.Now()
	code := p.exitCode()
	d.setInit(func(s *InitSummary) { s.Exited, s.ExitCode = exited, code })
	if code != 0 {
		return fmt.Errorf("init helper exited %d: see %s", code, d.logPath("helper-init"))
	}
	cert, err := loadPair(certDir)
	if err != nil {
		return err
	}
	d.setInit(func(s *InitSummary) { s.Serial = serialHex(cert.Leaf) })
	d.initLine = fmt.Sprintf("init %.1fs blocked, exit 0", created.Sub(started).Seconds())
	d.screen.step("[2] init container wrote svid.pem (serial %s), svid_key.pem, svid_bundle.pem to %s and exited 0",
		short(serialHex(cert.Leaf)), d.rel(certDir))
	return nil
}

// runSidecar starts the daemon helper with the TLS server as its cmd and,
// after each (re)load the TLS server reports, connects to it to see the
// certificate it serves.
func (d *demo) runSidecar(ctx context.Context) error {
	certDir := filepath.Join(d.cfg.Dir, "helper-sidecar")
	conf := filepath.Join(d.cfg.Dir, "helper-sidecar.conf")
	args := fmt.Sprintf("tlsserver -dir %s -socket %s", certDir, d.tlsSocket)
	err := writeConfig(conf, helperHCL, hclData{AgentSocket: d.agentSocket, CertDir: certDir, Daemon: true, Cmd: d.cfg.Self, CmdArgs: args})
	if err != nil {
		return err
	}
	d.screen.step("[2] starting svidkit-helper as a sidecar (daemon_mode = true): cmd = a TLS server, renew_signal = SIGHUP")
	reloaded := make(chan string, 1) // bursts collapse: only the latest matters
	onLine := func(line string) {
		if strings.HasPrefix(line, tlsServing) || strings.HasPrefix(line, tlsReloaded) {
			select {
			case reloaded <- line:
			default:
			}
		}
	}
	p, err := d.start(procSpec{name: "helper-sidecar", argv: []string{d.bin("svidkit-helper"), "-config", conf}, onLine: onLine})
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.done:
			return fmt.Errorf("sidecar helper exited (code %d): see %s", p.exitCode(), d.logPath("helper-sidecar"))
		case line := <-reloaded:
			cert, err := d.dialTLS(ctx, certDir)
			if err != nil {
				fmt.Fprintf(d.logs.tls, "%s after %q: %v\n", time.Now().Format(time.TimeOnly), line, err)
				continue
			}
			fresh := d.sidecar.add(cert)
			fmt.Fprintf(d.logs.tls, "%s after %q: TLS server presents %v serial %s (new: %t)\n",
				time.Now().Format(time.TimeOnly), line, cert.URIs, serialHex(cert), fresh)
			d.screen.set(lineHelper, statusLine(fmt.Sprintf("[2] helper        %s; sidecar TLS:", d.initLine), cert, &d.sidecar))
		}
	}
}

// dialTLS connects to the sidecar's TLS server, verifying it as the
// helper's SPIFFE ID with the bundle the helper wrote, and returns the
// certificate it presented.
func (d *demo) dialTLS(ctx context.Context, certDir string) (*x509.Certificate, error) {
	td := spiffeid.RequireTrustDomainFromString(TrustDomain)
	bundle, err := x509bundle.Load(td, filepath.Join(certDir, "svid_bundle.pem"))
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	id, err := spiffeid.FromString(d.helperID)
	if err != nil {
		return nil, err
	}
	dialer := tls.Dialer{Config: tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(id))}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "unix", d.tlsSocket)
	if err != nil {
		return nil, fmt.Errorf("dial TLS server: %w", err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}
