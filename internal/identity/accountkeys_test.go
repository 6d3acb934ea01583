package identity

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestAccountSuccessorIsPublishedAPeriodAheadAndTakesOver(t *testing.T) {
	e := newEnv(t)
	first, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	doc := e.keys.AccountJWKS(saJobs.UniqueID)
	var next string
	for _, k := range doc.Keys {
		if k.KeyID != first {
			next = k.KeyID
		}
	}
	if next == "" {
		t.Fatalf("document %v does not pre-publish a successor", doc.Keys)
	}
	activate := e.accountRecord(next).ActivateTime
	if !activate.Equal(t0.Add(period)) {
		t.Fatalf("successor activates at %v, want %v (when the first key's life ends)", activate, t0.Add(period))
	}

	// Signing with the successor creates no key that signs at once; it
	// pre-publishes the successor's own successor.
	e.clk.Set(t0.Add(period))
	created := len(e.st.created)
	kid, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`)
	if err != nil || kid != next {
		t.Fatalf("after the first key's life: kid %s err %v, want the pre-published %s", kid, err, next)
	}
	if n := len(e.st.created) - created; n != 1 {
		t.Fatalf("%d keys created, want 1 (the next successor)", n)
	}
	_, third := splitKeyID(e.st.created[len(e.st.created)-1])
	if got := e.accountRecord(third).ActivateTime; !got.Equal(t0.Add(2 * period)) {
		t.Fatalf("next successor activates at %v, want %v", got, t0.Add(2*period))
	}
}

func TestAccountDocumentMaxAgeEndsWithTheLastKeysSigningLife(t *testing.T) {
	e := newEnv(t)
	s := newIssuerServer(t, e)
	maxAge := func() string {
		t.Helper()
		res, _ := s.get(t, ServiceAccountKeysPath+"jwk/"+saJobs.Email)
		return res.Header.Get("Cache-Control")
	}
	// No key yet: the first signature creates one that signs at once.
	if got := maxAge(); got != "public, max-age=0, must-revalidate, no-transform" {
		t.Fatalf("account without keys: Cache-Control %q", got)
	}
	if _, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`); err != nil {
		t.Fatal(err)
	}
	if got, want := maxAge(), "public, max-age="+strconv.Itoa(int(e.keys.CacheMaxAge().Seconds()))+","; !strings.HasPrefix(got, want) {
		t.Fatalf("account in use: Cache-Control %q, want %q...", got, want)
	}
	// Idle: the successor's life ends at t0+2*period with nothing after it;
	// copies must lapse by then, less the clock skew allowed between
	// replicas (one may create the next key that much early).
	e.clk.Set(t0.Add(2*period - 10*time.Minute))
	if got := maxAge(); !strings.HasPrefix(got, "public, max-age=300,") {
		t.Fatalf("10 minutes before the last key's life ends: Cache-Control %q", got)
	}
	e.clk.Set(t0.Add(2*period - clockSkew))
	if got := maxAge(); !strings.HasPrefix(got, "public, max-age=0,") {
		t.Fatalf("a clock skew before the last key's life ends: Cache-Control %q", got)
	}
}

