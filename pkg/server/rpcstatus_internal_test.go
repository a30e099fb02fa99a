package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestRPCStatusSettle: a call whose caller went away ends with the
// context's code whatever the handler said; other statuses pass through,
// and Internal ones are logged at ERROR with the method and message.
func TestRPCStatusSettle(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	internal := status.Error(codes.Internal, "transport: SendHeader called multiple times")
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		want    codes.Code
		wantLog bool
	}{
		{"ok", context.Background(), nil, codes.OK, false},
		{"internal, caller waiting", context.Background(), internal, codes.Internal, true},
		{"denied, caller waiting", context.Background(), status.Error(codes.PermissionDenied, "banned"), codes.PermissionDenied, false},
		{"internal, caller cancelled", cancelled, internal, codes.Canceled, false},
		{"store error, caller's deadline passed", expired, errors.New("sqlite: interrupted (9)"), codes.DeadlineExceeded, false},
		{"denied, caller cancelled", cancelled, status.Error(codes.PermissionDenied, "banned"), codes.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := rpcStatus{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))}
			got := r.settle(tt.ctx, "/svc/Method", tt.err)
			if status.Code(got) != tt.want {
				t.Errorf("settle = %v, want code %v", got, tt.want)
			}
			logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "/svc/Method") &&
				strings.Contains(logs.String(), "SendHeader called multiple times")
			if logged != tt.wantLog {
				t.Errorf("logged %q, want an ERROR line naming method and message: %v", logs.String(), tt.wantLog)
			}
		})
	}
}
