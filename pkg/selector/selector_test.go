package selector_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    selector.Selector
		wantErr bool
	}{
		{name: "simple", in: "unix:uid:1000", want: selector.Selector{Type: "unix", Value: "uid:1000"}},
		{name: "k8s label", in: "k8s:pod-label:app:db", want: selector.Selector{Type: "k8s", Value: "pod-label:app:db"}},
		{name: "no colon", in: "unix", wantErr: true},
		{name: "empty type", in: ":uid:1", wantErr: true},
		{name: "empty value", in: "unix:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selector.Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsSubsetOf(t *testing.T) {
	uid := selector.Selector{Type: "unix", Value: "uid:1000"}
	gid := selector.Selector{Type: "unix", Value: "gid:1000"}
	other := selector.Selector{Type: "unix", Value: "uid:0"}
	tests := []struct {
		name  string
		entry selector.Set
		wl    selector.Set
		want  bool
	}{
		{name: "equal", entry: selector.NewSet(uid), wl: selector.NewSet(uid), want: true},
		{name: "subset", entry: selector.NewSet(uid), wl: selector.NewSet(gid, uid), want: true},
		{name: "superset", entry: selector.NewSet(uid, gid), wl: selector.NewSet(uid), want: false},
		{name: "disjoint", entry: selector.NewSet(other), wl: selector.NewSet(uid, gid), want: false},
		{name: "empty entry", entry: selector.NewSet(), wl: selector.NewSet(uid), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.entry.IsSubsetOf(tt.wl); got != tt.want {
				t.Fatalf("IsSubsetOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewSetDeduplicates(t *testing.T) {
	a := selector.Selector{Type: "a", Value: "1"}
	b := selector.Selector{Type: "b", Value: "1"}
	s := selector.NewSet(b, a, b)
	if len(s) != 2 || s[0] != a || s[1] != b {
		t.Fatalf("NewSet = %v", s)
	}
}
