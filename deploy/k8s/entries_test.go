package k8s_test

import (
	"fmt"
	"strings"
)

// entrySpec is one `svidkit-server entry create` of an entries script.
type entrySpec struct {
	line      int
	node      bool
	spiffeID  string
	parentID  string
	selectors []string
	dns       []string
}

// entriesScript is what the checks read from an entries.sh: the kubectl
// exec prefix that reaches the server and the entries it creates.
type entriesScript struct {
	// exec holds kubectl exec's -n, pod, -c and the command after "--".
	namespace, pod, container string
	command                   []string
	entries                   []entrySpec
}

// logicalLines joins backslash-continued lines, keeping each logical line's
// first line number, and drops comments and blank lines.
func logicalLines(script string) (lines []string, numbers []int) {
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(script, "\n") {
		if cur.Len() == 0 {
			start = i + 1
			if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
		}
		if body, cont := strings.CutSuffix(l, "\\"); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, strings.TrimSpace(cur.String()))
		numbers = append(numbers, start)
		cur.Reset()
	}
	return lines, numbers
}

// parseEntriesScript reads an entries.sh written in the plain style these
// examples use: a shell function wrapping `kubectl exec ... -- <server
// binary> "$@"`, called as `<function> entry create <flags>`.
func parseEntriesScript(script string) (*entriesScript, error) {
	s := &entriesScript{}
	lines, numbers := logicalLines(script)
	fn := ""
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "kubectl" && f[1] == "exec":
			if err := s.parseExec(f[2:]); err != nil {
				return nil, fmt.Errorf("entries.sh:%d: %w", numbers[i], err)
			}
		case len(f) >= 1 && strings.HasSuffix(f[0], "()"):
			fn = strings.TrimSuffix(f[0], "()")
		case fn != "" && len(f) >= 3 && f[0] == fn && f[1] == "entry" && f[2] == "create":
			e, err := parseEntryFlags(f[3:])
			if err != nil {
				return nil, fmt.Errorf("entries.sh:%d: %w", numbers[i], err)
			}
			e.line = numbers[i]
			s.entries = append(s.entries, e)
		}
	}
	if s.pod == "" {
		return nil, fmt.Errorf("entries.sh: no kubectl exec line")
	}
	return s, nil
}

func (s *entriesScript) parseExec(f []string) error {
	for i := 0; i < len(f); i++ {
		switch a := f[i]; {
		case a == "--":
			s.command = f[i+1:]
			return nil
		case (a == "-n" || a == "--namespace" || a == "-c" || a == "--container") && i+1 < len(f):
			if a == "-n" || a == "--namespace" {
				s.namespace = f[i+1]
			} else {
				s.container = f[i+1]
			}
			i++
		case !strings.HasPrefix(a, "-") && s.pod == "":
			s.pod = a
		default:
			return fmt.Errorf("kubectl exec: unexpected %q", a)
		}
	}
	return fmt.Errorf("kubectl exec without -- and a command")
}

// parseEntryFlags reads the entry create flags the examples use.
func parseEntryFlags(f []string) (entrySpec, error) {
	var e entrySpec
	for i := 0; i < len(f); i++ {
		name := strings.TrimPrefix(strings.TrimPrefix(f[i], "-"), "-")
		if name == "node" {
			e.node = true
			continue
		}
		if i+1 >= len(f) {
			return e, fmt.Errorf("entry create: flag %s without a value", f[i])
		}
		v := f[i+1]
		i++
		switch name {
		case "spiffeID":
			e.spiffeID = v
		case "parentID":
			e.parentID = v
		case "selector":
			e.selectors = append(e.selectors, v)
		case "dns":
			e.dns = append(e.dns, v)
		default:
			return e, fmt.Errorf("entry create: flag %s is not one this test reads", f[i-1])
		}
	}
	if e.spiffeID == "" {
		return e, fmt.Errorf("entry create without -spiffeID")
	}
	return e, nil
}

// selector returns the value of the entry's selector type:key ("k8s:sa").
func (e entrySpec) selector(prefix string) (string, bool) {
	for _, s := range e.selectors {
		if v, ok := strings.CutPrefix(s, prefix+":"); ok {
			return v, true
		}
	}
	return "", false
}
