package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// readyTimeout bounds the wait for a daemon's health check.
const readyTimeout = 30 * time.Second

// startDaemons starts svidkit-server, fetches its bundle, makes a join
// token and starts svidkit-agent with it.
func (d *demo) startDaemons(ctx context.Context) error {
	data := hclData{Dir: d.cfg.Dir, AdminSocket: d.adminSocket, AgentSocket: d.agentSocket, TrustDomain: TrustDomain,
		Port: d.port, TTL: seconds(int(d.cfg.SVIDTTL / time.Second))}
	serverConf, agentConf := filepath.Join(d.cfg.Dir, "server.conf"), filepath.Join(d.cfg.Dir, "agent.conf")
	if err := writeConfig(serverConf, serverHCL, data); err != nil {
		return err
	}
	if err := writeConfig(agentConf, agentHCL, data); err != nil {
		return err
	}
	d.screen.step("starting svidkit-server for trust domain %s on 127.0.0.1:%d (log %s)", TrustDomain, d.port, d.rel(d.logPath("server")))
	server, err := d.start(procSpec{name: "server", argv: []string{d.bin("svidkit-server"), "run", "-config", serverConf}})
	if err != nil {
		return err
	}
	if err := d.waitHealthy(ctx, server, d.bin("svidkit-server"), "healthcheck", "-socketPath", d.adminSocket); err != nil {
		return err
	}
	bundle, err := d.serverCLI(ctx, "bundle", "show", "-format", "pem")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.cfg.Dir, "bundle.pem"), bundle, 0o644); err != nil {
		return fmt.Errorf("demo: write bundle: %w", err)
	}
	out, err := d.serverCLI(ctx, "token", "generate", "-ttl", "600", "-spiffeID", d.nodeID)
	if err != nil {
		return err
	}
	token, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "Token: ")
	if !ok {
		return fmt.Errorf("demo: token generate printed %q", out)
	}
	d.screen.step("starting svidkit-agent with a join token for %s (log %s)", d.nodeID, d.rel(d.logPath("agent")))
	agent, err := d.start(procSpec{name: "agent", argv: []string{d.bin("svidkit-agent"), "run", "-config", agentConf, "-joinToken", token}})
	if err != nil {
		return err
	}
	return d.waitHealthy(ctx, agent, d.bin("svidkit-agent"), "healthcheck", "-socketPath", d.agentSocket)
}

// waitHealthy runs the health check argv until it passes, p exits, ctx
// ends or readyTimeout passes.
func (d *demo) waitHealthy(ctx context.Context, p *proc, argv ...string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("demo: %s exited (code %d): see %s", p.name, p.exitCode(), d.logPath(p.name))
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %s not healthy after %s: see %s", p.name, readyTimeout, d.logPath(p.name))
		}
	}
}

// serverCLI runs a svidkit-server admin command on the demo's socket.
func (d *demo) serverCLI(ctx context.Context, args ...string) ([]byte, error) {
	args = append(args, "-socketPath", d.adminSocket)
	cmd := exec.CommandContext(ctx, d.bin("svidkit-server"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("demo: svidkit-server %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// createEntry registers id under the node for processes of this user
// running the executable binary.
func (d *demo) createEntry(ctx context.Context, id, binary string) error {
	path, err := filepath.EvalSymlinks(binary)
	if err != nil {
		return fmt.Errorf("demo: resolve %s: %w", binary, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return fmt.Errorf("demo: resolve %s: %w", binary, err)
	}
	_, err = d.serverCLI(ctx, "entry", "create", "-parentID", d.nodeID, "-spiffeID", id,
		"-selector", "unix:uid:"+strconv.Itoa(os.Getuid()), "-selector", "unix:path:"+path)
	return err
}
