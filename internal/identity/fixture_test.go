package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// memKeyStore is the signing-key part of a store, in memory, with the
// transaction semantics the contract promises: transactions are serialized
// (as SQLite's immediate transactions), see their own writes, commit
// atomically, and may be retried. The real backends are tested by the
// store's conformance suite.
type memKeyStore struct {
	mu   sync.Mutex // held for a whole transaction
	keys map[string]store.SigningKey

	// retry runs every transaction's fn twice, throwing away the first
	// attempt's writes, as a backend retrying a serialization failure does.
	retry bool
	// listErr, when set, fails ListSigningKeys (outside transactions).
	listErr error

	created []string // KeyIDs inserted, in commit order
	lists   int      // ListSigningKeys calls outside transactions
	commits int      // committed transactions that wrote something
}

func newMemKeyStore() *memKeyStore { return &memKeyStore{keys: map[string]store.SigningKey{}} }

func (s *memKeyStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	attempts := 1
	if s.retry {
		attempts = 2
	}
	for i := range attempts {
		tx := &memTx{keys: maps.Clone(s.keys)}
		if err := fn(tx); err != nil {
			return err
		}
		if i == attempts-1 {
			s.keys = tx.keys
			s.created = append(s.created, tx.created...)
			if tx.wrote {
				s.commits++
			}
		}
	}
	return nil
}

func (s *memKeyStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if s.listErr != nil {
		return nil, s.listErr
	}
	return sortedKeys(s.keys), nil
}

func (s *memKeyStore) snapshot() []store.SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.keys)
}

func (s *memKeyStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

func sortedKeys(m map[string]store.SigningKey) []store.SigningKey {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b store.SigningKey) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return out
}

// memTx implements only the signing-key methods of store.Tx; the embedded
// nil interface makes any other call panic, which would be a bug here.
type memTx struct {
	store.Tx
	keys    map[string]store.SigningKey
	created []string
	wrote   bool
}

func (t *memTx) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return sortedKeys(t.keys), nil
}

func (t *memTx) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	if _, ok := t.keys[k.KeyID]; !ok {
		t.created = append(t.created, k.KeyID)
	}
	t.keys[k.KeyID] = k
	t.wrote = true
	return nil
}

func (t *memTx) DeleteSigningKey(ctx context.Context, keyID string) error {
	delete(t.keys, keyID)
	t.wrote = true
	return nil
}

// testKeys hands out pre-generated RSA keys: 2048-bit generation costs tens
// of milliseconds and the rotation tests need dozens. Keys are shared across
// tests (each test has its own store) but never handed out twice by one
// generator, so keys within one store are distinct.
var testKeys struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

func testKeyGen() func() (*rsa.PrivateKey, error) {
	var mu sync.Mutex
	next := 0
	return func() (*rsa.PrivateKey, error) {
		mu.Lock()
		n := next
		next++
		mu.Unlock()
		testKeys.Lock()
		defer testKeys.Unlock()
		for len(testKeys.keys) <= n {
			k, err := rsa.GenerateKey(rand.Reader, keyBits)
			if err != nil {
				return nil, err
			}
			testKeys.keys = append(testKeys.keys, k)
		}
		return testKeys.keys[n], nil
	}
}

// fakeAccounts is an AccountSource and AccountLookup over a map.
type fakeAccounts struct {
	mu sync.Mutex
	m  map[string]Account // by unique id
}

func newFakeAccounts(as ...Account) *fakeAccounts {
	f := &fakeAccounts{m: map[string]Account{}}
	for _, a := range as {
		f.m[a.UniqueID] = a
	}
	return f
}

func (f *fakeAccounts) AccountByUniqueID(ctx context.Context, uid string) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.m[uid]
	if !ok {
		return Account{}, store.ErrNotFound
	}
	return a, nil
}

func (f *fakeAccounts) Lookup(ctx context.Context, id string) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.m {
		if a.UniqueID == id || a.Email == id {
			return a, nil
		}
	}
	return Account{}, store.ErrNotFound
}

func (f *fakeAccounts) setDisabled(uid string, d bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.m[uid]
	a.Disabled = d
	f.m[uid] = a
}

