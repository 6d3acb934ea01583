package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// KeyStore is the part of store.Store the key set uses; store.Store
// satisfies it.
type KeyStore interface {
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
}

var _ KeyStore = store.Store(nil)

// KeyOptions configures a KeySet. Zero values take the defaults.
type KeyOptions struct {
	// RotationPeriod is how long an issuer key signs before its successor
	// takes over (default 24h, Google's "about once per day"). It is also the
	// signing life of a per-account key.
	RotationPeriod time.Duration
	// TokenLifetime is the lifetime of ID tokens (default 1h, as Google's:
	// exp = iat + 3600) and the longest an access token may live. A retired
	// issuer key stays published this long (plus a margin) after it last
	// signed.
	TokenLifetime time.Duration
	// CheckInterval is how often Run maintains the set and so re-reads keys
	// another replica may have created (default min(1m, RotationPeriod/8)).
	CheckInterval time.Duration
	// Logger receives Run's errors (default slog.Default()).
	Logger *slog.Logger

	// generate makes a new RSA key; tests swap in a pool of pre-made keys
	// because 2048-bit generation costs tens of milliseconds each.
	generate func() (*rsa.PrivateKey, error)
}

const (
	keyBits               = 2048
	defaultRotationPeriod = 24 * time.Hour
	defaultTokenLifetime  = time.Hour
	defaultCheckInterval  = time.Minute

	// clockSkew is the tolerance for clocks that disagree a little: between
	// replicas (one may still sign with a key another has just retired) and
	// between issuer and verifier. Retired keys stay published this much
	// longer than their last token, and an iat up to this far in the future
	// is accepted.
	clockSkew = 5 * time.Minute

	// accountKeyGrace is how long a per-account key stays published after it
	// last signed. Google documents that the key used by signJwt/signBlob
	// "will remain valid for at least 12 hours after the JWT is signed", and
	// signJwt accepts an exp up to 12 hours ahead.
	accountKeyGrace = 12 * time.Hour

	// maxJWKSMaxAge caps the Cache-Control max-age of the key documents.
	// Google serves about 6h; we choose 1h so that a key deleted early (a
	// compromise) leaves caches sooner. It is safe because the next key is
	// published at least RotationPeriod/2 (12h by default) before it signs,
	// so any cached copy already lists it; see KeySet.CacheMaxAge.
	maxJWKSMaxAge = time.Hour

	// unknownKeyReloadInterval rate-limits the store reads that an unknown
	// kid triggers, so that tokens with made-up kids cannot hammer the store.
	unknownKeyReloadInterval = 10 * time.Second

	accountKeyPrefix = "serviceAccounts/"
	accountKeyInfix  = "/keys/"
)

// KeySet is the issuer's RS256 key set and the per-account signing keys,
// persisted in the store and held in memory as an immutable snapshot.
//
// Life of an issuer key (see store.SigningKey): created and published as the
// "next" key with an ActivateTime in the future; signs from ActivateTime
// until its successor's ActivateTime (which becomes its RetireTime); stays
// published until RetireTime + TokenLifetime + clockSkew (DeleteTime), by
// when every token it signed has expired; then deleted.
//
// Which key signs is decided by time from the stored schedule, not by when
// Maintain runs: every replica that has loaded the next key switches to it
// at the same instant, and the store bookkeeping (RetireTime, DeleteTime,
// the key after next) follows at the next Maintain.
type KeySet struct {
	st   KeyStore
	clk  clock.Clock
	opts KeyOptions
	log  *slog.Logger

	snap atomic.Pointer[keySnapshot]

	// writeMu serializes this process's transactions and snapshot installs,
	// so snapshots are installed in commit order and a slow reader never
	// replaces a newer snapshot with an older one.
	writeMu sync.Mutex
	// accountMu serializes creating per-account keys in this process, so
	// that concurrent first signJwt calls for one account create one key.
	accountMu sync.Mutex

	// Re-reads of the store on a miss, rate-limited: an unknown issuer kid
	// (verification) and an account without a signer (its documents) each
	// have their own, so that requests for one cannot starve the other.
	issuerMiss, accountMiss missLimiter

	onMaintain func(error) // test hook: called by Run after each Maintain
}

