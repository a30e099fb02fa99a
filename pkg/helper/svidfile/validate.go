package svidfile

import (
	"errors"
	"fmt"
)

// validate checks that every name (and subdirectory, see subdir.go) is a
// plain, visible base name that cannot collide with the Writer's own
// hidden entries, that paths are unique and that modes are non-zero and
// carry permission bits only.
func validate(files []File) error {
	if len(files) == 0 {
		return errors.New("svidfile: empty file set")
	}
	seen := make(map[string]bool, len(files))
	for i, f := range files {
		if err := CheckName(f.Name); err != nil {
			return fmt.Errorf("svidfile: file %d (%q): %w", i, f.Name, err)
		}
		if f.Dir != "" {
			if err := CheckName(f.Dir); err != nil {
				return fmt.Errorf("svidfile: file %d (%q): directory %q: %w", i, f.Name, f.Dir, err)
			}
		}
		switch {
		case f.Mode == 0:
			return fmt.Errorf("svidfile: file %q: mode is 0 (nobody could read it)", f.Name)
		case f.Mode&^0o777 != 0:
			return fmt.Errorf("svidfile: file %q: mode %v has bits other than permissions", f.Name, f.Mode)
		case seen[f.path()]:
			return fmt.Errorf("svidfile: file name %q: given twice", f.path())
		}
		seen[f.path()] = true
	}
	return checkLayout(files)
}
