// Package sdsbridged assembles the svidkit-sds daemon from its
// configuration (package sdsconfig): the Workload API client (package
// sdsbridge) as the sds.Source of the SDS v3 handler (package sds), served
// over gRPC on every listener — Unix sockets made by package unixsock, or
// loopback TCP when allow_insecure_tcp permits it, logged as a warning —
// and the optional health/metrics listener. It owns their lifetimes:
// everything stops when the context ends (SIGTERM) or when one part fails,
// and in-flight RPCs get a short grace period (package grpcstop).
//
// Package sdscli holds the command and its flags and calls Run; this
// package holds no flags.
package sdsbridged