// keySnapshot is the key set as loaded at one moment; never mutated.
type keySnapshot struct {
	all      map[string]*signingKey   // by store KeyID
	issuer   []*signingKey            // issuer keys by ActivateTime
	byKid    map[string]*signingKey   // issuer keys by kid
	accounts map[string][]*signingKey // per-account keys by unique id, by ActivateTime
}

type signingKey struct {
	rec     store.SigningKey
	kid     string
	account string // unique id for a per-account key, "" for an issuer key
	priv    *rsa.PrivateKey
	jwt     jose.Signer // header typ "JWT": ID tokens, signJwt
	access  jose.Signer // header typ "at+jwt": access tokens (issuer keys only)
	cert    *lazyCert
}

type lazyCert struct {
	once sync.Once
	pem  string
	err  error
}

// NewKeySet loads the keys from st and, on first start (or when maintenance
// is due), creates or rotates them.
func NewKeySet(ctx context.Context, st KeyStore, clk clock.Clock, opts KeyOptions) (*KeySet, error) {
	if opts.RotationPeriod == 0 {
		opts.RotationPeriod = defaultRotationPeriod
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = defaultTokenLifetime
	}
	if opts.RotationPeriod < 0 {
		return nil, fmt.Errorf("identity: rotation period %v must be positive", opts.RotationPeriod)
	}
	if opts.TokenLifetime < time.Second {
		return nil, fmt.Errorf("identity: token lifetime %v must be at least 1s", opts.TokenLifetime)
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = min(defaultCheckInterval, opts.RotationPeriod/8)
	}
	if opts.CheckInterval <= 0 {
		return nil, fmt.Errorf("identity: check interval %v must be positive", opts.CheckInterval)
	}
	if opts.generate == nil {
		opts.generate = func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, keyBits) }
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	k := &KeySet{st: st, clk: clk, opts: opts, log: log}
	k.snap.Store(&keySnapshot{all: map[string]*signingKey{}, byKid: map[string]*signingKey{}, accounts: map[string][]*signingKey{}})
	if err := k.Maintain(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Options returns the options in effect (defaults filled in).
func (k *KeySet) Options() KeyOptions { return k.opts }

// Reload re-reads the keys from the store (another replica may have
// rotated).
func (k *KeySet) Reload(ctx context.Context) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	recs, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("identity: loading signing keys: %w", err)
	}
	return k.install(recs)
}

// errNeedKeys aborts a transaction that found more keys to create than were
// generated beforehand; the caller generates them and tries again.
var errNeedKeys = errors.New("identity: more new keys needed")

// Maintain brings the stored key set up to date at the clock's now: it
// creates the first keys, retires keys whose successor has taken over,
// creates the next key, retires per-account keys past their signing life,
// and deletes keys past their DeleteTime. It then installs what it wrote.
//
// It runs in one store transaction that re-reads the keys first, so two
// processes calling it at once rotate once: the second sees the first's
// work and has nothing to do. Calling it again at once does nothing.
func (k *KeySet) Maintain(ctx context.Context) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	now := k.clk.Now()

	// Most calls find nothing due: a plain read (no write lock) refreshes
	// the snapshot and ends there.
	recs, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("identity: loading signing keys: %w", err)
	}
	plan := planMaintenance(recs, now, k.opts)
	if plan.empty() {
		return k.install(recs)
	}
	// RSA generation takes tens of milliseconds: the keys are made before
	// the transaction (commit).
	fresh, err := k.generateN(len(plan.create))
	if err != nil {
		return err
	}
	if err := k.commit(ctx, fresh, func(recs []store.SigningKey) keyPlan { return planMaintenance(recs, now, k.opts) }); err != nil {
		return fmt.Errorf("identity: maintaining signing keys: %w", err)
	}
	return nil
}

