package scheduler

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
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
}

func (h *hookStore) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	if h.beforeStates != nil {
		h.beforeStates(states)
	}
	return h.JobStore.UpdateJobStates(ctx, states)
}

func (h *hookStore) AddAttempts(ctx context.Context, as []store.Attempt) error {
	if h.beforeAdd != nil {
		h.beforeAdd(as)
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
		select {
		case c := <-h.snd.calls:
			t.Fatalf("an attempt of the deleted job was sent: %v", c.job)
		default:
		}
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
