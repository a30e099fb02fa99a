package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// storeStatus converts a store error to a gRPC status at the API edge,
// mapping the datastore sentinels to their codes.
func storeStatus(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...) + ": " + err.Error()
	return status.Error(storeCode(err), msg)
}

// storeCode maps a store error to a gRPC code.
func storeCode(err error) codes.Code {
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, datastore.ErrAlreadyExists):
		return codes.AlreadyExists
	case errors.Is(err, datastore.ErrExpired):
		return codes.FailedPrecondition
	case errors.Is(err, datastore.ErrConflict):
		return codes.Aborted
	case errors.Is(err, datastore.ErrNoFederatedBundle):
		return codes.InvalidArgument
	case errors.Is(err, datastore.ErrInUse):
		return codes.FailedPrecondition
	case errors.Is(err, datastore.ErrUnavailable):
		return codes.Unavailable
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Internal
}

// internalStatus is a status with code Internal for a failure the caller
// cannot fix, made Unavailable when it wraps datastore.ErrUnavailable: the
// database cannot be reached for now, and clients (agents, the admin CLI,
// controllers) retry Unavailable while they report Internal as a bug. A
// failure that is a context's end keeps its code (Canceled,
// DeadlineExceeded): the caller went away, nothing failed. (Store errors
// that do not wrap the context, such as SQLite's "interrupted", are
// settled by rpcStatus.)
func internalStatus(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	switch code := storeCode(err); code {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return status.Error(code, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