// commit writes, in one transaction that re-reads the keys first, what
// plan decides from them, and installs the result. New keys come from
// fresh, made beforehand so that RSA generation never holds the store's
// write lock; if the store changed meanwhile and the plan needs more, it
// generates them and tries again. The caller holds writeMu.
func (k *KeySet) commit(ctx context.Context, fresh []*rsa.PrivateKey, plan func([]store.SigningKey) keyPlan) error {
	for attempt := 0; ; attempt++ {
		var final []store.SigningKey
		short := 0
		err := k.st.InTx(ctx, func(tx store.Tx) error {
			recs, err := tx.ListSigningKeys(ctx)
			if err != nil {
				return err
			}
			p := plan(recs)
			if len(p.create) > len(fresh) {
				short = len(p.create) - len(fresh)
				return errNeedKeys
			}
			if p.empty() {
				final = recs
				return nil
			}
			for _, id := range p.deletes {
				if err := tx.DeleteSigningKey(ctx, id); err != nil {
					return err
				}
			}
			for _, r := range p.updates {
				if err := tx.PutSigningKey(ctx, r); err != nil {
					return err
				}
			}
			for i, slot := range p.create {
				r, err := newRecord(fresh[i], slot.account, slot.create, slot.activate)
				if err != nil {
					return err
				}
				if err := tx.PutSigningKey(ctx, r); err != nil {
					return err
				}
			}
			final, err = tx.ListSigningKeys(ctx)
			return err
		})
		if errors.Is(err, errNeedKeys) && attempt < 3 {
			more, gerr := k.generateN(short)
			if gerr != nil {
				return gerr
			}
			fresh = append(fresh, more...)
			continue
		}
		if err != nil {
			return err
		}
		return k.install(final)
	}
}

// Run calls Maintain every CheckInterval until ctx is done, logging errors
// (the next round retries). Besides rotating, each round re-reads keys that
// other replicas created, so every replica knows the next key long before
// it signs.
func (k *KeySet) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	for {
		err := k.Maintain(ctx)
		if err != nil && ctx.Err() == nil {
			k.log.Error("identity: key maintenance failed", "err", err)
		}
		t := k.clk.AfterFunc(k.opts.CheckInterval, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		if k.onMaintain != nil {
			k.onMaintain(err)
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
		}
	}
}

// CacheMaxAge is the Cache-Control max-age of the JWKS and certificate
// documents: at most 1h, and at most a quarter of the rotation period so
// that a cached copy is always younger than the next key's pre-publication
// lead (at least RotationPeriod/2).
func (k *KeySet) CacheMaxAge() time.Duration {
	return min(maxJWKSMaxAge, k.opts.RotationPeriod/4).Truncate(time.Second)
}

// JWKS returns the published issuer keys: the next key (pre-published), the
// active one and the retired ones still in their grace period.
func (k *KeySet) JWKS() jose.JSONWebKeySet {
	now := k.clk.Now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range k.snap.Load().publishedIssuer(now) {
		set.Keys = append(set.Keys, sk.publicJWK())
	}
	return set
}

// PEMCerts returns the published issuer keys as {kid: x509 PEM}, the shape
// of Google's /oauth2/v1/certs.
func (k *KeySet) PEMCerts() (map[string]string, error) {
	return pemCerts(k.snap.Load().publishedIssuer(k.clk.Now()))
}

// AccountJWKS returns the published per-account keys of one account.
func (k *KeySet) AccountJWKS(uniqueID string) jose.JSONWebKeySet {
	now := k.clk.Now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range k.snap.Load().publishedAccount(uniqueID, now) {
		set.Keys = append(set.Keys, sk.publicJWK())
	}
	return set
}

