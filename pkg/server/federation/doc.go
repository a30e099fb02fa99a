// Package federation serves this trust domain's bundle to foreign servers
// and keeps the bundles of foreign trust domains fresh, as SPIFFE
// Federation describes (SPIRE's bundle endpoint and bundle client).
//
// An Endpoint serves GET / over HTTPS in the SPIFFE bundle format, with
// spiffe_refresh_hint set to the configured refresh hint and the source's
// spiffe_sequence. It authenticates either with the server's own
// X.509-SVID (https_spiffe) or with a certificate and key read from files
// and reloaded when they change (https_web). Beyond SPIRE, responses carry
// a strong ETag and a matching If-None-Match gets 304 Not Modified, so a
// frequent poll costs a few hundred bytes. The marshalled document is
// built once per bundle change, not once per request.
//
// A Manager fetches the bundle of every federation relationship (static
// ones from the configuration merged with dynamic ones from the
// datastore; the configuration wins for the same trust domain, as in
// SPIRE), every quarter of the foreign refresh hint with a one-minute
// floor. It stores a fetched bundle only when it differs from the stored
// one and never replaces a stored bundle with a bad one: an unreachable
// endpoint, a TLS failure, a bad status, a body over the size cap, a
// document that is not a SPIFFE bundle, one whose authorities name
// another trust domain, or a sequence number lower than the stored one
// is logged with its reason, counted in
// svidkit_server_federation_fetch_failures_total{trust_domain,reason},
// and the last good bundle stays.
package federation