func (f *fakeAccounts) remove(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, uid)
}

const (
	testIssuer   = "https://oidcron.test"
	testAudience = "https://us-central1-demo-project.cloudfunctions.net/hello"
)

var (
	t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

	saJobs  = Account{Email: "jobs@demo-project.iam.gserviceaccount.com", UniqueID: "102101550834200708568", ProjectID: "demo-project"}
	saOther = Account{Email: "other@demo-project.iam.gserviceaccount.com", UniqueID: "102023896904281105569", ProjectID: "demo-project"}
)

// env is one issuer: a store, a fake clock, keys, a minter and a verifier.
type env struct {
	t        testing.TB
	ctx      context.Context
	clk      *clock.Fake
	st       *memKeyStore
	gen      func() (*rsa.PrivateKey, error)
	keys     *KeySet
	minter   *Minter
	verifier *Verifier
	accounts *fakeAccounts
}

func newEnv(t testing.TB) *env { t.Helper(); return newEnvAt(t, t0) }

func newEnvAt(t testing.TB, start time.Time) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clk: clock.NewFake(start), st: newMemKeyStore(), gen: testKeyGen(),
		accounts: newFakeAccounts(saJobs, saOther)}
	e.keys = e.newKeySet()
	e.minter = NewMinter(e.keys, e.clk, testIssuer)
	e.verifier = NewVerifier(e.keys, e.clk, testIssuer, e.accounts)
	return e
}

// newKeySet starts another replica's key set on the same store and clock.
func (e *env) newKeySet() *KeySet {
	e.t.Helper()
	k, err := NewKeySet(e.ctx, e.st, e.clk, KeyOptions{generate: e.gen})
	if err != nil {
		e.t.Fatalf("NewKeySet: %v", err)
	}
	return k
}

func (e *env) idToken(a Account, aud string, includeEmail bool) string {
	e.t.Helper()
	tok, _, err := e.minter.IDToken(e.ctx, a, aud, includeEmail)
	if err != nil {
		e.t.Fatalf("IDToken: %v", err)
	}
	return tok
}

func (e *env) maintain(k *KeySet) {
	e.t.Helper()
	if err := k.Maintain(e.ctx); err != nil {
		e.t.Fatalf("Maintain: %v", err)
	}
}

// issuerRecords returns the stored issuer keys by ActivateTime.
func (e *env) issuerRecords() []store.SigningKey {
	var out []store.SigningKey
	for _, r := range e.st.snapshot() {
		if acct, _ := splitKeyID(r.KeyID); acct == "" {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b store.SigningKey) int { return a.ActivateTime.Compare(b.ActivateTime) })
	return out
}

// accountRecord returns the stored per-account key with this kid.
func (e *env) accountRecord(kid string) store.SigningKey {
	e.t.Helper()
	for _, r := range e.st.snapshot() {
		if acct, k := splitKeyID(r.KeyID); acct != "" && k == kid {
			return r
		}
	}
	e.t.Fatalf("no account key %s in the store", kid)
	return store.SigningKey{}
}

func jwksKids(k *KeySet) []string {
	var kids []string
	for _, j := range k.JWKS().Keys {
		kids = append(kids, j.KeyID)
	}
	slices.Sort(kids)
	return kids
}

// decodeSegment returns the JSON of one part of a compact JWS.
func decodeSegment(t testing.TB, tok string, i int) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return b
}

func headerKid(t testing.TB, tok string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(decodeSegment(t, tok, 0), &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// wantReason fails unless err is a VerifyError with reason r.
func wantReason(t testing.TB, err error, r Reason) *VerifyError {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a VerifyError %q", err, r)
	}
	if ve.Reason != r {
		t.Fatalf("reason = %q (%s), want %q", ve.Reason, ve.Detail, r)
	}
	return ve
}

type storeTx = store.Tx

var errorsAs = errors.As

func clockAt(t time.Time) *clock.Fake { return clock.NewFake(t) }

// failingAccounts is an AccountSource whose store is down.
type failingAccounts struct{}

func (failingAccounts) AccountByUniqueID(ctx context.Context, uid string) (Account, error) {
	return Account{}, errors.New("store unavailable")
}
