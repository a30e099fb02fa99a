package helperconfig

import (
	"os"
	"syscall"
	"time"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Defaults, the same as spiffe-helper's.
const (
	DefaultCertFileMode      os.FileMode = 0o644
	DefaultKeyFileMode       os.FileMode = 0o600
	DefaultJWTBundleFileMode os.FileMode = 0o600
	DefaultJWTSVIDFileMode   os.FileMode = 0o600
	DefaultHealthBindPort                = 8081
	DefaultLivenessPath                  = "/live"
	DefaultReadinessPath                 = "/ready"
)

// TopLevel is the block of the file's top-level keys in Config.Lines (and
// in messages).
const TopLevel = "top level"

// Values of Config.WriteMode.
const (
	WriteModeAtomic = "atomic"
	WriteModePlain  = "plain"
)

// Values of Config.KeyEncoding.
const (
	KeyEncodingPKCS8 = "pkcs8"
	KeyEncodingPKCS1 = "pkcs1"
	KeyEncodingSEC1  = "sec1"
)

// Values of Config.RestartPolicy.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Config is the helper's configuration with defaults resolved.
type Config struct {
	// Source names the file the configuration was read from.
	Source string
	// Lines holds the line of each key Decode read, so that Validate can
	// name it; the zero value (a configuration built in code) has none.
	// Top-level keys are in block TopLevel, nested ones in "health_checks"
	// or "jwt_svids[0]", ...
	Lines hcldecode.Lines

	// AgentAddress is agent_address as written (a socket path or a
	// unix:// or tcp:// address); see WorkloadAPIAddress for the
	// environment fallback.
	AgentAddress string
	// Cmd is the program started after the first write and signalled after
	// every later one.
	Cmd string
	// CmdArgs is cmd_args split by SplitArgs.
	CmdArgs []string
	// PIDFileName names a file holding the pid of a process to signal.
	PIDFileName string
	// CertDir is the directory the files are written to.
	CertDir string
	// DaemonMode keeps the helper running (true, the default) or makes it
	// write once and exit (false).
	DaemonMode bool
	// AddIntermediatesToBundle moves intermediates from the SVID file to the
	// bundle file.
	AddIntermediatesToBundle bool
	// RenewSignal is the signal sent after each update; 0 when unset.
	RenewSignal syscall.Signal
	// RenewSignalName is the canonical name of RenewSignal ("SIGHUP"), or "".
	RenewSignalName string

	// SVIDFileName, SVIDKeyFileName and SVIDBundleFileName name the X.509
	// files; all three are set or none.
	SVIDFileName       string
	SVIDKeyFileName    string
	SVIDBundleFileName string

	// JWTSVIDs lists the JWT-SVIDs to fetch and write.
	JWTSVIDs []JWTSVID
	// JWTBundleFileName names the JWKS file of JWT bundles, or "".
	JWTBundleFileName string
	// IncludeFederatedDomains adds federated bundles to the bundle file.
	IncludeFederatedDomains bool
	// BundleDir names a subdirectory of CertDir receiving one PEM bundle
	// file per trust domain ("<trust domain>.pem"), or "" (svidkit extra).
	BundleDir string

	// File modes of the written files.
	CertFileMode      os.FileMode
	KeyFileMode       os.FileMode
	JWTBundleFileMode os.FileMode
	JWTSVIDFileMode   os.FileMode

	// Hint picks the SVID with this hint when several are served.
	Hint string
	// OmitExpired leaves expired CA certificates out of the bundle file.
	OmitExpired bool

	// Health configures the /live and /ready listener.
	Health Health

	// ExitTimeout bounds the one-shot wait for an SVID; 0 waits forever.
	ExitTimeout time.Duration
	// WriteMode is WriteModeAtomic or WriteModePlain.
	WriteMode string
	// KeyEncoding is KeyEncodingPKCS8, KeyEncodingPKCS1 or KeyEncodingSEC1.
	KeyEncoding string
	// CombinedFileName names an optional cert-chain-plus-key PEM file.
	CombinedFileName string
	// PKCS12FileName names an optional PKCS#12 keystore, encrypted with the
	// password in PKCS12PasswordFile.
	PKCS12FileName     string
	PKCS12PasswordFile string
	// PKCS12TrustStoreFileName names an optional PKCS#12 truststore holding
	// the bundle's CA certificates, encrypted with the same password.
	PKCS12TrustStoreFileName string
	// RestartPolicy is RestartNever, RestartOnFailure or RestartAlways.
	RestartPolicy string
	// MetricsBindAddress is a host:port for /metrics; "" means the health
	// listener serves /metrics when it is enabled.
	MetricsBindAddress string

	// Opt-outs of safety checks; see safety.go.
	Safety
}

// JWTSVID is one entry of jwt_svids.
type JWTSVID struct {
	// Audience is the required audience (jwt_audience).
	Audience string
	// ExtraAudiences are further audiences (jwt_extra_audiences).
	ExtraAudiences []string
	// FileName names the token file (jwt_svid_file_name).
	FileName string
}

// Health is the health_checks block.
type Health struct {
	// ListenerEnabled starts the HTTP health listener (daemon mode only).
	ListenerEnabled bool
	// BindPort is the TCP port of the listener.
	BindPort int
	// LivenessPath and ReadinessPath are the probe URL paths.
	LivenessPath  string
	ReadinessPath string
}

// New returns a Config holding every default.
func New() *Config {
	return &Config{
		DaemonMode:        true,
		CertFileMode:      DefaultCertFileMode,
		KeyFileMode:       DefaultKeyFileMode,
		JWTBundleFileMode: DefaultJWTBundleFileMode,
		JWTSVIDFileMode:   DefaultJWTSVIDFileMode,
		Health: Health{
			BindPort:      DefaultHealthBindPort,
			LivenessPath:  DefaultLivenessPath,
			ReadinessPath: DefaultReadinessPath,
		},
		WriteMode:     WriteModeAtomic,
		KeyEncoding:   KeyEncodingPKCS8,
		RestartPolicy: RestartNever,
	}
}

// X509Enabled reports whether the X.509 file names are set.
func (c *Config) X509Enabled() bool {
	return c.SVIDFileName != "" && c.SVIDKeyFileName != "" && c.SVIDBundleFileName != ""
}
