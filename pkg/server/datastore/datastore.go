// Package datastore defines the server's persistent state — registration
// entries, attested agents, join tokens, trust bundles and federation
// relationships — behind the Store
// interface. Implementations live in sub-packages (sqlite; postgres later) and
// must all pass the shared semantics tests in datastore/storetest.
package datastore

import (
	"context"
	"errors"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
)

// Errors returned by every Store implementation. Callers test them with
// errors.Is; implementations wrap them with context.
var (
	// ErrNotFound reports that the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists reports a create that collides with an existing record
	// (same entry ID, or same SPIFFE ID + parent ID + selectors).
	ErrAlreadyExists = errors.New("already exists")
	// ErrExpired reports a join token used after its expiry.
	ErrExpired = errors.New("expired")
	// ErrConflict reports an update whose expected revision is stale.
	ErrConflict = errors.New("conflict")
	// ErrBanned reports a write refused because the agent is banned.
	ErrBanned = errors.New("banned")
	// ErrUnavailable reports that the store cannot reach its database for
	// now (PostgreSQL restarting, unreachable, refusing connections): the
	// same call may succeed later. The server answers Unavailable and
	// keeps serving agents from what it holds in memory.
	ErrUnavailable = errors.New("datastore unavailable")
)

// Entry is a registration entry: the workload (or node group) described by
// Selectors, running under ParentID, is issued SPIFFEID.
type Entry struct {
	// ID is assigned by the store when empty on create (a random UUID).
	ID       string
	SPIFFEID string
	ParentID string
	// Selectors are kept sorted and de-duplicated.
	Selectors     selector.Set
	X509SVIDTTL   int32 // seconds; 0 means the server default
	JWTSVIDTTL    int32 // seconds; 0 means the server default
	DNSNames      []string
	Hint          string
	Admin         bool
	Downstream    bool
	FederatesWith []string // trust domain names
	// ExpiresAt is the entry's own expiry (Unix seconds); 0 means never.
	ExpiresAt int64
	// RevisionNumber starts at 0 and grows by one on every update.
	RevisionNumber int64
	// CreatedAt is Unix seconds, set by the store on create.
	CreatedAt int64
	// Owner marks an entry managed by an in-process writer, such as the
	// Kubernetes registrar ("k8s-registrar:<cluster>:pods"), which
	// reconciles only the entries carrying its mark and never touches
	// others; empty for entries made through the entry API. It is set on
	// create and kept by UpdateEntry, whatever e.Owner says.
	Owner string
}

// EntryFilter narrows ListEntries. Zero fields do not filter.
type EntryFilter struct {
	SPIFFEID string
	ParentID string
	// Selectors with SelectorMatch select entries by their selectors.
	Selectors     selector.Set
	SelectorMatch SelectorMatch
	Hint          string
	// Downstream filters on the downstream flag when non-nil.
	Downstream *bool
	// FederatesWith selects entries that federate with any of these trust
	// domains. The entry API's by_federates_with (four match modes)
	// narrows with it and then applies its own mode.
	FederatesWith []string
	// Owner selects the entries with this Entry.Owner mark.
	Owner string
}

// SelectorMatch says how EntryFilter.Selectors compare with an entry's
// selectors; the names follow SPIRE's types.SelectorMatch.
type SelectorMatch int

const (
	// MatchExact selects entries whose selectors equal the filter's.
	MatchExact SelectorMatch = iota
	// MatchSubset selects entries whose selectors are a subset of the filter's.
	MatchSubset
	// MatchSuperset selects entries whose selectors include all of the filter's.
	MatchSuperset
	// MatchAny selects entries that share at least one selector with the filter.
	MatchAny
)