// AccountPEMCerts returns one account's published keys as {kid: x509 PEM}.
func (k *KeySet) AccountPEMCerts(uniqueID string) (map[string]string, error) {
	return pemCerts(k.snap.Load().publishedAccount(uniqueID, k.clk.Now()))
}

func pemCerts(keys []*signingKey) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, sk := range keys {
		p, err := sk.certPEM()
		if err != nil {
			return nil, err
		}
		out[sk.kid] = p
	}
	return out, nil
}

// issuerSigner returns the issuer key that signs at now.
func (k *KeySet) issuerSigner(now time.Time) (*signingKey, error) {
	if sk := k.snap.Load().issuerSignerAt(now); sk != nil {
		return sk, nil
	}
	return nil, fmt.Errorf("identity: %w: no issuer key is active at %s (has Maintain run?)", ErrNoSigningKey, now.UTC().Format(time.RFC3339))
}

// issuerKey returns the published issuer key with this kid, re-reading the
// store once (rate-limited) on a miss in case another replica created it.
// The error, if any, is the reload's; nil key and nil error mean unknown.
func (k *KeySet) issuerKey(ctx context.Context, kid string) (*signingKey, error) {
	known := func() *signingKey { return k.snap.Load().publishedIssuerKid(kid, k.clk.Now()) }
	if sk := known(); sk != nil {
		return sk, nil
	}
	if err := k.issuerMiss.reload(k.clk.Now(), func() bool { return known() != nil }, func() error { return k.Reload(ctx) }); err != nil {
		return nil, err
	}
	return known(), nil
}

// missLimiter serializes the store re-reads that misses trigger and lets
// one through per unknownKeyReloadInterval, so that made-up kids or names
// cannot hammer the store.
type missLimiter struct {
	mu   sync.Mutex
	last time.Time
}

// reload calls load, unless found holds once the lock is held (another
// caller reloaded meanwhile) or a reload ran within the interval.
func (m *missLimiter) reload(now time.Time, found func() bool, load func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if found() || (!m.last.IsZero() && now.Sub(m.last) < unknownKeyReloadInterval) {
		return nil
	}
	m.last = now
	return load()
}

// published reports whether the issuer key kid is still published at now.
func (k *KeySet) published(kid string, now time.Time) bool {
	return k.snap.Load().publishedIssuerKid(kid, now) != nil
}

// accountSigner returns the key that signs for the account now. When the
// account has no such key, or that key has no successor yet, it creates
// what is missing (planAccountKeys) in a transaction that first looks for
// keys another replica made.
//
// A successor is made at the first signature of its predecessor and
// activates when the predecessor's signing life ends, so an account in use
// always has its next key published ahead of use, as Google publishes a
// system-managed key hours before it signs. Only an account's first key, or
// the first after a whole idle period, signs at once; AccountCacheMaxAge
// keeps verifiers' cached documents from outliving the moment that can
// happen.
func (k *KeySet) accountSigner(ctx context.Context, uniqueID string) (*signingKey, error) {
	period := k.opts.RotationPeriod
	if sk, ok := k.snap.Load().accountSigner(uniqueID, k.clk.Now(), period); ok {
		return sk, nil
	}
	k.accountMu.Lock()
	defer k.accountMu.Unlock()
	if sk, ok := k.snap.Load().accountSigner(uniqueID, k.clk.Now(), period); ok {
		return sk, nil
	}
	// Plan from the snapshot to know how many keys to generate outside the
	// transaction; the transaction plans again from the store.
	fresh, err := k.generateN(len(planAccountKeys(k.snap.Load().accountRecords(uniqueID), uniqueID, k.clk.Now(), period)))
	if err != nil {
		return nil, err
	}
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	now := k.clk.Now()
	err = k.commit(ctx, fresh, func(recs []store.SigningKey) keyPlan {
		return keyPlan{create: planAccountKeys(recs, uniqueID, now, period)}
	})
	if err != nil {
		return nil, fmt.Errorf("identity: creating a signing key for account %s: %w", uniqueID, err)
	}
	if sk, _ := k.snap.Load().accountSigner(uniqueID, now, period); sk != nil {
		return sk, nil
	}
	return nil, fmt.Errorf("identity: %w for account %s after creating one", ErrNoSigningKey, uniqueID)
}

