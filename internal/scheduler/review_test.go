package scheduler

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// hookStore runs a test's function before the engine's state writes and
// attempt records reach a store, to interleave what the API does. It has
// no InTx: the engine writes through it call by call.
type hookStore struct {
	store.JobStore
	beforeStates func(states []store.JobState)
	beforeAdd    func(as []store.Attempt)
	// beforeGet and beforeGetJobs run before the reads; an error they
	// return is the read's.
	beforeGet     func(name string) error
	beforeGetJobs func(names []string) error
	// afterGetJobs runs once GetJobs has read.
	afterGetJobs func()
	// addErr and statesErr, when they return an error, fail the write
	// before it reaches the store.
	addErr    func(as []store.Attempt) error
	statesErr func(states []store.JobState) error
}

func (h *hookStore) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	if h.beforeGet != nil {
		if err := h.beforeGet(name); err != nil {
			return store.JobRecord{}, err
		}
	}
	return h.JobStore.GetJob(ctx, name)
}

func (h *hookStore) GetJobs(ctx context.Context, names []string) ([]store.JobRecord, error) {
	if h.beforeGetJobs != nil {
		if err := h.beforeGetJobs(names); err != nil {
			return nil, err
		}
	}
	recs, err := h.JobStore.GetJobs(ctx, names)
	if h.afterGetJobs != nil {
		h.afterGetJobs()
	}
	return recs, err
}

func (h *hookStore) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	if h.beforeStates != nil {
		h.beforeStates(states)
	}
	if h.statesErr != nil {
		if err := h.statesErr(states); err != nil {
			return nil, err
		}
	}
	return h.JobStore.UpdateJobStates(ctx, states)
}

func (h *hookStore) AddAttempts(ctx context.Context, as []store.Attempt) error {
	if h.beforeAdd != nil {
		h.beforeAdd(as)
	}
	if h.addErr != nil {
		if err := h.addErr(as); err != nil {
			return err
		}
	}
	return h.JobStore.AddAttempts(ctx, as)
}

// backends runs a test on the in-memory store and on SQLite.
func backends(t *testing.T, test func(t *testing.T, st store.JobStore)) {
	t.Run("mem", func(t *testing.T) { test(t, newMemStore()) })
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		test(t, s)
	})
}

