// Package logging builds the daemons' slog loggers from SPIRE's log_level
// and log_format settings.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w at level ("DEBUG", "INFO", "WARN",
// "ERROR"; any case) in format ("text" or "json").
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToUpper(level) {
	case "DEBUG":
		lvl = slog.LevelDebug
	case "", "INFO":
		lvl = slog.LevelInfo
	case "WARN", "WARNING":
		lvl = slog.LevelWarn
	case "ERROR":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("log_level: unknown level %q (want DEBUG, INFO, WARN or ERROR)", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log_format: unknown format %q (want text or json)", format)
	}
}