// planAccountKeys decides, from the stored keys alone, which keys of one
// account to create at now: one that signs at once if none signs now, and
// a successor, activating when the signer's life ends, if none is stored
// that takes over without a gap.
func planAccountKeys(recs []store.SigningKey, uniqueID string, now time.Time, period time.Duration) []keySlot {
	var mine []store.SigningKey
	for _, r := range recs {
		if acct, _ := splitKeyID(r.KeyID); acct == uniqueID {
			mine = append(mine, r)
		}
	}
	var slots []keySlot
	signer, successor, _ := accountChain(mine, now, period)
	if signer == nil {
		slots = append(slots, keySlot{account: uniqueID, create: now, activate: now})
		// Plan the successor of the key about to be made.
		signer, successor, _ = accountChain(append(mine, store.SigningKey{ActivateTime: now, CreateTime: now}), now, period)
	}
	if !successor {
		slots = append(slots, keySlot{account: uniqueID, create: now, activate: signer.ActivateTime.Add(period)})
	}
	return slots
}

// accountChain reads one account's keys (recs) at now: the key that signs
// (nil for none); whether a successor is stored that takes over from it
// without a gap (activating after it, by the end of its signing life);
// and the end of the chain of keys that follow each other so, from which
// on the account's next signature would need a key that signs at once
// (now when none signs). Keys are planned a period apart, but a restart
// with a shorter --key-rotation can leave a gap.
func accountChain(recs []store.SigningKey, now time.Time, period time.Duration) (signer *store.SigningKey, successor bool, end time.Time) {
	for i, r := range recs {
		if accountKeySignsAt(r, now, period) && (signer == nil || later(r, *signer)) {
			signer = &recs[i]
		}
	}
	if signer == nil {
		return nil, false, now
	}
	var next []time.Time // activations of the keys stored to sign after the signer
	for _, r := range recs {
		if r.RetireTime.IsZero() && !deletedAt(r, now) && r.ActivateTime.After(signer.ActivateTime) {
			next = append(next, r.ActivateTime)
		}
	}
	slices.SortFunc(next, time.Time.Compare)
	end = signer.ActivateTime.Add(period)
	for _, a := range next {
		if a.After(end) {
			break // a gap
		}
		successor = true
		if e := a.Add(period); e.After(end) {
			end = e
		}
	}
	return signer, successor, end
}

// AccountCacheMaxAge is the Cache-Control max-age of one account's key
// documents: CacheMaxAge, but never past the end of the account's chain of
// keys (accountChain), less the clock skew allowed between replicas. From
// then on the account's next signature needs a new key that signs at once,
// which a copy cached from before could not hold. An account without a
// key that signs gets 0.
func (k *KeySet) AccountCacheMaxAge(uniqueID string) time.Duration {
	now := k.clk.Now()
	_, _, end := accountChain(k.snap.Load().accountRecords(uniqueID), now, k.opts.RotationPeriod)
	return max(0, min(k.CacheMaxAge(), end.Add(-clockSkew).Sub(now).Truncate(time.Second)))
}

// refreshAccount re-reads the store (rate-limited as for an unknown issuer
// kid, on its own limiter) when the snapshot holds no key that signs for
// the account now:
// another replica may have created one, which the account's documents must
// list.
func (k *KeySet) refreshAccount(ctx context.Context, uniqueID string) error {
	signs := func() bool {
		sk, _ := k.snap.Load().accountSigner(uniqueID, k.clk.Now(), k.opts.RotationPeriod)
		return sk != nil
	}
	if signs() {
		return nil
	}
	return k.accountMiss.reload(k.clk.Now(), signs, func() error { return k.Reload(ctx) })
}

