// Package render turns the registrar's custom resources into registration
// entries, without side effects: a ClusterSPIFFEID and one pod (with its
// node) give at most one entry, a ClusterStaticEntry gives one, and Mask
// keeps the oldest resource's entry where several render the same one.
// The controller in the parent package decides when to render and writes
// the result; everything here is table-tested without a cluster.
package render
