// Package svidfile writes a set of files (certificate, key, bundle, …) into
// one directory so that readers never observe a mix of two updates.
//
// In the default atomic mode the set lives in a hidden, versioned directory
// ("..20261123T120449.123456789.1a2b3c4d") and a single symlink "..data"
// names the current version. Each visible name is a relative symlink
// "name -> ..data/name". An update writes and fsyncs a complete new
// directory, then switches "..data" with one rename(2). A reader that
// resolves "..data" once (or resolves one visible symlink fully and opens its
// siblings in the same directory) always sees a matching certificate and key.
// This is the scheme of Kubernetes' AtomicWriter.
//
// A File may also name one subdirectory (File.Dir), whose files belong to
// the set like the others: in atomic mode the subdirectory lives in the
// version directory behind one visible symlink, so a file the set stops
// naming disappears with the switch (the helper's bundle_dir).
//
// The plain mode writes each file with temp file + fsync + rename, in the
// order given. Every single file is replaced atomically, but the set is not:
// a reader may see a new key next to the old certificate for a moment. It
// exists for consumers that cannot follow symlinks (or reject them).
//
// The target directory must already exist: like spiffe-helper's cert_dir we
// do not create it, so that a typo in the configuration fails loudly instead
// of writing keys to an unexpected place with a guessed owner and mode.
//
// Only one Writer may own a directory at a time; New takes an exclusive
// flock(2) on "..lock" inside it.
//
// Whoever else can write the directory may plant symlinks in it. The Writer
// reaches every entry through an os.Root of the directory and creates files
// with O_EXCL, so such a symlink never leads it to a file outside the
// directory: a planted "..lock" is refused with an error naming it, and a
// version directory swapped for a symlink makes that write fail.
package svidfile
