package hcldecode

import (
	"testing"

	"github.com/hashicorp/hcl/hcl/token"
)

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		file string
		add  func(p *Problems)
		want string // "" means no error
	}{
		{"none", "f.conf", func(*Problems) {}, ""},
		{"with and without line", "f.conf", func(p *Problems) {
			p.At(0, "no line")
			p.At(7, "on %s", "seven")
			p.At(2, "on two")
		}, "f.conf:2: on two\nf.conf:7: on seven\nf.conf: no line"},
		{"same line keeps order", "f.conf", func(p *Problems) {
			p.At(3, "first")
			p.At(3, "second")
		}, "f.conf:3: first\nf.conf:3: second"},
		{"no file", "", func(p *Problems) {
			p.At(4, "a")
			p.At(0, "b")
		}, "a\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Problems{File: tt.file}
			tt.add(&p)
			err := p.Err()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Err() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("Err() = %v, want:\n%s", err, tt.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	var d Decoder
	d.Record("top level", "a", token.Pos{Line: 3})
	d.Record("inner", "a", token.Pos{Line: 5})
	l := d.Lines()
	if got := l.Line("top level", "a"); got != 3 {
		t.Errorf("Line(top level, a) = %d, want 3", got)
	}
	if got := l.First("inner", "b", "a"); got != 5 {
		t.Errorf("First(inner, b, a) = %d, want 5", got)
	}
	l.Forget("inner", "a")
	if got := l.Line("inner", "a"); got != 0 {
		t.Errorf("Line after Forget = %d, want 0", got)
	}
	var zero Lines
	zero.Forget("x", "y")
	if got := zero.Line("x", "y"); got != 0 {
		t.Errorf("zero Lines: Line = %d, want 0", got)
	}
}
