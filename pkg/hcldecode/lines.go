package hcldecode

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Lines records the line on which each key of a file was given, by the
// block that holds it (named as Block names it in messages: "top level",
// "server block", "health_checks") and the key, so that checks run after
// decoding (a Validate method) can still point at the file's line. The
// zero value records nothing and answers 0 to every lookup.
type Lines struct {
	m map[lineKey]int
}

type lineKey struct{ block, key string }

// Line returns the line of key in block, or 0 when the file did not set it.
func (l Lines) Line(block, key string) int { return l.m[lineKey{block, key}] }

// First returns the line of the first of keys (all in block) the file set,
// or 0 when it set none of them.
func (l Lines) First(block string, keys ...string) int {
	for _, k := range keys {
		if n := l.Line(block, k); n != 0 {
			return n
		}
	}
	return 0
}

// Forget drops the line of key in block; a command line that overrides the
// key's value calls it, so that messages about the value no longer point
// at the file.
func (l Lines) Forget(block, key string) { delete(l.m, lineKey{block, key}) }

// set records that key was given in block on line.
func (l *Lines) set(block, key string, line int) {
	if l.m == nil {
		l.m = make(map[lineKey]int)
	}
	l.m[lineKey{block, key}] = line
}

// Problems collects the problems a Validate method finds in a whole
// configuration and reports them one per line, as the decoder reports its
// own: "file:line: message" when the problem is about a key the file set,
// "file: message" otherwise, and just the message for a configuration that
// has no file.
type Problems struct {
	// File names the configuration file in messages; "" for none.
	File string

	list []problem
}

type problem struct {
	line int
	msg  string
}

// At records a problem on line (0 when it has none).
func (p *Problems) At(line int, format string, args ...any) {
	p.list = append(p.list, problem{line: line, msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems in file order (those without a line last), one
// per line of the message, or nil when there are none.
func (p *Problems) Err() error {
	msgs := p.Messages()
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = errors.New(m)
	}
	return errors.Join(errs...)
}

// Messages returns the problems as Err words them, in the same order (file
// order, those without a line last, ties in the order recorded); nil when
// there are none. Decoder reports its warnings with it.
func (p *Problems) Messages() []string {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b problem) int {
		switch {
		case a.line == b.line:
			return 0
		case a.line == 0:
			return 1
		case b.line == 0:
			return -1
		}
		return cmp.Compare(a.line, b.line)
	})
	out := make([]string, len(list))
	for i, pr := range list {
		switch {
		case p.File == "":
			out[i] = pr.msg
		case pr.line == 0:
			out[i] = fmt.Sprintf("%s: %s", p.File, pr.msg)
		default:
			out[i] = fmt.Sprintf("%s:%d: %s", p.File, pr.line, pr.msg)
		}
	}
	return out
}
