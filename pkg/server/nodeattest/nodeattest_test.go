package nodeattest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want nodeattest.Kind
		msg  string
	}{
		{name: "invalid", err: nodeattest.Invalid("bad %s", "payload"), want: nodeattest.KindInvalid, msg: "bad payload"},
		{name: "denied wrapped", err: fmt.Errorf("k8s_psat: %w", nodeattest.Denied("no")), want: nodeattest.KindDenied, msg: "k8s_psat: no"},
		{name: "server failure", err: errors.New("apiserver down"), want: 0, msg: "apiserver down"},
		{name: "nil", err: nil, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeattest.KindOf(tt.err); got != tt.want {
				t.Fatalf("KindOf = %v, want %v", got, tt.want)
			}
			if tt.err != nil && tt.err.Error() != tt.msg {
				t.Fatalf("message = %q, want %q", tt.err, tt.msg)
			}
		})
	}
}
