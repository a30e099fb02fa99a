// Package benchmetric holds the figures svidkit's end-to-end benchmarks
// report beyond ns/op: latency quantiles of the operations they time and
// the memory of the processes they run.
package benchmetric
