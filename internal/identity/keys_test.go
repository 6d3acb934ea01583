package identity

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

const (
	period = defaultRotationPeriod
	grace  = defaultTokenLifetime + clockSkew
)

func TestFirstStartCreatesActiveAndNextKey(t *testing.T) {
	e := newEnv(t)
	recs := e.issuerRecords()
	if len(recs) != 2 {
		t.Fatalf("%d issuer keys after first start, want 2 (active, next)", len(recs))
	}
	active, next := recs[0], recs[1]
	if !active.ActivateTime.Equal(t0) || !active.CreateTime.Equal(t0) {
		t.Errorf("active key: create %v activate %v, want both %v", active.CreateTime, active.ActivateTime, t0)
	}
	if !next.CreateTime.Equal(t0) || !next.ActivateTime.Equal(t0.Add(period)) {
		t.Errorf("next key: create %v activate %v, want %v and %v", next.CreateTime, next.ActivateTime, t0, t0.Add(period))
	}
	for _, r := range recs {
		if !r.RetireTime.IsZero() || !r.DeleteTime.IsZero() {
			t.Errorf("key %s has retire %v delete %v, want zero", r.KeyID, r.RetireTime, r.DeleteTime)
		}
		priv, err := parsePriv(r.PrivateDER)
		if err != nil || priv.N.BitLen() != 2048 {
			t.Errorf("key %s: not an RSA 2048 key (%v)", r.KeyID, err)
		}
	}
	if got, want := jwksKids(e.keys), sortedIDs(active.KeyID, next.KeyID); !slices.Equal(got, want) {
		t.Errorf("JWKS kids %v, want %v (the next key is published before it signs)", got, want)
	}
	if kid := headerKid(t, e.idToken(saJobs, testAudience, false)); kid != active.KeyID {
		t.Errorf("token signed by %s, want the active key %s", kid, active.KeyID)
	}
}

func TestDefaultKeyGenerator(t *testing.T) {
	// The real generator (the others use a pool): 2048-bit RSA, parsable.
	k, err := NewKeySet(context.Background(), newMemKeyStore(), clock.NewFake(t0), KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sk, err := k.issuerSigner(t0)
	if err != nil || sk.priv.N.BitLen() != 2048 {
		t.Fatalf("signer %v, %v", sk, err)
	}
}

func TestSecondReplicaLoadsWithoutCreating(t *testing.T) {
	e := newEnv(t)
	before := len(e.st.created)
	k2 := e.newKeySet()
	if len(e.st.created) != before {
		t.Fatalf("a second replica created %d keys", len(e.st.created)-before)
	}
	if !slices.Equal(jwksKids(k2), jwksKids(e.keys)) {
		t.Fatalf("replica JWKS %v != %v", jwksKids(k2), jwksKids(e.keys))
	}
}

func TestRotationLifecycle(t *testing.T) {
	e := newEnv(t)
	recs := e.issuerRecords()
	a, b := recs[0].KeyID, recs[1].KeyID

	// Late in A's life: a token signed by A that outlives A's signing days.
	e.clk.Set(t0.Add(period - 30*time.Minute))
	e.maintain(e.keys)
	lateA := e.idToken(saJobs, testAudience, true)
	if kid := headerKid(t, lateA); kid != a {
		t.Fatalf("late token signed by %s, want A %s", kid, a)
	}
	if !slices.Contains(jwksKids(e.keys), b) {
		t.Fatal("B is not published before it signs")
	}

	// B takes over at its ActivateTime, by the schedule, before any
	// Maintain has run.
	e.clk.Set(t0.Add(period))
	tokB := e.idToken(saJobs, testAudience+"/b", true)
	if kid := headerKid(t, tokB); kid != b {
		t.Fatalf("at B's activation the token is signed by %s, want B %s", kid, b)
	}

	e.maintain(e.keys)
	recs = e.issuerRecords()
	if len(recs) != 3 {
		t.Fatalf("%d keys after rotation, want 3 (A retired, B active, C next)", len(recs))
	}
	if recs[0].KeyID != a || !recs[0].RetireTime.Equal(t0.Add(period)) || !recs[0].DeleteTime.Equal(t0.Add(period+grace)) {
		t.Errorf("A: retire %v delete %v, want %v and %v", recs[0].RetireTime, recs[0].DeleteTime, t0.Add(period), t0.Add(period+grace))
	}
	if recs[1].KeyID != b || !recs[1].RetireTime.IsZero() {
		t.Errorf("B should be active: %+v", recs[1].RetireTime)
	}
	c := recs[2].KeyID
	if !recs[2].ActivateTime.Equal(t0.Add(2 * period)) {
		t.Errorf("C activates %v, want %v", recs[2].ActivateTime, t0.Add(2*period))
	}
	if got, want := jwksKids(e.keys), sortedIDs(a, b, c); !slices.Equal(got, want) {
		t.Errorf("JWKS after rotation %v, want %v", got, want)
	}

	// The token minted before the rotation still verifies after it.
	e.clk.Set(t0.Add(period + 20*time.Minute))
	if _, err := e.verifier.VerifyIDToken(e.ctx, lateA, []string{testAudience}); err != nil {
		t.Fatalf("token minted before the rotation: %v", err)
	}

	// A's last token has expired (t0+period+30m); at DeleteTime A goes.
	e.clk.Set(t0.Add(period + grace - time.Second))
	if !slices.Contains(jwksKids(e.keys), a) {
		t.Fatal("A left the JWKS before its grace ended")
	}
	e.clk.Set(t0.Add(period + grace))
	if slices.Contains(jwksKids(e.keys), a) {
		t.Fatal("A is still published at its DeleteTime")
	}
	e.maintain(e.keys)
	if got, want := sortedKeyIDs(e.issuerRecords()), sortedIDs(b, c); !slices.Equal(got, want) {
		t.Fatalf("stored keys after A's grace %v, want %v", got, want)
	}
}

func TestMaintainIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.clk.Set(t0.Add(period + time.Minute))
	e.maintain(e.keys)
	before, commits := e.st.snapshot(), e.st.commits
	e.maintain(e.keys)
	e.maintain(e.newKeySet())
	if e.st.commits != commits {
		t.Fatalf("Maintain wrote again with nothing due (%d commits, want %d)", e.st.commits, commits)
	}
	if !slices.EqualFunc(before, e.st.snapshot(), func(a, b store.SigningKey) bool { return a.KeyID == b.KeyID && a.DeleteTime.Equal(b.DeleteTime) }) {
		t.Fatal("keys changed")
	}
}

