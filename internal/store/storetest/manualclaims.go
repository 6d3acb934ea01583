package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
)

// The Claimer's part of RunJob's executions (store.Manual): ClaimManuals,
// and NextDue's view of them.

// ---- Fixtures ----

// manualJob creates an idle job (no due time, no execution: nothing of it
// is due or owned) for manual executions to belong to, and returns its
// stored record.
func manualJob(t *testing.T, st store.JobStore, id string, seed int) store.JobRecord {
	t.Helper()
	createJobs(t, st, withoutExec(dueJob(id, seed, time.Time{}, "")))
	r, err := st.GetJob(t.Context(), claimName(id))
	ok(t, err, "GetJob "+id)
	return r
}

// manualOf is a manual execution of job j whose next attempt is due at
// next (zero: none, an attempt is in flight) and that belongs to owner
// ("": to no one). Every other field is set, times in several zones, and a
// claim token of its own, so that a claim that wrote another field or
// token shows.
func manualOf(j store.JobRecord, seed int, next time.Time, owner string) store.Manual {
	base := jobBase.Add(time.Duration(seed) * time.Minute)
	return store.Manual{
		Job:         j.Job.GetName(),
		Incarnation: j.Incarnation,
		Exec: store.Execution{
			ScheduleTime: base.In(zoneEast),
			Attempts:     int32(seed%3 + 1),
			FirstAttempt: base.Add(time.Nanosecond).In(zoneWest),
			NextAttempt:  next,
			Owner:        owner,
			LeaseUntil:   jobNow.Add(time.Duration(seed) * time.Second),
			Claim:        int64(seed)<<32 | 5,
		},
	}
}

// addManualsFor adds ms, in order, and returns them with their IDs.
func addManualsFor(t *testing.T, st store.JobStore, ms ...store.Manual) []store.Manual {
	t.Helper()
	out := make([]store.Manual, len(ms))
	for i, m := range ms {
		id, err := st.AddManual(t.Context(), m)
		ok(t, err, fmt.Sprintf("AddManual %d of %s", i, m.Job))
		m.ID = id
		out[i] = m
	}
	return out
}

// manualsByID is every manual execution of the store by ID.
func manualsByID(t *testing.T, st store.JobStore) map[int64]store.Manual {
	t.Helper()
	all, err := st.ListManuals(t.Context())
	ok(t, err, "ListManuals")
	out := make(map[int64]store.Manual, len(all))
	for _, m := range all {
		out[m.ID] = m
	}
	return out
}

// sameManualExec checks a manual execution read back (or returned by a
// claim) against want, Exec.Manual true whatever want's.
func sameManualExec(t *testing.T, got, want store.Manual, what string) {
	t.Helper()
	w, g := want.Exec, got.Exec
	sameTime(t, g.ScheduleTime, w.ScheduleTime, what+" ScheduleTime")
	sameTime(t, g.FirstAttempt, w.FirstAttempt, what+" FirstAttempt")
	sameTime(t, g.NextAttempt, w.NextAttempt, what+" NextAttempt")
	sameTime(t, g.LeaseUntil, w.LeaseUntil, what+" LeaseUntil")
	if got.ID != want.ID || got.Job != want.Job || got.Incarnation != want.Incarnation ||
		!g.Manual || g.Attempts != w.Attempts || g.Owner != w.Owner || g.Claim != w.Claim {
		t.Fatalf("%s: got %+v, want %+v (Exec.Manual true)", what, got, want)
	}
}

// claimedManual is m as a claim by owner writes it: owned by owner, no
// next attempt, the next claim token.
func claimedManual(m store.Manual, owner string) store.Manual {
	m.Exec.Owner, m.Exec.NextAttempt, m.Exec.Claim = owner, time.Time{}, m.Exec.Claim+1
	return m
}

// claimManualsStep calls ClaimManuals once and checks everything it did
// (checkClaimedManuals).
func claimManualsStep(t *testing.T, s ClaimerStore, owner string, now time.Time, limit int, wantOrphans, wantDue []int64) []store.ClaimedManual {
	t.Helper()
	before := manualsByID(t, s)
	what := fmt.Sprintf("ClaimManuals(%s, %s, %d)", owner, now.Format(time.RFC3339Nano), limit)
	got, err := s.ClaimManuals(t.Context(), owner, now, limit)
	ok(t, err, what)
	checkClaimedManuals(t, s, what, before, got, owner, wantOrphans, wantDue)
	return got
}

