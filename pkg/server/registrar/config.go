package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/client-go/rest"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Defaults of Config.
const (
	DefaultLeaseDuration  = 15 * time.Second
	DefaultRenewDeadline  = 10 * time.Second
	DefaultRetryPeriod    = 2 * time.Second
	DefaultResyncInterval = 10 * time.Minute
	DefaultWorkers        = 4
	// DefaultStatusDelay batches status writes: a resource's status is
	// written at most this often while its pods change.
	DefaultStatusDelay = time.Second
)

// Store is what the registrar needs of the datastore.
type Store interface {
	CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error)
	UpdateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error)
	DeleteEntry(ctx context.Context, id string) (*datastore.Entry, error)
	ListEntries(ctx context.Context, f datastore.EntryFilter) ([]*datastore.Entry, error)
	CreateFederationRelationship(ctx context.Context, r *datastore.FederationRelationship) (*datastore.FederationRelationship, error)
	GetFederationRelationship(ctx context.Context, trustDomain string) (*datastore.FederationRelationship, error)
	UpdateFederationRelationship(ctx context.Context, r *datastore.FederationRelationship) (*datastore.FederationRelationship, error)
	DeleteFederationRelationship(ctx context.Context, trustDomain string) error
}

// Reconcile says which resources the registrar acts on.
type Reconcile struct {
	ClusterSPIFFEIDs             bool
	ClusterStaticEntries         bool
	ClusterFederatedTrustDomains bool
}

// Config configures a Registrar.
type Config struct {
	// TrustDomain is the server's trust domain. Required.
	TrustDomain spiffeid.TrustDomain
	// ClusterName names the cluster in agent IDs, templates and the
	// owner mark. Required.
	ClusterName string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// IgnoreNamespaces are namespaces whose pods are never registered.
	IgnoreNamespaces []string
	// ParentIDTemplate, ClassName and WatchClassless as render.Config and
	// render.ClassMatches.
	ParentIDTemplate string
	ClassName        string
	WatchClassless   bool
	// Reconcile selects the resources acted on.
	Reconcile Reconcile

	// REST reaches the apiserver. Required.
	REST *rest.Config
	// Store is the server's datastore. Required.
	Store Store
	// ValidateEntry checks rendered entries as the entry API would
	// (server.ValidateEntry); nil applies datastore.Entry.Validate.
	ValidateEntry func(*datastore.Entry) error
	// RelationshipsChanged is told of federation relationship writes (the
	// federation manager's RelationshipsChanged); may be nil.
	RelationshipsChanged func()

	// LeaseNamespace and LeaseName locate the Lease that elects the
	// reconciling server; defaults: the server's namespace (as the
	// service account mount says, else "default") and
	// "svidkit-registrar-<cluster name>".
	LeaseNamespace, LeaseName string
	// Identity names this server in the Lease; default hostname plus a
	// random suffix.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod time the Lease
	// election (client-go's algorithm, leader.go); defaults 15 s, 10 s
	// and 2 s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ResyncInterval is how often the registrar re-reads its entries from
	// the datastore and re-renders every pod, writing only differences;
	// default 10 minutes.
	ResyncInterval time.Duration
	// StatusDelay batches status writes; default DefaultStatusDelay.
	StatusDelay time.Duration
	// Workers reconcile in parallel (never the same key); default 4.
	Workers int

	// Log defaults to slog.Default().
	Log *slog.Logger
	// Registerer receives the metrics; nil disables them.
	Registerer prometheus.Registerer
}

// serviceAccountNamespace is where a pod's namespace is mounted.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// withDefaults checks c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.TrustDomain.IsZero() {
		errs = append(errs, errors.New("trust domain is required"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster_name is required"))
	}
	if c.REST == nil {
		errs = append(errs, errors.New("kubernetes client configuration is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("datastore is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("registrar: %w", err)
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = PodNamespace()
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = "default"
	}
	if c.LeaseName == "" {
		c.LeaseName = "svidkit-registrar-" + c.ClusterName
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = host + "_" + uuid.NewString()
	}
	setDefault(&c.LeaseDuration, DefaultLeaseDuration)
	setDefault(&c.RenewDeadline, DefaultRenewDeadline)
	setDefault(&c.RetryPeriod, DefaultRetryPeriod)
	setDefault(&c.ResyncInterval, DefaultResyncInterval)
	setDefault(&c.StatusDelay, DefaultStatusDelay)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Owner marks of the registrar's entries in the datastore.
func (c Config) podOwner() string    { return "k8s-registrar:" + c.ClusterName + ":pods" }
func (c Config) staticOwner() string { return "k8s-registrar:" + c.ClusterName + ":static" }