func (k *KeySet) generateN(n int) ([]*rsa.PrivateKey, error) {
	out := make([]*rsa.PrivateKey, 0, n)
	for range n {
		priv, err := k.opts.generate()
		if err != nil {
			return nil, fmt.Errorf("identity: generating an RSA key: %w", err)
		}
		out = append(out, priv)
	}
	return out, nil
}

// newRecord makes the store record of a new key. The kid is derived from
// the public key (40 hex digits, the shape of Google's kids), so it names
// the key material itself.
func newRecord(priv *rsa.PrivateKey, account string, created, activate time.Time) (store.SigningKey, error) {
	kid, err := kidOf(&priv.PublicKey)
	if err != nil {
		return store.SigningKey{}, err
	}
	id := kid
	if account != "" {
		id = accountKeyPrefix + account + accountKeyInfix + kid
	}
	return store.SigningKey{
		KeyID:        id,
		PrivateDER:   x509.MarshalPKCS1PrivateKey(priv),
		CreateTime:   created,
		ActivateTime: activate,
	}, nil
}

func kidOf(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("identity: encoding a public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:20]), nil
}

// splitKeyID tells a per-account key ("serviceAccounts/UID/keys/KID") from
// an issuer key (the bare kid).
func splitKeyID(id string) (account, kid string) {
	if rest, ok := strings.CutPrefix(id, accountKeyPrefix); ok {
		if acct, kid, ok := strings.Cut(rest, accountKeyInfix); ok && acct != "" && kid != "" {
			return acct, kid
		}
	}
	return "", id
}

// install parses recs into a new snapshot and publishes it. Keys already
// parsed in the current snapshot are reused (parsing and validating an RSA
// key costs about a millisecond, and Maintain reloads every minute).
func (k *KeySet) install(recs []store.SigningKey) error {
	old := k.snap.Load()
	s := &keySnapshot{
		all:      make(map[string]*signingKey, len(recs)),
		byKid:    make(map[string]*signingKey),
		accounts: make(map[string][]*signingKey),
	}
	for _, r := range recs {
		account, kid := splitKeyID(r.KeyID)
		sk := &signingKey{rec: r, kid: kid, account: account}
		if prev := old.all[r.KeyID]; prev != nil && bytes.Equal(prev.rec.PrivateDER, r.PrivateDER) {
			sk.priv, sk.jwt, sk.access, sk.cert = prev.priv, prev.jwt, prev.access, prev.cert
		} else if err := sk.parse(); err != nil {
			return fmt.Errorf("identity: signing key %q in the store: %w", r.KeyID, err)
		}
		s.all[r.KeyID] = sk
		if account == "" {
			s.issuer = append(s.issuer, sk)
			s.byKid[kid] = sk
		} else {
			s.accounts[account] = append(s.accounts[account], sk)
		}
	}
	sort.SliceStable(s.issuer, func(i, j int) bool { return s.issuer[i].rec.ActivateTime.Before(s.issuer[j].rec.ActivateTime) })
	for _, l := range s.accounts {
		sort.SliceStable(l, func(i, j int) bool { return l[i].rec.ActivateTime.Before(l[j].rec.ActivateTime) })
	}
	k.snap.Store(s)
	return nil
}

func (sk *signingKey) parse() error {
	priv, err := x509.ParsePKCS1PrivateKey(sk.rec.PrivateDER)
	if err != nil {
		return err
	}
	if priv.N.BitLen() < keyBits {
		return fmt.Errorf("RSA key of %d bits, want %d", priv.N.BitLen(), keyBits)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: sk.kid, Algorithm: string(jose.RS256), Use: "sig"}
	sk.priv = priv
	sk.jwt, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return err
	}
	if sk.account == "" {
		// RFC 9068's media type: verifiers that look at typ can tell an
		// access token from an ID token before reading its claims.
		sk.access, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jwk}, (&jose.SignerOptions{}).WithType(accessTokenTyp))
		if err != nil {
			return err
		}
	}
	sk.cert = &lazyCert{}
	return nil
}

