// Package sds serves Envoy's Secret Discovery Service (SDS v3,
// envoy.service.secret.v3.SecretDiscoveryService) from SPIFFE identities.
//
// It is the one SDS implementation of svidkit: the standalone bridge
// (cmd/sds) feeds it from a Workload API connection, and the agent feeds it
// from its cache on the Workload API socket, both through [Source]. The
// resource names and shapes follow SPIRE's agent, so Envoy configurations
// written for SPIRE work unchanged.
//
// # Resource names
//
//   - Config.DefaultSVIDName ("default"): the workload's first SVID as a
//     tls_certificate (certificate_chain PEM, leaf first; private_key PEM
//     PKCS#8).
//   - A SPIFFE ID ("spiffe://example.org/web"): that SVID of the workload.
//   - Config.DefaultBundleName ("ROOTCA"): the bundle of the workload's own
//     trust domain as a validation_context.
//   - A trust domain ("spiffe://example.org" as SPIRE accepts it, or
//     "example.org"): that trust domain's bundle, the own one or a
//     federated one. The secret carries the name exactly as requested.
//   - Config.DefaultAllBundlesName ("ALL"): one validation_context with every
//     bundle the workload trusts, own and federated (one SPIFFE validator
//     trust domain per bundle, see below).
//
// Which federated bundles a workload has is the Source's answer
// ([Snapshot].Bundles): the agent gives exactly those of the trust domains
// the workload's matching entries name in federates_with, svidkit-sds those
// its Workload API sends with its identity (federated_bundles). A foreign
// trust domain outside that set is never served, whatever the name asked.
//   - No names at all (a wildcard request; "*" in the delta protocol): every
//     bundle named by its trust domain ID and every SVID named by its SPIFFE
//     ID, as SPIRE does.
//
// Any combination of names works in one request; SPIRE's agent answers
// ROOTCA and ALL together with only one of them, this package serves both.
// A name that cannot be served yet (no SVID issued, an unknown trust domain)
// is not an error: the state-of-the-world protocol answers with what is
// available and sends the rest when it appears; the delta protocol adds the
// resource when it appears and lists it in removed_resources when it goes
// away. FetchSecrets cannot wait and answers NotFound counting the missing
// names and quoting the first few.
//
// # Limits
//
// A request may carry at most [MaxResourceNames] (256) names of at most
// [MaxResourceNameBytes] (64 KiB) in all, and a delta stream may be
// subscribed to no more; a request beyond that ends the stream (or fails
// the FetchSecrets call) with codes.InvalidArgument naming the limit.
// Envoy asks for a handful of names. Names that cannot be served are never
// remembered between requests, so unknown names cost no memory.
//
// # Validation contexts and their switches
//
// By default a validation context uses Envoy's SPIFFE certificate validator:
// custom_validator_config named "envoy.tls.cert_validator.spiffe" with a
// typed SPIFFECertValidatorConfig holding one trust domain (name without the
// spiffe:// prefix) and its inline PEM bundle per trust domain; ALL lists
// every trust domain, sorted by name. A plain trusted_ca (inline PEM of the
// roots; for ALL the roots of every bundle, which loses the binding of roots
// to trust domains) is served instead when any of these holds, in this
// order, as in SPIRE's agent:
//
//   - the Envoy node metadata key "disable_spiffe_cert_validation" is set to
//     a bool or a string strconv.ParseBool accepts: it overrides
//     Config.DisableSPIFFECertValidation for that stream, either way;
//     other value types are ignored;
//   - otherwise Config.DisableSPIFFECertValidation (SPIRE's
//     agent { sds { disable_spiffe_cert_validation } });
//   - the node reports user_agent_build_version older than Envoy 1.18,
//     which lacks the SPIFFE validator.
//
// SPIRE also falls back to trusted_ca when the node reports no build version
// at all; real Envoys always report it, so this package treats a missing
// version as a current Envoy and keeps the SPIFFE validator.
//
// # Protocol
//
// Versions are opaque content hashes: the version of a response (and of each
// delta resource) changes exactly when the served bytes change, so a
// rotation yields a new version and an unchanged snapshot yields none. Every
// response has a fresh nonce. A request whose error_detail is set is a NACK:
// it is logged with Envoy's message and counted, and the rejected version is
// not sent again; the stream waits for new content or new names. State of
// the world requests carrying a stale nonce are ignored, as the xDS protocol
// allows. The delta protocol reads the node (and so the validator choice)
// from a stream's first request, as xDS lets Envoy send it only once. A
// stream ends when Envoy cancels it, when the server stops, with
// codes.Unavailable when the Source ends its watch, and with
// codes.PermissionDenied when the Source cannot watch the caller (a gRPC
// status from the Source passes through unchanged).
//
// Streams serving the same Snapshot share its rendered secrets, so a
// rotation costs one rendering plus one send per stream.
//
// # Why not go-control-plane's server and cache
//
// The protocol types are go-control-plane's. Its generic server and snapshot
// cache are not used: they key snapshots by node ID and share them between
// streams, while SDS secrets here are per stream: the agent attests the
// workload from each stream's peer credentials, so two Envoys with the same
// node ID can be different workloads with different private keys. As in
// SPIRE's agent, each stream runs one loop that selects over Envoy's
// requests and its own Watch, which makes pushes immediate (no polling) and
// keeps one workload's keys out of every other stream.
package sds
