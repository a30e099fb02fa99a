// Package oidc is the server's OIDC discovery endpoint: the HTTPS (or, on
// loopback only, HTTP) listener that lets relying parties outside SPIFFE
// (AWS, GCP and Azure IAM, Vault, anything speaking OpenID Connect) verify
// JWT-SVIDs. It serves what SPIRE's separate oidc-discovery-provider
// serves, from inside the server and straight from the CA:
//
//   - /.well-known/openid-configuration: the discovery document (issuer,
//     jwks_uri, the fixed fields SPIRE writes), only to requests whose
//     Host (or X-Forwarded-Host) is an allowed domain, else 400;
//   - /keys: the trust domain's JWT signing keys as a JWKS, rebuilt when
//     the CA publishes a new bundle, at most MaxKeys of them (the newest;
//     AWS refuses larger sets), with an ETag so revalidation is cheap.
//
// Requests are bounded: GET and HEAD only, header and body timeouts,
// small headers, a cap on open connections.
package oidc