// checkClaimedManuals checks a claim by owner of the manual executions
// before: it claimed the orphans wantOrphans (in any order: the contract
// gives none among them) and then the due executions wantDue (in this
// order), each returned as written, Orphan telling which it was, and
// stored so; every other execution is left as it was.
func checkClaimedManuals(t *testing.T, s ClaimerStore, what string, before map[int64]store.Manual, got []store.ClaimedManual,
	owner string, wantOrphans, wantDue []int64) {
	t.Helper()
	var orphans, due []int64
	for i, c := range got {
		if c.Orphan {
			if len(due) > 0 {
				t.Fatalf("%s: orphan %d returned after a due execution", what, c.ID)
			}
			orphans = append(orphans, c.ID)
		} else {
			due = append(due, c.ID)
		}
		b, found := before[c.ID]
		if !found {
			t.Fatalf("%s: returned %d, which was not stored", what, c.ID)
		}
		sameManualExec(t, c.Manual, claimedManual(b, owner), fmt.Sprintf("%s: returned [%d] (ID %d)", what, i, c.ID))
	}
	if !slices.Equal(slices.Sorted(slices.Values(orphans)), slices.Sorted(slices.Values(wantOrphans))) {
		t.Fatalf("%s: claimed orphans %v, want %v", what, orphans, wantOrphans)
	}
	if !slices.Equal(due, wantDue) {
		t.Fatalf("%s: claimed due %v, want %v", what, due, wantDue)
	}
	after := manualsByID(t, s)
	if len(after) != len(before) {
		t.Fatalf("%s: %d manual executions before, %d after", what, len(before), len(after))
	}
	claimed := map[int64]bool{}
	for _, c := range got {
		sameManualExec(t, after[c.ID], c.Manual, fmt.Sprintf("%s: stored %d", what, c.ID))
		claimed[c.ID] = true
	}
	for id, b := range before {
		if !claimed[id] {
			sameManualExec(t, after[id], b, fmt.Sprintf("%s: not claimed %d", what, id))
		}
	}
}

func manualIDs(ms ...store.Manual) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// ---- Tests ----

// testClaimManualsDue checks which manual executions are due to a
// claimer, in which order, up to the limit, and what a claim writes.
func testClaimManualsDue(t *testing.T, s ClaimerStore, _ func() ClaimerStore) {
	at := jobBase // the claimer's clock, not the store's
	heartbeat(t, s, "me", longLease)
	heartbeat(t, s, "live", longLease)
	a, b := manualJob(t, s, "a", 1), manualJob(t, s, "b", 2)
	ms := addManualsFor(t, s,
		manualOf(a, 1, at.Add(-30*time.Minute), ""),         // 0: due
		manualOf(b, 2, at.Add(1).In(zoneEast), ""),          // 1: not yet due
		manualOf(a, 3, at.Add(-2*time.Hour), "live"),        // 2: its owner is alive
		manualOf(b, 4, time.Time{}, ""),                     // 3: no next attempt: never due
		manualOf(a, 5, at.In(time.UTC), ""),                 // 4: due exactly now
		manualOf(b, 6, at.Add(-time.Hour), ""),              // 5: due, earliest
		manualOf(a, 7, at.Add(-30*time.Minute), ""),         // 6: due with 0, after it by ID
		manualOf(b, 8, at.Add(-3*time.Hour), "me"),          // 7: the claimer's own
		manualOf(a, 9, at.Add(-time.Hour).In(zoneWest), ""), // 8: due with 5, after it by ID
	)
	// By NextAttempt then ID, up to the limit.
	claimManualsStep(t, s, "me", at, 3, nil, manualIDs(ms[5], ms[8], ms[0]))
	claimManualsStep(t, s, "me", at, 10, nil, manualIDs(ms[6], ms[4]))
	claimManualsStep(t, s, "me", at, 10, nil, nil)
	// The next attempt is compared with the claimer's now, inclusive.
	claimManualsStep(t, s, "me", at.Add(1).In(zoneWest), 10, nil, manualIDs(ms[1]))
	// Owned ones, and one without a next attempt, are never due.
	claimManualsStep(t, s, "me", at.Add(1000*time.Hour), 10, nil, nil)

	// The claim's token is the one writes must now hold: a write with the
	// one before the claim is refused, one with the new one made.
	ctx := t.Context()
	mine := claimedManual(ms[5], "me")
	back := mine.Exec
	back.Owner, back.NextAttempt = "", at.Add(time.Hour)
	refused, err := s.UpdateManuals(ctx, []store.ManualWrite{
		{ID: ms[5].ID, Claim: ms[5].Exec.Claim, Exec: &back},
		{ID: ms[5].ID, Claim: mine.Exec.Claim, Exec: &back},
	})
	ok(t, err, "UpdateManuals after the claim")
	if !slices.Equal(refused, []int{0}) {
		t.Fatalf("UpdateManuals with the token before the claim and after it: refused %v, want [0]", refused)
	}
	// Given back without an owner, it is due again at its next attempt,
	// and claimed with the next token.
	claimManualsStep(t, s, "me", at.Add(time.Hour), 10, nil, manualIDs(ms[5]))
	if m := manualsByID(t, s)[ms[5].ID]; m.Exec.Claim != ms[5].Exec.Claim+2 {
		t.Fatalf("claimed twice, the token went from %d to %d, want %d", ms[5].Exec.Claim, m.Exec.Claim, ms[5].Exec.Claim+2)
	}
}

