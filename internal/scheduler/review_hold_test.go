package scheduler

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/store"
)

// holdSetup fires two jobs at 12:01, writes their claims, and ends the
// first one's attempt while the second is still being sent: the writer then
// holds that outcome (holdLocked). It runs inside a synctest bubble, whose
// clock is fake: synctest.Wait returns once the writer is in its hold, and
// the hold's real-time timer (holdMax) fires only when every goroutine of
// the bubble is blocked, which moves the bubble's time by holdMax.
func holdSetup(t *testing.T, base *memStore) (h *harness, first string, second *call) {
	a := addJob(t, base, "a", "every 1m", nil)
	addJob(t, base, "b", "every 1m", nil)
	h = newHarness(t, base, t0, nil)
	h.sync()
	h.clk.Set(at("12:01:00"))
	c1, c2 := h.call(), h.call()
	if c1.job.GetName() != a {
		c1, c2 = c2, c1
	}
	h.sync() // the claims
	c1.answer(codes.OK, 200)
	recv(t, h.sig.AttemptFinished, "a's attempt")
	synctest.Wait() // the writer holds a's outcome: b is being sent
	if n := attemptsStored(t, base, a); n != 0 {
		t.Fatalf("a's outcome was written at once (%d attempts), want it held", n)
	}
	return h, a, c2
}

func attemptsStored(t *testing.T, st *memStore, name string) int {
	t.Helper()
	as, err := st.ListAttempts(context.Background(), name, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

// Changed waits for the write of its job's dirty state, and sets prompt;
// a change that marks nothing dirty (here a description) does not wake the
// writer, which then holds until holdMax even though Changed waits.
func TestReviewChangedEndsTheHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, a, b := holdSetup(t, newMemStore())
		start := time.Now()
		h.apiWrite(a, func(r *store.JobRecord) { r.Job.Description = "changed" })
		if d := time.Since(start); d != 0 {
			t.Fatalf("Changed waited %v for the writer's hold, want it written at once", d)
		}
		b.answer(codes.OK, 200)
	})
}

// When the last attempt being sent ends for a job deleted meanwhile, no
// attempt is being sent any more (holdLocked is false), but nothing wakes
// the writer: the held outcome waits for holdMax.
func TestReviewLastSendEndingEndsTheHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newMemStore()
		h, a, b := holdSetup(t, base)
		bName := b.job.GetName()
		if err := base.DeleteJob(context.Background(), bName); err != nil {
			t.Fatal(err)
		}
		h.e.Changed(bName)
		b.answer(codes.OK, 200)
		recv(t, h.sig.AttemptFinished, "b's attempt")
		synctest.Wait()
		if n := attemptsStored(t, base, a); n != 1 {
			t.Fatalf("with no attempt being sent, a's held outcome is still unwritten (%d attempts stored)", n)
		}
	})
}