func TestConcurrentMaintainRotatesOnce(t *testing.T) {
	for _, retry := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "backend-retries"}[retry], func(t *testing.T) {
			e := newEnv(t)
			e.st.retry = retry
			replicas := []*KeySet{e.keys, e.newKeySet(), e.newKeySet()}
			created := len(e.st.created)
			e.clk.Set(t0.Add(period + time.Minute))

			var wg sync.WaitGroup
			errs := make([]error, len(replicas))
			for i, k := range replicas {
				wg.Go(func() { errs[i] = k.Maintain(e.ctx) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := len(e.st.created) - created; n != 1 {
				t.Fatalf("%d keys created by concurrent rotation, want 1", n)
			}
			recs := e.issuerRecords()
			if len(recs) != 3 {
				t.Fatalf("%d keys, want 3", len(recs))
			}
			for _, k := range replicas {
				if !slices.Equal(jwksKids(k), sortedKeyIDs(recs)) {
					t.Errorf("a replica publishes %v, store has %v", jwksKids(k), sortedKeyIDs(recs))
				}
			}
		})
	}
}

func TestConcurrentFirstStartCreatesOneSet(t *testing.T) {
	st, clk, gen := newMemKeyStore(), clock.NewFake(t0), testKeyGen()
	var wg sync.WaitGroup
	sets := make([]*KeySet, 4)
	for i := range sets {
		wg.Go(func() {
			k, err := NewKeySet(context.Background(), st, clk, KeyOptions{generate: gen})
			if err != nil {
				t.Error(err)
			}
			sets[i] = k
		})
	}
	wg.Wait()
	if len(st.created) != 2 {
		t.Fatalf("%d keys created by 4 replicas starting at once, want 2", len(st.created))
	}
	for _, k := range sets[1:] {
		if k != nil && !slices.Equal(jwksKids(k), jwksKids(sets[0])) {
			t.Fatal("replicas disagree on the key set")
		}
	}
}

func TestOutageLongerThanThePeriod(t *testing.T) {
	e := newEnv(t)
	b := e.issuerRecords()[1].KeyID
	down := t0.Add(3 * 24 * time.Hour)
	e.clk.Set(down)
	// Still signing, with B: it activated during the outage.
	if kid := headerKid(t, e.idToken(saJobs, testAudience, false)); kid != b {
		t.Fatalf("after the outage tokens are signed by %s, want B", kid)
	}
	e.maintain(e.keys)
	recs := e.issuerRecords()
	if len(recs) != 2 || recs[0].KeyID != b {
		t.Fatalf("after maintenance: %v, want B and a new next key (A long past its grace)", sortedKeyIDs(recs))
	}
	// The new next key gets at least half a period of pre-publication.
	if want := down.Add(period / 2); !recs[1].ActivateTime.Equal(want) {
		t.Fatalf("next key activates %v, want %v", recs[1].ActivateTime, want)
	}
}