// testClaimManualsLive checks that only an owner with a live heartbeat
// claims, and the arguments ClaimManuals refuses; a refused claim writes
// nothing.
func testClaimManualsLive(t *testing.T, s ClaimerStore, _ func() ClaimerStore) {
	ctx := t.Context()
	at := jobBase
	a := manualJob(t, s, "a", 1)
	ms := addManualsFor(t, s, manualOf(a, 1, at.Add(-time.Hour), ""))
	before := manualsByID(t, s)
	refuse := func(owner string, limit int, what string) {
		t.Helper()
		got, err := s.ClaimManuals(ctx, owner, at, limit)
		if err == nil {
			t.Fatalf("ClaimManuals %s: claimed %v, want an error", what, got)
		}
		after := manualsByID(t, s)
		sameManualExec(t, after[ms[0].ID], before[ms[0].ID], "after ClaimManuals "+what)
	}
	refuse("never", 10, "by an owner that never beat")
	heartbeat(t, s, "r", longLease)
	refuse("", 10, "without an owner")
	refuse("r", 0, "with limit 0")
	refuse("r", -1, "with a negative limit")
	ok(t, s.Retire(ctx, "r"), "Retire r")
	refuse("r", 10, "by a retired owner")
	// Beating again makes it live again.
	heartbeat(t, s, "r", longLease)
	claimManualsStep(t, s, "r", at, 10, nil, manualIDs(ms[0]))
}

