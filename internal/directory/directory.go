// Package directory answers "what exists, and what policy does it carry" for
// the parts of oidcron that decide access: iam.Authorize (as its
// PolicySource), identity's verifier (as its AccountSource) and the gateway's
// routing. It reads through the store and keeps a short-lived cache so the
// gateway does not pay a database round trip per request.
//
// Writers in this process call Invalidate after every change, so a grant is
// visible to the next request here at once. The TTL bounds how long another
// replica sharing the database can serve a stale answer (Google documents IAM
// changes as taking minutes to propagate; oidcron's bound is the TTL).
package directory

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/store"
)

// DefaultTTL bounds the staleness of a cached answer across replicas.
const DefaultTTL = time.Second

// Directory is safe for concurrent use.
type Directory struct {
	st  store.Store
	clk clock.Clock
	ttl time.Duration

	mu        sync.Mutex
	gen       uint64 // bumped by Invalidate: a load begun before it must not be cached after it
	entries   map[string]entry
	decisions map[decisionKey]decision
}

// decisionKey identifies one access question.
type decisionKey struct {
	member               string
	anonymous, disabled  bool
	permission, resource string
}

type decision struct {
	d       iam.Decision
	expires time.Time
}

// maxDecisions bounds the decision cache: a Decision carries its
// explanation, a few KB.
const maxDecisions = 10_000

type entry struct {
	val     any
	err     error
	expires time.Time
}

// New returns a Directory over st. ttl <= 0 means DefaultTTL.
func New(st store.Store, clk clock.Clock, ttl time.Duration) *Directory {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Directory{st: st, clk: clk, ttl: ttl, entries: map[string]entry{}, decisions: map[decisionKey]decision{}}
}

// Invalidate drops every cached answer. Writes are rare next to reads, so
// dropping everything is cheaper to get right than tracking dependencies.
func (d *Directory) Invalidate() {
	d.mu.Lock()
	d.gen++
	d.entries = map[string]entry{}
	d.decisions = map[decisionKey]decision{}
	d.mu.Unlock()
}

// Authorize is iam.Authorize over this directory, remembering each answer
// until the next write or the TTL. The gateway asks the same question for
// every request of a caller; the answer can only change with a write, and
// every write here calls Invalidate.
func (d *Directory) Authorize(ctx context.Context, sub iam.Subject, permission, resource string) (iam.Decision, error) {
	k := decisionKey{member: sub.Member, anonymous: sub.Anonymous, disabled: sub.Disabled, permission: permission, resource: resource}
	now := d.clk.Now()
	d.mu.Lock()
	c, ok := d.decisions[k]
	gen := d.gen
	d.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.d, nil
	}
	// The decision lives no longer than the oldest cached answer it was
	// made from: one read up to a TTL ago must not keep granting for a
	// further TTL (another replica's revocation reaches here in one TTL).
	src := &decisionSource{d: d, until: now.Add(d.ttl)}
	dec, err := iam.Authorize(ctx, src, sub, permission, resource)
	if err != nil {
		return dec, err
	}
	d.mu.Lock()
	if d.gen == gen { // no write since the policies were read
		if len(d.decisions) >= maxDecisions {
			d.decisions = map[decisionKey]decision{}
		}
		d.decisions[k] = decision{d: dec, expires: src.until}
	}
	d.mu.Unlock()
	return dec, nil
}

// cached returns the value for key, loading it on a miss. Not-found answers
// are cached too: a gateway flooded with requests for a missing function must
// not turn each into a query.
func cached[T any](ctx context.Context, d *Directory, key string, load func(context.Context) (T, error)) (T, error) {
	v, _, err := cachedUntil(ctx, d, key, load)
	return v, err
}

// cachedUntil is cached, also telling until when the answer is kept.
func cachedUntil[T any](ctx context.Context, d *Directory, key string, load func(context.Context) (T, error)) (T, time.Time, error) {
	now := d.clk.Now()
	d.mu.Lock()
	e, ok := d.entries[key]
	gen := d.gen
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		v, _ := e.val.(T)
		return v, e.expires, e.err
	}
	v, err := load(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, now, err // transient: do not cache
	}
	d.mu.Lock()
	if d.gen == gen { // a write since the load began may have made v stale
		if len(d.entries) > 100_000 { // bound memory under a scan of random names
			d.entries = map[string]entry{}
		}
		d.entries[key] = entry{val: v, err: err, expires: now.Add(d.ttl)}
	}
	d.mu.Unlock()
	return v, now.Add(d.ttl), err
}

// Project finds a project by id or by number.
func (d *Directory) Project(ctx context.Context, idOrNumber string) (*resourcemanagerpb.Project, error) {
	return cached(ctx, d, "project/"+idOrNumber, func(ctx context.Context) (*resourcemanagerpb.Project, error) {
		return LookupProject(ctx, d.st, idOrNumber)
	})
}

