// Package store defines what oidcron persists and the contract every backend
// meets. Backends live in subpackages (sqlite, and postgres later); the
// conformance suite in storetest runs the same behavioural tests against each.
//
// Records are Google's own protobuf messages, kept whole as a blob beside the
// few columns that are indexed or compared. The API layer owns validation and
// defaults; the store only keeps what it is given, atomically.
package store

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
)

// Sentinel errors. Backends return these (possibly wrapped) so that the API
// layer can map them to Google's status codes.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrEtagMismatch is returned by PutPolicy when the stored policy's etag is
	// not the one the caller read (optimistic concurrency).
	ErrEtagMismatch = errors.New("store: etag mismatch")
)

// EmptyPolicyEtag is the etag of a resource that has no stored policy: Google's
// etag of the empty policy ("ACAB" in base64). PutPolicy compares a non-nil
// expectEtag with it when nothing is stored, so the API layer and every
// backend must agree on this one value. A string constant, not a []byte
// variable, so that no caller can change it; use []byte(EmptyPolicyEtag).
const EmptyPolicyEtag = "\x00\x20\x01"

// Store is a backend. Every method of Tx called on the Store directly runs in
// its own transaction; InTx runs several as one.
type Store interface {
	Tx
	// InTx runs fn in one transaction: committed if fn returns nil, rolled
	// back otherwise (and on panic). fn may be retried by the backend on a
	// serialization failure, so it must not have side effects outside tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Page asks for at most Size records whose key sorts after After ("" = from
// the start); Size <= 0 means no limit. Backends return records in ascending
// key order (byte order of the key). After is valid UTF-8, as every key is
// (the API refuses page tokens that are not).
type Page struct {
	Size  int
	After string
}

// Tx is everything that can be read or written.
type Tx interface {
	// Cloud Scheduler's jobs and attempts (jobs.go).
	JobStore

	// Projects. The key is project_id; project numbers are unique too.
	// resourcemanagerpb.Project.Name is "projects/NUMBER".
	CreateProject(ctx context.Context, p *resourcemanagerpb.Project) error // ErrAlreadyExists on id or number
	GetProject(ctx context.Context, projectID string) (*resourcemanagerpb.Project, error)
	GetProjectByNumber(ctx context.Context, number int64) (*resourcemanagerpb.Project, error)
	ListProjects(ctx context.Context, page Page) ([]*resourcemanagerpb.Project, error) // ordered by project_id
	UpdateProject(ctx context.Context, p *resourcemanagerpb.Project) error             // ErrNotFound

	// IAM policies, keyed by canonical resource name (see iam.ResourceName):
	// "projects/ID", "projects/ID/serviceAccounts/EMAIL",
	// "projects/ID/locations/L/functions/F", "//oidcron" (the root).
	// GetPolicy returns ErrNotFound when no policy was ever set.
	GetPolicy(ctx context.Context, resource string) (*iampb.Policy, error)
	// PutPolicy stores p. When expectEtag is non-nil, the stored policy's etag
	// must equal it (a resource with no policy has the etag EmptyPolicyEtag)
	// or ErrEtagMismatch is returned and nothing is written. A nil expectEtag
	// overwrites blindly. The etag stored is p.Etag, as the caller computed it.
	PutPolicy(ctx context.Context, resource string, p *iampb.Policy, expectEtag []byte) error
	DeletePolicy(ctx context.Context, resource string) error // no error if absent
	// ListPolicies lists every stored policy by resource name (for changes
	// that touch every policy naming a principal, such as deleting it).
	ListPolicies(ctx context.Context, page Page) ([]ResourcePolicy, error)

	// Service accounts. Live accounts are unique by email and by unique_id; a
	// deleted account keeps its unique_id (for undelete) and frees its email.
	CreateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error // ErrAlreadyExists
	// GetServiceAccount finds a live account by email or unique id.
	GetServiceAccount(ctx context.Context, emailOrUniqueID string) (*adminpb.ServiceAccount, error)
	ListServiceAccounts(ctx context.Context, projectID string, page Page) ([]*adminpb.ServiceAccount, error) // live only, by email
	UpdateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error                              // by unique_id; ErrNotFound
	// DeleteServiceAccount marks the live account with this unique id deleted at t.
	DeleteServiceAccount(ctx context.Context, uniqueID string, at time.Time) error
	// GetDeletedServiceAccount finds a deleted account by unique id, with its deletion time.
	GetDeletedServiceAccount(ctx context.Context, uniqueID string) (*adminpb.ServiceAccount, time.Time, error)
	// UndeleteServiceAccount makes a deleted account live again; ErrAlreadyExists
	// if a live account now holds its email.
	UndeleteServiceAccount(ctx context.Context, uniqueID string) error

	// Functions (Cloud Functions v2 messages for both generations), keyed by
	// full name "projects/ID/locations/L/functions/F".
	CreateFunction(ctx context.Context, f *functionspb.Function) error // ErrAlreadyExists
	GetFunction(ctx context.Context, name string) (*functionspb.Function, error)
	// ListFunctions lists one project's functions in one location, or in all
	// locations when location is "-", ordered by name.
	ListFunctions(ctx context.Context, projectID, location string, page Page) ([]*functionspb.Function, error)
	UpdateFunction(ctx context.Context, f *functionspb.Function) error // ErrNotFound
	DeleteFunction(ctx context.Context, name string) error             // ErrNotFound

	// Long-running operations (all completed when stored), keyed by name.
	PutOperation(ctx context.Context, op *longrunningpb.Operation) error
	GetOperation(ctx context.Context, name string) (*longrunningpb.Operation, error)

	// Signing keys for the OIDC issuer.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error) // ordered by CreateTime
	PutSigningKey(ctx context.Context, k SigningKey) error     // insert or replace by KeyID
	DeleteSigningKey(ctx context.Context, keyID string) error  // no error if absent

	// Settings: small named values (the admin token, ...).
	GetSetting(ctx context.Context, name string) ([]byte, error) // ErrNotFound
	PutSetting(ctx context.Context, name string, value []byte) error
}

// ResourcePolicy is a stored policy and the resource it is set on.
type ResourcePolicy struct {
	Resource string
	Policy   *iampb.Policy
}

// SigningKey is one RSA key of the issuer and its life: published from
// CreateTime, used to sign from ActivateTime, no longer used to sign after
// RetireTime (zero while in use), and removed from the JWKS at DeleteTime
// (zero until retired).
type SigningKey struct {
	KeyID        string
	PrivateDER   []byte // PKCS#1 DER of the RSA private key
	CreateTime   time.Time
	ActivateTime time.Time
	RetireTime   time.Time
	DeleteTime   time.Time
}
