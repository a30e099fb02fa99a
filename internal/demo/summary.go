package demo

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Summary is what a run saw, written to summary.json at exit.
type Summary struct {
	// Marker is the run's MarkerEnv value.
	Marker string `json:"marker"`
	// Workload, HelperSidecar and SDS are the three rotating patterns.
	Workload      PatternSummary `json:"workload"`
	HelperInit    InitSummary    `json:"helper_init"`
	HelperSidecar PatternSummary `json:"helper_sidecar"`
	SDS           PatternSummary `json:"sds"`
	// Stopped lists each child the demo stopped at the end, in stop
	// order, with its exit code (0: it shut down cleanly on SIGTERM).
	Stopped []Stopped `json:"stopped"`
	// Killed lists processes that outlived their process group's stop and
	// were killed at the end; a clean run has none.
	Killed []int `json:"killed,omitempty"`
	// Error is why the run failed, or "".
	Error string `json:"error,omitempty"`
}

// PatternSummary is one pattern's certificates.
type PatternSummary struct {
	SPIFFEID string `json:"spiffe_id"`
	// Serials are the distinct serials seen, in order (hex).
	Serials []string `json:"serials"`
	// Rotations counts the serials after the first.
	Rotations int `json:"rotations"`
}

// Stopped is one child stopped at the end.
type Stopped struct {
	Name     string `json:"name"`
	ExitCode int    `json:"exit_code"`
}

// InitSummary is the init-container helper's run.
type InitSummary struct {
	Started      time.Time `json:"started"`
	EntryCreated time.Time `json:"entry_created"`
	Exited       time.Time `json:"exited"`
	// ExitCode is -1 until the helper exits.
	ExitCode int    `json:"exit_code"`
	Serial   string `json:"serial,omitempty"`
}

func patternSummary(id string, s *serials) PatternSummary {
	list := s.snapshot()
	return PatternSummary{SPIFFEID: id, Serials: list, Rotations: max(len(list)-1, 0)}
}

// writeSummary writes s as JSON to path.
func writeSummary(path string, s Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("demo: write summary: %w", err)
	}
	return nil
}

// ReadSummary reads a summary.json.
func ReadSummary(path string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("demo: read summary: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("demo: decode %s: %w", path, err)
	}
	return s, nil
}