// testClaimManualsOrphans checks that the manual executions of a dead
// owner (retired, or whose heartbeat expired by the store's clock) go to
// the next claimer, before due ones, whatever their next attempt, with
// Orphan set and the next claim token.
func testClaimManualsOrphans(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	const lease = 300 * time.Millisecond
	ctx := t.Context()
	at := jobBase
	b := second()
	heartbeat(t, b, "B", longLease)
	heartbeat(t, s, "R", longLease)
	heartbeat(t, s, "C", longLease)
	j := manualJob(t, s, "j", 1)
	ms := addManualsFor(t, s,
		manualOf(j, 1, time.Time{}, "R"),            // 0: R's, its attempt in flight
		manualOf(j, 2, at.Add(1000*time.Hour), "R"), // 1: R's, a retry far ahead
		manualOf(j, 3, at.Add(-time.Hour), ""),      // 2: due
		manualOf(j, 4, at.Add(-5*time.Hour), "B"),   // 3: the claimer's own
		manualOf(j, 5, at.Add(-4*time.Hour), "C"),   // 4: C's, alive
		manualOf(j, 6, at.Add(-30*time.Minute), ""), // 5: due
	)
	rs := manualIDs(ms[0], ms[1])

	// R retires: its executions are orphans at once, taken first, up to
	// the limit.
	ok(t, s.Retire(ctx, "R"), "Retire R")
	before := manualsByID(t, b)
	got, err := b.ClaimManuals(ctx, "B", at, 1)
	ok(t, err, "ClaimManuals after R retired, limit 1")
	if len(got) != 1 || !slices.Contains(rs, got[0].ID) {
		t.Fatalf("ClaimManuals after R retired, limit 1: claimed %+v, want one of R's %v", got, rs)
	}
	checkClaimedManuals(t, b, "ClaimManuals after R retired, limit 1", before, got, "B", manualIDs(got[0].Manual), nil)
	rest := slices.DeleteFunc(slices.Clone(rs), func(id int64) bool { return id == got[0].ID })
	// Then R's other one, then the due ones; B's own and C's (alive) are
	// no one else's.
	claimManualsStep(t, b, "B", at, 10, rest, manualIDs(ms[2], ms[5]))
	claimManualsStep(t, b, "B", at.Add(2000*time.Hour), 10, nil, nil)

	// A's executions; A's heartbeat is as short as lease, and not renewed.
	// (Added before A beats, so that the claim below follows the beat
	// closely; no claim runs in between.)
	as := addManualsFor(t, s,
		manualOf(j, 7, time.Time{}, "A"),
		manualOf(j, 8, at.Add(-2*time.Hour), "A"),
		manualOf(j, 9, at.Add(1000*time.Hour), "A"),
	)
	lastA := heartbeat(t, s, "A", lease)
	// While A's heartbeat lasts its executions are no one else's. The
	// check holds only if the claim surely ran within A's lease, by the
	// store's clock.
	before = manualsByID(t, b)
	got, err = b.ClaimManuals(ctx, "B", at, 10)
	ok(t, err, "ClaimManuals while A is alive")
	if after := heartbeat(t, b, "B", longLease); after.Before(lastA.Add(lease - 10*time.Millisecond)) {
		checkClaimedManuals(t, b, "ClaimManuals while A is alive", before, got, "B", nil, nil)
	} else {
		t.Logf("A's heartbeat may have expired during the check; not checked (store clock %s, A's heartbeat %s)",
			after.Format(time.RFC3339Nano), lastA.Format(time.RFC3339Nano))
		if len(got) > 0 {
			return // what follows expects A's executions unclaimed
		}
	}
	// Once A's lease has passed by the store's clock (with the margin of
	// testClaimOrphans), its executions are orphans, whatever their next
	// attempt.
	waitStoreClock(t, b, "B", lastA.Add(lease+10*time.Millisecond))
	claimManualsStep(t, b, "B", at, 10, manualIDs(as...), nil)
	claimManualsStep(t, b, "B", at.Add(2000*time.Hour), 10, nil, nil)
}

// testClaimManualsNextDue checks that NextDue is the earliest of the due
// times of the unowned jobs and the next attempts of the unowned manual
// executions, and never an owned one's.
func testClaimManualsNextDue(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	ctx := t.Context()
	at := jobBase
	b := second()
	heartbeat(t, s, "me", longLease)
	heartbeat(t, s, "live", longLease)
	j := manualJob(t, s, "j", 1)
	checkNextDue(t, b, time.Time{}, "with an idle job")
	ms := addManualsFor(t, s,
		manualOf(j, 1, at.Add(-5*time.Hour), "live"), // owned: not NextDue's however early
		manualOf(j, 2, time.Time{}, ""),              // no next attempt
	)
	checkNextDue(t, b, time.Time{}, "with an owned manual execution and one without a next attempt")
	createJobs(t, s, withoutExec(dueJob("due", 2, at.Add(time.Hour), "")))
	checkNextDue(t, b, at.Add(time.Hour), "with a job due")
	ms = append(ms, addManualsFor(t, s, manualOf(j, 3, at.Add(2*time.Hour).In(zoneEast), ""))...)
	checkNextDue(t, b, at.Add(time.Hour), "with a manual execution due after the job")
	ms = append(ms, addManualsFor(t, s, manualOf(j, 4, at.Add(-time.Hour).In(zoneWest), ""))...)
	checkNextDue(t, b, at.Add(-time.Hour), "with a manual execution due before the job")

	// Claimed, it is owned and has no next attempt: the job is next again.
	claimManualsStep(t, s, "me", at, 10, nil, manualIDs(ms[3]))
	checkNextDue(t, b, at.Add(time.Hour), "with the earlier manual execution claimed")
	// Its owner gives it back, its next attempt due before anything else.
	mine := claimedManual(ms[3], "me")
	back := mine.Exec
	back.Owner, back.NextAttempt = "", at.Add(-3*time.Hour)
	refused, err := s.UpdateManuals(ctx, []store.ManualWrite{{ID: mine.ID, Claim: mine.Exec.Claim, Exec: &back}})
	ok(t, err, "UpdateManuals giving the execution back")
	if len(refused) != 0 {
		t.Fatalf("UpdateManuals giving the execution back: refused %v", refused)
	}
	checkNextDue(t, b, at.Add(-3*time.Hour), "with the execution given back")
	// Ended, it is no longer due; the other one is, after the job.
	refused, err = s.UpdateManuals(ctx, []store.ManualWrite{{ID: mine.ID, Claim: mine.Exec.Claim}})
	ok(t, err, "UpdateManuals ending the execution")
	if len(refused) != 0 {
		t.Fatalf("UpdateManuals ending the execution: refused %v", refused)
	}
	checkNextDue(t, b, at.Add(time.Hour), "with the execution ended")
	ok(t, s.DeleteJob(ctx, claimName("due")), "DeleteJob due")
	checkNextDue(t, b, at.Add(2*time.Hour), "with only a manual execution due")
	// Deleting its job takes it too.
	ok(t, s.DeleteJob(ctx, claimName("j")), "DeleteJob j")
	checkNextDue(t, b, time.Time{}, "with every job deleted")
}

