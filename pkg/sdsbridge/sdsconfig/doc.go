// Package sdsconfig holds the svidkit-sds bridge's settings: the runtime
// Config, its HCL file form (Decode, with every unknown key reported by
// name and file:line) and the listen address rules (a Unix socket; TCP on
// loopback only, and only with allow_insecure_tcp = true, because any
// local user can connect to a loopback port and fetch the private keys).
//
// A complete file:
//
//	agent_address                  = "/run/svidkit/agent/api.sock"
//	listen_address                 = ["/run/svidkit-sds/sds.sock"]
//	allow_insecure_tcp             = false
//	listen_socket_mode             = "0660"
//	socket_dir_shared              = false
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