// LookupProject finds a project by id or number in tx, uncached.
func LookupProject(ctx context.Context, tx store.Tx, idOrNumber string) (*resourcemanagerpb.Project, error) {
	if isNumber(idOrNumber) {
		n, err := strconv.ParseInt(idOrNumber, 10, 64)
		if err == nil {
			if p, err := tx.GetProjectByNumber(ctx, n); err == nil || !errors.Is(err, store.ErrNotFound) {
				return p, err
			}
		}
	}
	return tx.GetProject(ctx, idOrNumber)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ServiceAccount finds a live service account by email or unique id.
func (d *Directory) ServiceAccount(ctx context.Context, emailOrUniqueID string) (*adminpb.ServiceAccount, error) {
	// Emails are case-insensitive and stored lowercase (account and project
	// ids are lowercase); unique ids are digits.
	key := strings.ToLower(emailOrUniqueID)
	return cached(ctx, d, "sa/"+key, func(ctx context.Context) (*adminpb.ServiceAccount, error) {
		return d.st.GetServiceAccount(ctx, key)
	})
}

// AccountByUniqueID implements identity.AccountSource: a token's subject
// is a unique id, and only that; an email in sub finds nothing.
func (d *Directory) AccountByUniqueID(ctx context.Context, uniqueID string) (identity.Account, error) {
	sa, err := d.ServiceAccount(ctx, uniqueID)
	if err != nil {
		return identity.Account{}, err
	}
	if sa.GetUniqueId() != uniqueID {
		return identity.Account{}, store.ErrNotFound
	}
	return AccountOf(sa), nil
}

// AccountOf converts a service account to the identity view of it.
func AccountOf(sa *adminpb.ServiceAccount) identity.Account {
	return identity.Account{Email: sa.GetEmail(), UniqueID: sa.GetUniqueId(), ProjectID: sa.GetProjectId(), Disabled: sa.GetDisabled()}
}

// Function finds a function by its full name.
func (d *Directory) Function(ctx context.Context, name string) (*functionspb.Function, error) {
	return cached(ctx, d, "fn/"+name, func(ctx context.Context) (*functionspb.Function, error) {
		return d.st.GetFunction(ctx, name)
	})
}

// Policy returns the policy stored on resource, or nil when none was set.
func (d *Directory) Policy(ctx context.Context, resource string) (*iampb.Policy, error) {
	p, _, err := d.policyUntil(ctx, resource)
	return p, err
}

// policyUntil is Policy, also telling until when the answer is kept.
func (d *Directory) policyUntil(ctx context.Context, resource string) (*iampb.Policy, time.Time, error) {
	p, until, err := cachedUntil(ctx, d, "policy/"+resource, func(ctx context.Context) (*iampb.Policy, error) {
		return d.st.GetPolicy(ctx, resource)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, until, nil
	}
	return p, until, err
}

// Ancestry implements iam.PolicySource: the resource's own policy, then its
// project's, then the root's. Resource names must be canonical (project ids,
// not numbers); CanonicalResource makes them so.
func (d *Directory) Ancestry(ctx context.Context, resource string) ([]iam.Node, error) {
	var until time.Time
	return d.ancestry(ctx, resource, &until)
}

// ancestry is Ancestry, lowering *until to the earliest time an answer it
// read is kept until.
func (d *Directory) ancestry(ctx context.Context, resource string, until *time.Time) ([]iam.Node, error) {
	var chain []iam.Node
	for r, ok := resource, true; ok; r, ok = iam.Parent(r) {
		p, kept, err := d.policyUntil(ctx, r)
		if err != nil {
			return nil, err
		}
		if until.IsZero() || kept.Before(*until) {
			*until = kept
		}
		chain = append(chain, iam.Node{Resource: r, Policy: p})
	}
	return chain, nil
}

// decisionSource is the PolicySource of one Authorize: until ends up the
// earliest time an answer the decision was made from is kept until.
type decisionSource struct {
	d     *Directory
	until time.Time
}

func (s *decisionSource) Ancestry(ctx context.Context, resource string) ([]iam.Node, error) {
	return s.d.ancestry(ctx, resource, &s.until)
}

// CanonicalResource rewrites a resource name that names its project by
// number ("projects/123456789012/...") to the project-id form under which
// policies are stored. Names of unknown projects are returned unchanged.
func (d *Directory) CanonicalResource(ctx context.Context, resource string) string {
	rest, ok := strings.CutPrefix(resource, "projects/")
	if !ok {
		return resource
	}
	id, tail, _ := strings.Cut(rest, "/")
	if !isNumber(id) {
		return resource
	}
	p, err := d.Project(ctx, id)
	if err != nil {
		return resource
	}
	if tail == "" {
		return "projects/" + p.GetProjectId()
	}
	return "projects/" + p.GetProjectId() + "/" + tail
}

// Account resolves an email or unique id to the identity view of a live
// service account (an identity.AccountLookup).
func (d *Directory) Account(ctx context.Context, emailOrUniqueID string) (identity.Account, error) {
	sa, err := d.ServiceAccount(ctx, emailOrUniqueID)
	if err != nil {
		return identity.Account{}, err
	}
	return AccountOf(sa), nil
}