// recreate deletes the job name and creates it again as another job, as
// the API does (without telling the engine).
func recreate(t *testing.T, st store.JobStore, name, schedule string) {
	t.Helper()
	ctx := context.Background()
	if err := st.DeleteJob(ctx, name); err != nil {
		t.Error(err)
		return
	}
	j := &schedulerpb.Job{Name: name, Schedule: schedule, TimeZone: "UTC", State: schedulerpb.Job_ENABLED, Description: "the second job",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://target.test/second"}}}
	if err := st.CreateJob(ctx, store.JobRecord{Job: j}); err != nil {
		t.Error(err)
	}
}

// A change whose re-read fails is not lost: the job does not fire until it
// is read, and then the engine applies what it reads (here, a pause). A
// job whose re-read fails but that is still enabled fires late, once, when
// it is read.
func TestChangedReadFailureIsRetried(t *testing.T) {
	st := newMemStore()
	paused := addJob(t, st, "paused", "every 1h", nil)
	late := addJob(t, st, "late", "every 1h", nil)
	h := newHarness(t, st, at("12:59:59.5"), nil)
	h.sync()
	boom := errors.New("database is locked")
	for name, mod := range map[string]func(*store.JobRecord){
		paused: func(r *store.JobRecord) { r.Job.State = schedulerpb.Job_PAUSED },
		late:   func(r *store.JobRecord) { r.Job.Description = "changed" },
	} {
		rec, err := st.GetJob(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		mod(&rec)
		if err := st.UpdateJob(context.Background(), rec, rec.Version); err != nil {
			t.Fatal(err)
		}
		// Changed's read and the re-reads fail until the store recovers.
		st.failGet(name, boom)
		h.e.Changed(name)
	}
	// Each job is read again at once, and fails again.
	failed := map[string]bool{}
	for len(failed) < 2 {
		r := recv(t, h.sig.Reread, "a failed re-read")
		if r.Err == nil {
			t.Fatalf("re-read of %s succeeded while the store fails", r.Job)
		}
		failed[r.Job] = true
	}
	// The slot comes while the jobs cannot be read: neither fires.
	h.clk.Set(at("13:00:00"))
	h.noFire()
	// The store recovers; the next re-read (at most maxRetryRead later) succeeds.
	st.failGet(paused, nil)
	st.failGet(late, nil)
	h.clk.Advance(maxRetryRead)
	read := map[string]bool{}
	for len(read) < 2 {
		if r := recv(t, h.sig.Reread, "a re-read"); r.Err == nil {
			read[r.Job] = true
		}
	}
	if f := recv(t, h.sig.Fired, "the late fire"); f.Job != late || !f.ScheduleTime.Equal(at("13:00:00")) || f.Skipped != 0 {
		t.Fatalf("fire %+v, want %s at 13:00:00", f, late)
	}
	h.call().answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the late execution")
	h.noFire()
	if r := h.rec(paused); !r.NextFire.IsZero() || r.Exec != nil || !r.DueTime.IsZero() {
		t.Fatalf("paused job: %+v", r)
	}
	h.clk.Set(at("14:00:00"))
	if f := recv(t, h.sig.Fired, "the next fire"); f.Job != late {
		t.Fatalf("fire %+v: the paused job fired", f)
	}
	h.noFire()
}

// A job deleted and created again under its name while the engine's write
// of the first job's claim is on its way: the write must not land on the
// second job (its versions continue past the first's, so the stale version
// is refused, and a re-read finds another incarnation), and no attempt of
// the first is sent.
func TestStaleWriteDoesNotLandOnRecreatedJob(t *testing.T) {
	backends(t, func(t *testing.T, base store.JobStore) {
		ctx := context.Background()
		name := addJob(t, base, "again", "every 1m", nil)
		st := &hookStore{JobStore: base}
		recreated := make(chan struct{})
		var once sync.Once
		st.beforeStates = func(states []store.JobState) {
			for _, s := range states {
				if s.Name != name || s.Exec == nil {
					continue
				}
				// The claim of the first job: replace the job now, and
				// write the second until it has the version the claim
				// expects (as restarting versions at 1 would allow).
				once.Do(func() {
					recreate(t, base, name, "every 1h")
					for {
						r, err := base.GetJob(ctx, name)
						if err != nil || r.Version >= s.Version {
							break
						}
						if err := base.UpdateJob(ctx, r, r.Version); err != nil {
							t.Error(err)
							break
						}
					}
					close(recreated)
				})
			}
		}
		h := newHarness(t, st, t0, nil)
		h.sync()
		h.clk.Set(at("12:01:00"))
		recv(t, h.sig.Fired, "the fire")
		recv(t, recreated, "the re-creation")
		h.e.Changed(name) // the API's, after its create
		h.sync()
		h.noSendUntilDone(name)
		r := h.rec(name)
		if r.Job.GetDescription() != "the second job" || r.Job.GetSchedule() != "every 1h" || r.Exec != nil ||
			!r.NextFire.Equal(at("13:00:00")) || !r.Job.GetScheduleTime().AsTime().Equal(at("13:00:00")) {
			t.Fatalf("the second job was overwritten: %+v %v", r, r.Job)
		}
		// The second job fires on its own schedule.
		h.clk.Set(at("13:00:00"))
		if f := recv(t, h.sig.Fired, "the second job's fire"); !f.ScheduleTime.Equal(at("13:00:00")) {
			t.Fatalf("fire %+v", f)
		}
		if c := h.call(); c.job.GetDescription() != "the second job" {
			t.Fatalf("sent %v", c.job)
		} else {
			c.answer(codes.OK, 200)
		}
		recv(t, h.sig.ExecutionDone, "the second job's execution")
	})
}

// An attempt of a job recorded after the job was deleted and created again
// under its name stays out of the new job's history.
func TestAttemptOfDeletedJobNotInSuccessorHistory(t *testing.T) {
	backends(t, func(t *testing.T, base store.JobStore) {
		ctx := context.Background()
		name := addJob(t, base, "hist", "every 1m", nil)
		st := &hookStore{JobStore: base}
		adding, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		st.beforeAdd = func([]store.Attempt) {
			once.Do(func() {
				close(adding)
				<-release
			})
		}
		h := newHarness(t, st, t0, nil)
		h.sync()
		h.clk.Set(at("12:01:00"))
		h.call().answer(codes.OK, 200)
		recv(t, h.sig.ExecutionDone, "the execution")
		// Its attempt is on its way to the store when the job is replaced.
		recv(t, adding, "the attempt's write")
		recreate(t, base, name, "every 1h")
		close(release)
		h.e.Changed(name)
		h.sync()
		as, err := base.ListAttempts(ctx, name, 0, time.Time{})
		if err != nil || len(as) != 0 {
			t.Fatalf("the new job's history: %+v, %v", as, err)
		}
		if r := h.rec(name); r.Job.GetStatus() != nil || r.Job.GetLastAttemptTime() != nil {
			t.Fatalf("the new job shows the old one's attempt: %v", r.Job)
		}
	})
}

// noSendUntilDone waits for the execution of name to end (dropped, paused
// or ended) and fails if an attempt is sent first.
func (h *harness) noSendUntilDone(name string) ExecutionDone {
	h.t.Helper()
	select {
	case c := <-h.snd.calls:
		h.t.Fatalf("an attempt of %s was sent: %v", name, c.job)
	case d := <-h.sig.ExecutionDone:
		if d.Job != name || d.Attempts != 0 {
			h.t.Fatalf("execution done %+v, want %s without an attempt", d, name)
		}
		return d
	case <-time.After(guard):
		h.t.Fatalf("timed out waiting for the end of the execution of %s", name)
	}
	panic("unreachable")
}

// A job paused while a worker reads its message (the loader's batch read
// failed): the attempt must not be sent, even though the pause's Changed
// finished while the execution was not queued.
func TestPauseDuringMessageReadIsNotSent(t *testing.T) {
	backends(t, func(t *testing.T, base store.JobStore) {
		ctx := context.Background()
		name := addJob(t, base, "pausing", "every 1m", nil)
		st := &hookStore{JobStore: base}
		boom := errors.New("database is locked")
		var h *harness
		var paused atomic.Bool
		st.beforeGetJobs = func([]string) error { return boom }
		st.beforeGet = func(n string) error {
			if n == name && h != nil && paused.CompareAndSwap(false, true) {
				// The worker's read: the API pauses the job meanwhile.
				r, err := base.GetJob(ctx, name)
				if err != nil {
					t.Error(err)
					return nil
				}
				r.Job.State = schedulerpb.Job_PAUSED
				if err := base.UpdateJob(ctx, r, r.Version); err != nil {
					t.Error(err)
				}
				h.e.Changed(name)
			}
			return nil
		}
		h = newHarness(t, st, t0, nil)
		h.sync()
		h.clk.Set(at("12:01:00"))
		recv(t, h.sig.Fired, "the fire")
		h.noSendUntilDone(name)
		if !paused.Load() {
			t.Fatal("the worker did not read the job")
		}
		h.sync()
		if r := h.rec(name); r.Exec != nil || !r.NextFire.IsZero() {
			t.Fatalf("paused job: %+v", r)
		}
	})
}

// A claim whose write finds the job deleted and created again holds the
// execution until the job is read, instead of sending the message of the
// job that was (even when the API's Changed never comes).
func TestGoneClaimHoldsExecution(t *testing.T) {
	backends(t, func(t *testing.T, base store.JobStore) {
		ctx := context.Background()
		name := addJob(t, base, "gone", "every 1m", nil)
		st := &hookStore{JobStore: base}
		loaded, release := make(chan struct{}), make(chan struct{})
		var loadOnce, claimOnce, releaseOnce sync.Once
		defer releaseOnce.Do(func() { close(release) })
		var reads atomic.Int32 // GetJob of name once armed (> 0)
		// The loader's read, of the first job, lands first.
		st.afterGetJobs = func() { loadOnce.Do(func() { close(loaded) }) }
		st.beforeGet = func(n string) error {
			// The claim's own re-read (writeOne) finds the second job; the
			// writer's re-read after it waits until the test lets it.
			if n == name && reads.Load() > 0 && reads.Add(1) > 2 {
				<-release
			}
			return nil
		}
		st.beforeStates = func(states []store.JobState) {
			for _, s := range states {
				if s.Name != name || s.Exec == nil {
					continue
				}
				claimOnce.Do(func() {
					<-loaded
					recreate(t, base, name, "every 1h")
					for {
						r, err := base.GetJob(ctx, name)
						if err != nil || r.Version >= s.Version {
							break
						}
						if err := base.UpdateJob(ctx, r, r.Version); err != nil {
							t.Error(err)
							break
						}
					}
					reads.Store(1)
				})
			}
		}
		h := newHarness(t, st, t0, nil)
		h.sync()
		h.clk.Set(at("12:01:00"))
		recv(t, h.sig.Fired, "the fire")
		select {
		case c := <-h.snd.calls:
			t.Fatalf("the deleted job's message was sent: %v", c.job)
		case hd := <-h.sig.Held:
			if hd.Job != name || hd.Err != nil {
				t.Fatalf("held %+v", hd)
			}
		case <-time.After(guard):
			t.Fatal("timed out waiting for the execution to be held")
		}
		// The re-read drops the first job and its execution.
		releaseOnce.Do(func() { close(release) })
		h.noSendUntilDone(name)
		h.sync()
		if r := h.rec(name); r.Job.GetDescription() != "the second job" || r.Exec != nil {
			t.Fatalf("the second job: %+v %v", r, r.Job)
		}
	})
}

// A message read that keeps failing is tried again later each time (up to
// maxRetryRead), and with the loader's batch read of the executions then
// due, not at a fixed interval one read per execution.
func TestFailedMessageReadBacksOff(t *testing.T) {
	base := newMemStore()
	name := addJob(t, base, "unreadable", "every 1h", nil)
	st := &hookStore{JobStore: base}
	var batches atomic.Int32
	st.beforeGetJobs = func([]string) error { batches.Add(1); return nil }
	h := newHarness(t, st, t0, nil)
	h.sync()
	boom := errors.New("database is locked")
	base.failGet(name, boom)
	h.clk.Set(at("13:00:00"))
	recv(t, h.sig.Fired, "the fire")
	wait := retryRead
	for i := 1; i <= 8; i++ {
		hd := recv(t, h.sig.Held, "a failed read")
		if hd.Err == nil || !hd.Next.Equal(h.clk.Now().Add(wait)) {
			t.Fatalf("read %d: held %+v at %v, want a retry after %v", i, hd, h.clk.Now(), wait)
		}
		if n := batches.Load(); n != int32(i) {
			t.Fatalf("read %d: %d batch reads", i, n)
		}
		if i == 8 {
			base.failGet(name, nil) // the store recovers
		}
		h.clk.Set(hd.Next)
		wait = min(2*wait, maxRetryRead)
	}
	h.call().answer(codes.OK, 200)
	if d := recv(t, h.sig.ExecutionDone, "the execution"); d.Job != name || d.Attempts != 1 {
		t.Fatalf("done %+v", d)
	}
}