func (sk *signingKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &sk.priv.PublicKey, KeyID: sk.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// certPEM wraps the public key in a self-signed X.509 certificate, made on
// first use: only verifiers that want PEM (Google's /oauth2/v1/certs shape)
// need it, and making one costs an RSA signature. The certificate carries
// no trust of its own; publication in the key documents does.
func (sk *signingKey) certPEM() (string, error) {
	sk.cert.once.Do(func() {
		serial := new(big.Int).SetBytes(mustHex(sk.kid)[:16])
		cn := "oidcron issuer"
		if sk.account != "" {
			cn = "oidcron service account " + sk.account
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    sk.rec.CreateTime.Add(-clockSkew),
			// Validity is not what decides trust (the JWKS does); a year
			// outlasts any key's publication.
			NotAfter:              sk.rec.CreateTime.Add(366 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &sk.priv.PublicKey, sk.priv)
		if err != nil {
			sk.cert.err = fmt.Errorf("identity: certificate for key %s: %w", sk.kid, err)
			return
		}
		sk.cert.pem = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	})
	return sk.cert.pem, sk.cert.err
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 16 {
		// kids we did not derive ourselves (imported keys): hash them.
		sum := sha256.Sum256([]byte(s))
		return sum[:]
	}
	return b
}

// publishedIssuer lists the issuer keys in the JWKS at now, newest first.
func (s *keySnapshot) publishedIssuer(now time.Time) []*signingKey {
	var out []*signingKey
	for i := len(s.issuer) - 1; i >= 0; i-- {
		if !deletedAt(s.issuer[i].rec, now) {
			out = append(out, s.issuer[i])
		}
	}
	return out
}

func (s *keySnapshot) publishedIssuerKid(kid string, now time.Time) *signingKey {
	if sk := s.byKid[kid]; sk != nil && !deletedAt(sk.rec, now) {
		return sk
	}
	return nil
}

func (s *keySnapshot) publishedAccount(uniqueID string, now time.Time) []*signingKey {
	var out []*signingKey
	l := s.accounts[uniqueID]
	for i := len(l) - 1; i >= 0; i-- {
		if !deletedAt(l[i].rec, now) {
			out = append(out, l[i])
		}
	}
	return out
}

// issuerSignerAt is the key with the latest ActivateTime among those that
// may sign at now. The same rule picks the "current" key in
// planMaintenance, so memory and store agree.
func (s *keySnapshot) issuerSignerAt(now time.Time) *signingKey {
	var best *signingKey
	for _, sk := range s.issuer {
		if issuerKeySignsAt(sk.rec, now) && (best == nil || later(sk.rec, best.rec)) {
			best = sk
		}
	}
	return best
}

// accountSigner returns the account's key that signs at now, and whether
// its successor is in the snapshot too (accountChain).
func (s *keySnapshot) accountSigner(uniqueID string, now time.Time, period time.Duration) (*signingKey, bool) {
	signer, successor, _ := accountChain(s.accountRecords(uniqueID), now, period)
	if signer == nil {
		return nil, false
	}
	return s.all[signer.KeyID], successor
}

func (s *keySnapshot) accountRecords(uniqueID string) []store.SigningKey {
	l := s.accounts[uniqueID]
	out := make([]store.SigningKey, len(l))
	for i, sk := range l {
		out[i] = sk.rec
	}
	return out
}

func deletedAt(r store.SigningKey, now time.Time) bool {
	return !r.DeleteTime.IsZero() && !now.Before(r.DeleteTime)
}

func issuerKeySignsAt(r store.SigningKey, now time.Time) bool {
	return !r.ActivateTime.After(now) && (r.RetireTime.IsZero() || now.Before(r.RetireTime)) && !deletedAt(r, now)
}

// accountKeySignsAt: a per-account key signs for RotationPeriod from its
// activation; the limit is in the rule itself (not only in the stored
// RetireTime) so that no replica signs with it after Maintain on another
// replica has retired it.
func accountKeySignsAt(r store.SigningKey, now time.Time, period time.Duration) bool {
	return !r.ActivateTime.After(now) && r.RetireTime.IsZero() && now.Before(r.ActivateTime.Add(period)) && !deletedAt(r, now)
}

// later orders keys for "the newest wins", deterministically on ties.
func later(a, b store.SigningKey) bool {
	if !a.ActivateTime.Equal(b.ActivateTime) {
		return a.ActivateTime.After(b.ActivateTime)
	}
	if !a.CreateTime.Equal(b.CreateTime) {
		return a.CreateTime.After(b.CreateTime)
	}
	return a.KeyID > b.KeyID
}

// keySlot is a key to create: for account ("" for the issuer), made at
// create, signing from activate.
type keySlot struct {
	account          string
	create, activate time.Time
}

type keyPlan struct {
	deletes []string
	updates []store.SigningKey
	create  []keySlot
}

func (p keyPlan) empty() bool {
	return len(p.deletes) == 0 && len(p.updates) == 0 && len(p.create) == 0
}

// planMaintenance decides, from the stored keys alone, what Maintain writes
// at now. It is a pure function so that every replica, given the same
// records, decides the same thing, and running it on its own output plans
// nothing (idempotence).
func planMaintenance(recs []store.SigningKey, now time.Time, o KeyOptions) keyPlan {
	var p keyPlan
	var issuer []store.SigningKey
	for _, r := range recs {
		if deletedAt(r, now) {
			p.deletes = append(p.deletes, r.KeyID)
			continue
		}
		if acct, _ := splitKeyID(r.KeyID); acct != "" {
			if r.RetireTime.IsZero() && !now.Before(r.ActivateTime.Add(o.RotationPeriod)) {
				r.RetireTime = r.ActivateTime.Add(o.RotationPeriod)
				r.DeleteTime = r.RetireTime.Add(accountKeyGrace + clockSkew)
				p.retire(r, now)
			}
			continue
		}
		issuer = append(issuer, r)
	}

	cur := -1
	for i, r := range issuer {
		if !r.ActivateTime.After(now) && r.RetireTime.IsZero() && (cur < 0 || later(r, issuer[cur])) {
			cur = i
		}
	}
	hasNext := false
	for i, r := range issuer {
		if r.ActivateTime.After(now) {
			hasNext = true
			continue
		}
		if i == cur || !r.RetireTime.IsZero() {
			continue
		}
		// Superseded: it stopped signing when the current key activated.
		r.RetireTime = issuer[cur].ActivateTime
		r.DeleteTime = r.RetireTime.Add(o.TokenLifetime + clockSkew)
		p.retire(r, now)
	}

	curActivate := now
	if cur >= 0 {
		curActivate = issuer[cur].ActivateTime
	} else {
		// First start (or the store lost every usable key): nothing can be
		// pre-published for the very first key.
		p.create = append(p.create, keySlot{create: now, activate: now})
	}
	if !hasNext {
		// Normally one period after the current key activated; after an
		// outage longer than that, at least half a period from now, so that
		// the pre-publication lead (and so the JWKS max-age bound) holds.
		activate := curActivate.Add(o.RotationPeriod)
		if earliest := now.Add(o.RotationPeriod / 2); activate.Before(earliest) {
			activate = earliest
		}
		p.create = append(p.create, keySlot{create: now, activate: activate})
	}
	return p
}

func (p *keyPlan) retire(r store.SigningKey, now time.Time) {
	if deletedAt(r, now) {
		p.deletes = append(p.deletes, r.KeyID)
	} else {
		p.updates = append(p.updates, r)
	}
}
