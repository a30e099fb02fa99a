package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// Lines RunTLSServer prints, which the demo reads from the sidecar
// helper's output.
const (
	tlsServing  = "tlsserver: serving serial "
	tlsReloaded = "tlsserver: reloaded on SIGHUP, serving serial "
)

// RunTLSServer is the application behind the sidecar helper: a TLS server
// on the Unix socket sock that presents the certificate and key the helper
// writes to dir (svid.pem, svid_key.pem) and reloads them on SIGHUP, the
// helper's renew_signal. Each connection gets the serial it was served as
// one line. It runs until ctx ends.
func RunTLSServer(ctx context.Context, dir, sock string, out io.Writer) error {
	// First of all: an unhandled SIGHUP would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var current atomic.Pointer[tls.Certificate]
	load := func() (string, error) {
		cert, err := loadPair(dir)
		if err != nil {
			return "", err
		}
		current.Store(cert)
		return serialHex(cert.Leaf), nil
	}
	serial, err := load()
	if err != nil {
		return err
	}
	_ = os.Remove(sock) // left by a killed run
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("tlsserver: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return current.Load(), nil
		},
	}
	fmt.Fprintln(out, tlsServing+serial)
	go func() {
		for {
			select {
			case <-ctx.Done():
				ln.Close()
				return
			case <-hup:
				if serial, err := load(); err != nil {
					fmt.Fprintf(out, "tlsserver: reload: %v (still serving the previous certificate)\n", err)
				} else {
					fmt.Fprintln(out, tlsReloaded+serial)
				}
			}
		}
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tlsserver: accept: %w", err)
		}
		go serveOne(tls.Server(conn, cfg))
	}
}

// serveOne completes the handshake and writes the served serial.
func serveOne(conn *tls.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		return
	}
	fmt.Fprintln(conn, "hello from the sidecar's TLS server")
}

// loadPair loads svid.pem and svid_key.pem from dir. The helper's atomic
// mode switches a "..data" symlink to a new directory; resolving it once
// makes certificate and key come from the same write.
func loadPair(dir string) (*tls.Certificate, error) {
	if data, err := filepath.EvalSymlinks(filepath.Join(dir, "..data")); err == nil {
		dir = data
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tlsserver: resolve %s/..data: %w", dir, err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "svid.pem"), filepath.Join(dir, "svid_key.pem"))
	if err != nil {
		return nil, fmt.Errorf("tlsserver: load %s: %w", dir, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsserver: parse %s/svid.pem: %w", dir, err)
		}
	}
	return &cert, nil
}