// Agent is an attested node.
type Agent struct {
	// SPIFFEID is the agent's ID, e.g. spiffe://td/spire/agent/join_token/<t>.
	SPIFFEID string
	// AttestationType is the node attestor that admitted it ("join_token").
	AttestationType string
	// Selectors are the node selectors produced by attestation.
	Selectors selector.Set
	// SerialNumber is the serial of the agent's current SVID (decimal).
	SerialNumber string
	// NewSerialNumber is the serial of an SVID issued by RenewAgent that the
	// agent has not used yet; it becomes SerialNumber on first use.
	NewSerialNumber string
	// ExpiresAt is the expiry of the current agent SVID.
	ExpiresAt time.Time
	Banned    bool
	// CanReattest says the agent may re-attest (not true for join tokens).
	CanReattest bool
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// JoinToken is a single-use attestation secret.
type JoinToken struct {
	Token     string
	ExpiresAt time.Time
}

// Bundle is a trust domain's bundle in the SPIFFE bundle JSON (JWKS) form.
type Bundle struct {
	TrustDomain string
	// Data is the SPIFFE bundle document (spiffebundle.Bundle.Marshal).
	Data []byte
}

// Store is the server's persistent state. Every method is safe for
// concurrent use. Implementations wrap the package's sentinel errors.
type Store interface {
	// CreateEntry stores e, assigning ID when empty and CreatedAt, and returns
	// the stored entry. Creating an entry with the same SPIFFE ID, parent ID
	// and selectors as an existing one fails with ErrAlreadyExists; one
	// whose FederatesWith names a trust domain without a stored bundle
	// fails with ErrNoFederatedBundle, naming that trust domain.
	CreateEntry(ctx context.Context, e *Entry) (*Entry, error)
	// UpdateEntry replaces the entry with e.ID, increments its revision and
	// returns the stored entry; ErrNotFound if absent, ErrNoFederatedBundle
	// as CreateEntry.
	UpdateEntry(ctx context.Context, e *Entry) (*Entry, error)
	// DeleteEntry removes and returns the entry; ErrNotFound if absent.
	DeleteEntry(ctx context.Context, id string) (*Entry, error)
	// GetEntry returns one entry; ErrNotFound if absent.
	GetEntry(ctx context.Context, id string) (*Entry, error)
	// ListEntries returns the entries matching f, ordered by ID.
	ListEntries(ctx context.Context, f EntryFilter) ([]*Entry, error)
	// CountEntries returns the number of entries.
	CountEntries(ctx context.Context) (int, error)
	// EntriesRevision returns a counter that changes whenever any entry is
	// created, updated or deleted, by this or another server process sharing
	// the database. Callers use it to cheaply detect change.
	EntriesRevision(ctx context.Context) (int64, error)
	// EntryChangesSince returns the IDs of the entries created, updated or
	// deleted after revision since, up to the current revision, from the
	// store's change log, and, when they are complete and at most
	// maxEntries, the stored entries among them (EntriesRead), all read in
	// one snapshot and, on PostgreSQL, one round trip: a server applies a
	// write made through another to its entry cache with this one call.
	// The log keeps the most recent revisions only (see
	// DefaultEntryChangesKept); when it no longer reaches back to since, or
	// since is negative or ahead of the store, Complete is false and the
	// caller must read every entry instead.
	EntryChangesSince(ctx context.Context, since int64, maxEntries int) (EntryChanges, error)

	// CreateAgent stores a new agent; ErrAlreadyExists if the ID is taken.
	CreateAgent(ctx context.Context, a *Agent) (*Agent, error)
	// UpdateAgent replaces the stored agent with a.SPIFFEID; ErrNotFound if absent.
	UpdateAgent(ctx context.Context, a *Agent) (*Agent, error)
	// ReattestAgent replaces the stored agent with a.SPIFFEID, as
	// UpdateAgent does, in the same transaction as the check that it is
	// not banned: ErrBanned if it is (nothing is written, so a ban that
	// raced a re-attestation stands), ErrNotFound if absent.
	ReattestAgent(ctx context.Context, a *Agent) (*Agent, error)
	// AttestAgent records an attested agent in one transaction, with
	// everything attestation must change: when joinToken is not empty it
	// spends that token (ErrNotFound when it does not exist or was used,
	// ErrExpired when it expired before now), then creates the agent or,
	// when one with a.SPIFFEID exists, replaces it unless it is banned
	// (ErrBanned). Nothing is written on any error, and the transaction
	// is rolled back instead of committed when ctx is done by then: a
	// server never spends a join token for a caller that is no longer
	// waiting for the answer, so the caller can retry with it.
	AttestAgent(ctx context.Context, a *Agent, joinToken string, now time.Time) (*Agent, error)
	// GetAgent returns one agent; ErrNotFound if absent.
	GetAgent(ctx context.Context, spiffeID string) (*Agent, error)
	// ListAgents returns every agent ordered by SPIFFE ID.
	ListAgents(ctx context.Context) ([]*Agent, error)
	// DeleteAgent removes an agent; ErrNotFound if absent.
	DeleteAgent(ctx context.Context, spiffeID string) error
	// AgentChangesSince returns the SPIFFE IDs of the agents created,
	// updated or deleted after agents revision since, up to the current
	// revision, by this or another server process sharing the database:
	// every agent write advances the revision and logs the agent in the
	// same transaction. Servers keep agent records in memory and re-read
	// only the agents it names. The log keeps the most recent revisions
	// (as the entry change log, see DefaultEntryChangesKept); when it no
	// longer reaches back to since, since is negative or ahead of the
	// store, Complete is false and the caller must consider every agent
	// changed.
	AgentChangesSince(ctx context.Context, since int64) (AgentChanges, error)

	// CreateJoinToken stores a token; ErrAlreadyExists if it is taken.
	CreateJoinToken(ctx context.Context, t *JoinToken) error
	// ConsumeJoinToken atomically deletes the token and returns it. A token
	// that does not exist (or was already used) gives ErrNotFound; one whose
	// ExpiresAt is before now is deleted and gives ErrExpired.
	ConsumeJoinToken(ctx context.Context, token string, now time.Time) (*JoinToken, error)
	// PruneJoinTokens deletes tokens that expired before the given time.
	PruneJoinTokens(ctx context.Context, before time.Time) error

	// SetBundle creates or replaces a trust domain's bundle.
	SetBundle(ctx context.Context, b *Bundle) error
	// UpdateBundle reads the trust domain's bundle (nil when there is
	// none), passes it to fn and stores the bundle fn returns, in one
	// transaction that excludes the bundle's other writers, so that
	// concurrent read-modify-writes (servers sharing the database, each
	// appending its own authorities) never lose one another's change. fn
	// may be called more than once and must depend only on its argument;
	// its error aborts the update. The stored bundle is returned; storing
	// the data already there changes nothing, as SetBundle.
	UpdateBundle(ctx context.Context, trustDomain string, fn func(cur *Bundle) (*Bundle, error)) (*Bundle, error)
	// CreateBundle stores a new bundle; ErrAlreadyExists if the trust
	// domain has one.
	CreateBundle(ctx context.Context, b *Bundle) error
	// GetBundle returns a trust domain's bundle; ErrNotFound if absent.
	GetBundle(ctx context.Context, trustDomain string) (*Bundle, error)
	// ListBundles returns every stored bundle ordered by trust domain.
	ListBundles(ctx context.Context) ([]*Bundle, error)
	// DeleteBundle removes a bundle; ErrNotFound if absent. mode says
	// what happens to the entries that federate with the trust domain
	// (ErrInUse under DeleteRestrict when there are any); the change to
	// them and the deletion commit together.
	DeleteBundle(ctx context.Context, trustDomain string, mode BundleDeleteMode) error
	// BundlesRevision returns a counter that changes whenever a bundle is
	// created, changed or deleted (by any method, relationships' bundles
	// included), by this or another server process sharing the database;
	// setting a bundle to the data it already has leaves it alone. Servers
	// watch it to push bundle changes to agents.
	BundlesRevision(ctx context.Context) (int64, error)

	// CreateFederationRelationship validates and stores a new relationship
	// (and its TrustDomainBundle, if set, in the same transaction),
	// setting CreatedAt and UpdatedAt; ErrAlreadyExists if the trust
	// domain has one.
	CreateFederationRelationship(ctx context.Context, r *FederationRelationship) (*FederationRelationship, error)
	// GetFederationRelationship returns one relationship with the trust
	// domain's stored bundle; ErrNotFound if absent.
	GetFederationRelationship(ctx context.Context, trustDomain string) (*FederationRelationship, error)
	// ListFederationRelationships returns every relationship, with its
	// stored bundle, ordered by trust domain.
	ListFederationRelationships(ctx context.Context) ([]*FederationRelationship, error)
	// UpdateFederationRelationship validates r and replaces the endpoint
	// fields of the relationship with r.TrustDomain, keeping CreatedAt and
	// setting UpdatedAt; a set TrustDomainBundle replaces the stored
	// bundle in the same transaction, a nil one leaves it. ErrNotFound if
	// absent.
	UpdateFederationRelationship(ctx context.Context, r *FederationRelationship) (*FederationRelationship, error)
	// DeleteFederationRelationship removes a relationship, keeping the
	// trust domain's bundle (as SPIRE); ErrNotFound if absent.
	DeleteFederationRelationship(ctx context.Context, trustDomain string) error

	// Close releases the database.
	Close() error
}

// ChangeNotifier is implemented by stores that announce entry, bundle and
// agent writes as they commit, so that a server wakes its held syncs and
// drops its in-memory agent records at once instead of at its next
// revision check, and can make that check rare. PostgreSQL announces the
// writes of every process sharing the database; SQLite, which one server
// process holds alone, those made through the Store itself (a Shared
// handle's writes are seen at the next check). An announcement says only
// that EntriesRevision, BundlesRevision or the agents revision may have
// changed; a store may announce spuriously (after reconnecting, say) and
// never loses the last announcement of a burst.
type ChangeNotifier interface {
	// SubscribeChanges returns a channel of size one that receives after
	// each committed write (bursts collapse), and a function that ends the
	// subscription.
	SubscribeChanges() (changes <-chan struct{}, cancel func())
}