// A verifier that caches an account's key document for its max-age must
// find every key that signs while its copy is fresh, whichever replica
// served the copy and whichever signed: through first use, daily
// rotation, idle periods longer than a rotation, and replicas that have
// not re-read the store.
func TestCachedAccountDocumentsHoldEveryKeyThatSigns(t *testing.T) {
	e := newEnv(t)
	replicas := []*KeySet{e.keys, e.newKeySet()}
	type copyOf struct {
		fetched, until time.Time
		kids           []string
	}
	var copies []copyOf
	fetch := func(k *KeySet) {
		t.Helper()
		set, age := accountDocument(t, e, k)
		c := copyOf{fetched: e.clk.Now(), until: e.clk.Now().Add(age)}
		for _, key := range set.Keys {
			c.kids = append(c.kids, key.KeyID)
		}
		copies = append(copies, c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	signatures := 0
	for step := range 800 {
		if rng.IntN(40) == 0 {
			e.clk.Advance(period/2 + time.Duration(rng.Int64N(int64(2*period)))) // idle
		} else {
			e.clk.Advance(time.Duration(rng.Int64N(int64(30 * time.Minute))))
		}
		k := replicas[rng.IntN(len(replicas))]
		switch rng.IntN(4) {
		case 0, 1:
			fetch(k)
		case 2:
			kid, _, err := NewMinter(k, e.clk, testIssuer).SignJWT(e.ctx, saJobs, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			signatures++
			now := e.clk.Now()
			for _, c := range copies {
				if !c.fetched.After(now) && now.Before(c.until) && !slices.Contains(c.kids, kid) {
					t.Fatalf("step %d: key %s signed at %v, but a copy fetched at %v and fresh until %v lists only %v",
						step, kid, now, c.fetched, c.until, c.kids)
				}
			}
		case 3:
			e.maintain(k)
		}
	}
	if signatures < 150 || len(copies) < 300 {
		t.Fatalf("only %d signatures and %d copies", signatures, len(copies))
	}
}

// After a restart with a shorter --key-rotation, the stored successor
// activates after the current key's (new, shorter) life ends: there is a
// gap in which the next signature makes a key that signs at once. The
// account documents' max-age stops at the gap, so no cached copy lacks
// that key.
func TestAccountMaxAgeStopsAtAGapAfterAShorterRotation(t *testing.T) {
	e, short := signedThenShorterRotation(t)
	e.clk.Set(t0.Add(12*time.Hour - 30*time.Minute))
	set, age := accountDocument(t, e, short)
	fresh := e.clk.Now().Add(age)

	e.clk.Set(t0.Add(12 * time.Hour))
	kid, _, err := NewMinter(short, e.clk, testIssuer).SignJWT(e.ctx, saJobs, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if e.clk.Now().Before(fresh) && len(set.Key(kid)) == 0 {
		t.Fatalf("key %s signs at %v, but a copy fresh until %v (max-age %v) lists only %v", kid, e.clk.Now(), fresh, age, set.Keys)
	}
}

// The same gap, with the account in use: its next signature plans a
// successor that takes over when the signer's shorter life ends, rather
// than counting on the stored one beyond the gap.
func TestAccountSuccessorFillsAGapAfterAShorterRotation(t *testing.T) {
	e, short := signedThenShorterRotation(t)
	e.clk.Set(t0.Add(time.Hour))
	created := len(e.st.created)
	if _, _, err := NewMinter(short, e.clk, testIssuer).SignJWT(e.ctx, saJobs, `{}`); err != nil {
		t.Fatal(err)
	}
	if n := len(e.st.created) - created; n != 1 {
		t.Fatalf("%d keys created, want the successor that fills the gap", n)
	}
	_, kid := splitKeyID(e.st.created[len(e.st.created)-1])
	if got := e.accountRecord(kid).ActivateTime; !got.Equal(t0.Add(12 * time.Hour)) {
		t.Fatalf("successor activates at %v, want %v", got, t0.Add(12*time.Hour))
	}
	if got := short.AccountCacheMaxAge(saJobs.UniqueID); got != short.CacheMaxAge() {
		t.Fatalf("max-age %v with the gap filled, want %v", got, short.CacheMaxAge())
	}
}

// accountDocument fetches saJobs's JWK document from k's handler, with its
// Cache-Control max-age.
func accountDocument(t *testing.T, e *env, k *KeySet) (jose.JSONWebKeySet, time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	k.ServiceAccountKeysHandler(e.accounts.Lookup).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ServiceAccountKeysPath+"jwk/"+saJobs.Email, nil))
	var set jose.JSONWebKeySet
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &set) != nil {
		t.Fatalf("document: %d %s", rec.Code, rec.Body)
	}
	cc := rec.Header().Get("Cache-Control")
	age, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(cc, "public, max-age="), ", must-revalidate, no-transform"))
	if err != nil {
		t.Fatalf("Cache-Control %q", cc)
	}
	return set, time.Duration(age) * time.Second
}

// signedThenShorterRotation: saJobs signs at t0 with the default 24h
// period (its key and a successor at t0+24h are stored), then a replica
// restarts with a 12h period, which leaves a gap from t0+12h.
func signedThenShorterRotation(t *testing.T) (*env, *KeySet) {
	t.Helper()
	e := newEnv(t)
	if _, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`); err != nil {
		t.Fatal(err)
	}
	short, err := NewKeySet(e.ctx, e.st, e.clk, KeyOptions{RotationPeriod: 12 * time.Hour, generate: e.gen})
	if err != nil {
		t.Fatal(err)
	}
	return e, short
}
