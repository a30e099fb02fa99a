// Package ca is svidkit's certificate authority: it owns the trust domain's
// signing keys (a self-signed X.509 CA and a JWT signing key), signs X.509-
// and JWT-SVIDs, rotates both keys on SPIRE's schedule (prepare at 1/2 of the
// active key's lifetime, activate at 5/6) and publishes the trust bundle.
//
// The central invariant: a key is only used for signing after it has been
// written to the published bundle (and the BundleStore), so relying parties
// that follow the bundle always trust every SVID the Manager hands out.
// Retired authorities stay in the bundle until they expire.
package ca