func TestVerifierReloadsOnceForAnotherReplicasKey(t *testing.T) {
	e := newEnv(t)
	other := e.newKeySet()
	otherMinter := NewMinter(other, e.clk, testIssuer)

	// The other replica rotates twice; this one never maintains, so it has
	// never seen the key that now signs.
	e.clk.Set(t0.Add(period))
	e.maintain(other)
	e.clk.Set(t0.Add(2 * period))
	e.maintain(other)
	tok, _, err := otherMinter.IDToken(e.ctx, saJobs, testAudience, false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(jwksKids(e.keys), headerKid(t, tok)) {
		t.Fatal("test setup: this replica already knows the key")
	}
	lists := e.st.listCalls()
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience}); err != nil {
		t.Fatalf("token from the other replica: %v", err)
	}
	if n := e.st.listCalls() - lists; n != 1 {
		t.Fatalf("%d reloads, want 1", n)
	}

	// Made-up kids do not hammer the store: one reload per interval.
	lists = e.st.listCalls()
	for range 5 {
		bogus := forgeWithKid(t, tok, "0000000000000000000000000000000000000000")
		wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, bogus, nil)), ReasonUnknownKey)
	}
	if n := e.st.listCalls() - lists; n != 0 {
		t.Fatalf("%d reloads within the rate limit, want 0", n)
	}
	e.clk.Advance(unknownKeyReloadInterval)
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, forgeWithKid(t, tok, "ffff"), nil)), ReasonUnknownKey)
	if n := e.st.listCalls() - lists; n != 1 {
		t.Fatalf("%d reloads after the interval, want 1", n)
	}
}

func TestReloadFailureIsUnknownKey(t *testing.T) {
	e := newEnv(t)
	e.st.listErr = errors.New("disk on fire")
	tok := forgeWithKid(t, e.idToken(saJobs, testAudience, false), "abcd")
	ve := wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, nil)), ReasonUnknownKey)
	if !contains(ve.Detail, "disk on fire") {
		t.Fatalf("detail %q does not say the reload failed", ve.Detail)
	}
}

func TestRunMaintainsOnTheClock(t *testing.T) {
	e := newEnv(t)
	k, err := NewKeySet(e.ctx, e.st, e.clk, KeyOptions{CheckInterval: time.Hour, generate: e.gen})
	if err != nil {
		t.Fatal(err)
	}
	// The hook runs after Run has armed its next timer, so receiving from
	// done means the clock may be advanced: an event, not a sleep.
	done := make(chan error, 1)
	k.onMaintain = func(err error) { done <- err }
	ctx, cancel := context.WithCancel(e.ctx)
	ran := make(chan error, 1)
	go func() { ran <- k.Run(ctx) }()
	if err := <-done; err != nil { // the first round runs at once
		t.Fatal(err)
	}
	created := len(e.st.created)
	for e.clk.Now().Before(t0.Add(period)) {
		e.clk.Advance(time.Hour)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.st.created) - created; n != 1 {
		t.Fatalf("Run created %d keys across the rotation, want 1", n)
	}
	if r := e.issuerRecords(); r[0].RetireTime.IsZero() {
		t.Fatal("Run did not retire the first key")
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

func TestCorruptKeyInStoreIsAnError(t *testing.T) {
	st := newMemKeyStore()
	st.keys["bad"] = store.SigningKey{KeyID: "bad", PrivateDER: []byte("nope"), CreateTime: t0, ActivateTime: t0}
	if _, err := NewKeySet(context.Background(), st, clock.NewFake(t0), KeyOptions{generate: testKeyGen()}); err == nil {
		t.Fatal("NewKeySet accepted an unparsable key")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []KeyOptions{{RotationPeriod: -time.Hour}, {TokenLifetime: time.Millisecond}, {CheckInterval: -1}} {
		if _, err := NewKeySet(context.Background(), newMemKeyStore(), clock.NewFake(t0), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestCacheMaxAge(t *testing.T) {
	for _, c := range []struct{ period, want time.Duration }{
		{24 * time.Hour, time.Hour},
		{time.Hour, 15 * time.Minute},
	} {
		k := &KeySet{opts: KeyOptions{RotationPeriod: c.period}}
		if got := k.CacheMaxAge(); got != c.want {
			t.Errorf("period %v: max-age %v, want %v", c.period, got, c.want)
		}
		// A cached JWKS must be younger than the next key's minimum lead.
		if k.CacheMaxAge() > c.period/2 {
			t.Errorf("period %v: max-age %v exceeds the pre-publication lead %v", c.period, k.CacheMaxAge(), c.period/2)
		}
	}
}

func TestPlanIsStableAcrossReplicas(t *testing.T) {
	// planMaintenance is what makes replicas agree; its output, applied,
	// plans nothing more at the same instant.
	e := newEnv(t)
	for _, at := range []time.Duration{period, period + grace, 5 * period} {
		e.clk.Set(t0.Add(at))
		e.maintain(e.keys)
		if p := planMaintenance(e.st.snapshot(), e.clk.Now(), e.keys.Options()); !p.empty() {
			t.Fatalf("at +%v the plan after Maintain is not empty: %+v", at, p)
		}
	}
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func sortedKeyIDs(recs []store.SigningKey) []string {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.KeyID)
	}
	slices.Sort(ids)
	return ids
}
