package config

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"

	"github.com/svidkit/svidkit/pkg/hcldecode"
	"github.com/svidkit/svidkit/pkg/profiling"
)

// ProfilesDir is the directory under data_dir where profiles are written
// (SPIRE writes them to .profiles in the working directory).
const ProfilesDir = "profiles"

// Profiling holds SPIRE's profiling keys of the server and agent blocks.
type Profiling struct {
	// Enabled (profiling_enabled) turns profiling on; default off.
	Enabled bool
	// Port (profiling_port) serves net/http/pprof on 127.0.0.1:Port;
	// 0 (the default) serves no endpoint.
	Port int
	// Freq (profiling_freq) is the number of seconds between two writes
	// of the Names profiles; 0 (the default) writes none.
	Freq int
	// Names (profiling_names) are the profiles written, from
	// profiling.Names.
	Names []string
}

// Runtime returns the settings for package profiling: profiles of the
// daemon tag ("server", "agent") go to data_dir/ProfilesDir.
func (p Profiling) Runtime(dataDir, tag string, log *slog.Logger) profiling.Config {
	return profiling.Config{
		Enabled:  p.Enabled,
		Port:     p.Port,
		Interval: time.Duration(p.Freq) * time.Second,
		Names:    p.Names,
		Dir:      filepath.Join(dataDir, ProfilesDir),
		Tag:      tag,
		Log:      log,
	}
}

// profilingKeys are the keys Profiling is read from.
var profilingKeys = []string{"profiling_enabled", "profiling_port", "profiling_freq", "profiling_names"}

// withProfiling adds the decoders of the profiling keys into p to fields,
// the fields of the server or agent block, and returns fields.
func (d *decoder) withProfiling(p *Profiling, fields map[string]hcldecode.Field) map[string]hcldecode.Field {
	fields["profiling_enabled"] = d.Bool(&p.Enabled)
	fields["profiling_port"] = func(it *ast.ObjectItem) {
		d.Int(&p.Port)(it)
		if p.Port < 0 || p.Port > 65535 {
			d.Errorf(it.Val.Pos(), "profiling_port: want a port 1-65535 (or 0 for no endpoint), got %d", p.Port)
		}
	}
	fields["profiling_freq"] = func(it *ast.ObjectItem) {
		d.Int(&p.Freq)(it)
		if p.Freq < 0 {
			d.Errorf(it.Val.Pos(), "profiling_freq: want a number of seconds, or 0 to write no profiles, got %d", p.Freq)
		}
	}
	fields["profiling_names"] = func(it *ast.ObjectItem) {
		d.StringList(&p.Names)(it)
		list, _ := it.Val.(*ast.ListType)
		for i, name := range p.Names {
			if profiling.Known(name) {
				continue
			}
			pos := it.Val.Pos()
			if list != nil && i < len(list.List) {
				pos = list.List[i].Pos()
			}
			d.Errorf(pos, "profiling_names: unknown profile %q (want %s)", name, strings.Join(profiling.Names(), ", "))
		}
	}
	return fields
}

// checkProfiling warns, as SPIRE would silently do nothing, about profiling
// keys of block that have no effect.
func (d *decoder) checkProfiling(block string, p *Profiling) {
	lines := d.Lines()
	at := func(keys ...string) token.Pos { return token.Pos{Line: lines.First(block, keys...)} }
	switch {
	case !p.Enabled:
		if pos := at(profilingKeys[1:]...); pos.Line > 0 {
			d.Warnf(pos, "profiling_port, profiling_freq and profiling_names have no effect without profiling_enabled = true")
		}
	case p.Port == 0 && p.Freq == 0:
		d.Warnf(at("profiling_enabled"), "profiling_enabled has no effect without profiling_port or profiling_freq")
	case p.Freq > 0 && len(p.Names) == 0:
		d.Warnf(at("profiling_freq"), "profiling_freq is set but profiling_names is empty: no profile is written")
	case p.Freq == 0 && len(p.Names) > 0:
		d.Warnf(at("profiling_names"), "profiling_names has no effect without profiling_freq")
	}
}
