// Package sdsconfig holds the svidkit-sds bridge's settings: the runtime
// Config, its HCL file form (Decode, with every unknown key reported by
// name and file:line) and the listen address rules (a Unix socket, or TCP
// on loopback only).
//
// A complete file:
//
//	agent_address                  = "/run/svidkit/agent/api.sock"
//	listen_address                 = ["/run/svidkit-sds/sds.sock", "127.0.0.1:8234"]
//	listen_socket_mode             = "0660"
//	default_svid_name              = "default"
//	default_bundle_name            = "ROOTCA"
//	default_all_bundles_name       = "ALL"
//	disable_spiffe_cert_validation = false
//	log_level                      = "INFO"
//	log_format                     = "text"
//	health_checks {
//	  listener_enabled = true
//	  bind_address     = "127.0.0.1"
//	  bind_port        = 8081
//	  live_path        = "/live"
//	  ready_path       = "/ready"
//	}
package sdsconfig
