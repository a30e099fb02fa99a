package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// TestStoreErrorCodes: store errors reach clients with the code they act
// on; an unreachable database is Unavailable (retry), not Internal, and a
// read cut short by the caller's context keeps the context's code.
func TestStoreErrorCodes(t *testing.T) {
	unavailable := fmt.Errorf("postgres: list entries: %w: dial tcp: connection refused", datastore.ErrUnavailable)
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"storeStatus unavailable", storeStatus(unavailable, "create entry"), codes.Unavailable},
		{"storeStatus not found", storeStatus(fmt.Errorf("entry: %w", datastore.ErrNotFound), "get entry"), codes.NotFound},
		{"storeStatus other", storeStatus(errors.New("disk full"), "create entry"), codes.Internal},
		{"internalStatus unavailable", internalStatus("look up agent %q: %w", "x", unavailable), codes.Unavailable},
		{"internalStatus other", internalStatus("look up agent %q: %w", "x", errors.New("corrupt row")), codes.Internal},
		{"storeStatus caller cancelled", storeStatus(fmt.Errorf("sqlite: begin transaction: %w", context.Canceled), "list entries"), codes.Canceled},
		{"internalStatus caller cancelled", internalStatus("load entries: %w", fmt.Errorf("sqlite: begin transaction: %w", context.Canceled)), codes.Canceled},
		{"internalStatus caller's deadline", internalStatus("load entries: %w", fmt.Errorf("postgres: %w", context.DeadlineExceeded)), codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.err); got != tt.want {
				t.Errorf("code %s (%v), want %s", got, tt.err, tt.want)
			}
		})
	}
}
