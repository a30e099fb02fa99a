package svidfile

import (
	"errors"
	"strings"
)

// CheckName reports whether name can be the name of a File: a plain,
// visible base name inside the Writer's directory that cannot collide with
// the Writer's own hidden entries ("..data", version directories). A
// configuration can check its file names with it at load time.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case strings.ContainsAny(name, "/\\\x00"):
		return errors.New("name contains a path separator or NUL")
	case name == ".":
		return errors.New(`name "." is the directory itself`)
	case strings.HasPrefix(name, ".."):
		return errors.New(`names starting with ".." are reserved for the writer`)
	}
	return nil
}