// testClaimManualsSkipLocked checks that a claim skips the manual
// executions another transaction holds instead of waiting for them. The
// holder is an InTx that writes one of them (a write locks the row as
// ClaimManuals' own transaction does) and waits before committing.
func testClaimManualsSkipLocked(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	ctx := t.Context()
	at := jobBase
	b := second()
	heartbeat(t, b, "other", longLease)
	j := manualJob(t, s, "j", 1)
	var ms []store.Manual
	for i := range 5 {
		ms = append(ms, addManualsFor(t, s, manualOf(j, i, at.Add(time.Duration(i-6)*time.Second), ""))...)
	}

	entered, release := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	releaseHolder := func() { releaseOnce.Do(func() { close(release) }) }
	held := make(chan error, 1)
	var wg sync.WaitGroup
	// Whatever fails, the holder is let go and ends before the stores
	// close (cleanups run last registered first).
	t.Cleanup(func() { releaseHolder(); wg.Wait() })
	wg.Go(func() {
		held <- s.InTx(ctx, func(tx store.Tx) error {
			// The execution rewritten as it is: locked, and unchanged.
			e := ms[0].Exec
			refused, err := tx.UpdateManuals(ctx, []store.ManualWrite{{ID: ms[0].ID, Claim: e.Claim, Exec: &e}})
			if err != nil {
				return err
			}
			if len(refused) != 0 {
				return fmt.Errorf("the holder's write was refused: %v", refused)
			}
			enterOnce.Do(func() { close(entered) })
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	})
	deadline := time.NewTimer(claimWait)
	defer deadline.Stop()
	select {
	case <-entered:
	case err := <-held:
		t.Fatalf("the holder's InTx returned (%v) before its write", err)
	case <-deadline.C:
		t.Fatalf("the holder did not write within %v", claimWait)
	}

	// The holder's transaction holds ms[0]. The other replica's claim
	// skips it and takes the next two.
	type result struct {
		got []store.ClaimedManual
		err error
	}
	other := make(chan result, 1)
	before := manualsByID(t, b)
	wg.Go(func() {
		got, err := b.ClaimManuals(ctx, "other", at, 2)
		other <- result{got, err}
	})
	select {
	case r := <-other:
		ok(t, r.err, "the other's ClaimManuals while the holder holds the first")
		checkClaimedManuals(t, b, "the other's ClaimManuals while the holder holds the first", before, r.got, "other",
			nil, manualIDs(ms[1], ms[2]))
	case <-deadline.C:
		releaseHolder()
		t.Fatalf("the other's ClaimManuals waited %v for the holder's transaction instead of skipping the execution it holds", claimWait)
	}

	releaseHolder()
	select {
	case err := <-held:
		ok(t, err, "the holder's InTx")
	case <-deadline.C:
		t.Fatalf("the holder's InTx did not end within %v of its release", claimWait)
	}
	// Let go, the first is due to the next claim, before the rest.
	claimManualsStep(t, b, "other", at, 10, nil, manualIDs(ms[0], ms[3], ms[4]))
}
