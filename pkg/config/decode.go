package config

import "github.com/svidkit/svidkit/pkg/hcldecode"

// decoder walks one file's syntax tree and collects every problem found, so a
// user sees all mistakes in one run instead of fixing them one at a time. It
// adds the SPIRE-specific helpers (plugins, trust domain, ...) to the shared
// hcldecode.Decoder.
type decoder struct {
	hcldecode.Decoder
}
