package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// The engine on the real SQLite store (batches in transactions): retries
// are recorded, an execution cut short by a stop is resumed by the next
// engine on the same database with the same ScheduleTime header, and the
// slots missed while down fire once.
func TestSQLiteRetryStopAndResume(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	name := addJob(t, st, "s", "every 1m", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 2, MinBackoffDuration: durationpb.New(5 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Hour), MaxDoublings: 5}
	})
	h1 := newHarness(t, st, t0, nil)
	h1.clk.Set(at("12:01:00"))
	recv(t, h1.sig.Fired, "the fire")
	h1.call().answer(codes.Internal, 500)
	recv(t, h1.sig.AttemptFinished, "attempt 1")
	h1.clk.Set(at("12:01:05"))
	c := h1.call() // attempt 2 is under way when the server stops
	if !c.scheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("retry for %v", c.scheduleTime)
	}
	stopCtx, cancel := context.WithCancel(ctx)
	cancel() // stop now: the attempt in flight is abandoned, not recorded
	if err := h1.e.Stop(stopCtx); err != nil {
		t.Fatalf("Stop with an ended context: %v; cutting an attempt short loses nothing, so it is no failure", err)
	}
	r, err := st.GetJob(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exec == nil || r.Exec.Attempts != 1 || !r.Exec.ScheduleTime.Equal(at("12:01:00")) || r.Job.GetStatus().GetCode() != int32(codes.Internal) {
		t.Fatalf("stored after the stop: %+v exec %+v", r, r.Exec)
	}
	as, err := st.ListAttempts(ctx, name, 10, time.Time{})
	if err != nil || len(as) != 1 || as[0].Number != 1 || as[0].Code != int32(codes.Internal) {
		t.Fatalf("attempts %+v %v", as, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	headers := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Get("X-CloudScheduler-ScheduleTime")
	}))
	defer srv.Close()
	st2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	r, _ = st2.GetJob(ctx, name)
	r.Job.GetHttpTarget().Uri = srv.URL
	if err := st2.UpdateJob(ctx, r, r.Version); err != nil {
		t.Fatal(err)
	}
	// Back at 12:03:30: the execution of 12:01 resumes first (attempt 2),
	// then the job is free and 12:03 fires once (12:02 skipped).
	h2 := newHarness(t, st2, at("12:03:30"), &Dispatcher{})
	if got := recv(t, headers, "the resumed attempt"); got != "2026-03-01T12:01:00Z" {
		t.Fatalf("resumed ScheduleTime %q", got)
	}
	if got := recv(t, headers, "the catch-up attempt"); got != "2026-03-01T12:03:00Z" {
		t.Fatalf("catch-up ScheduleTime %q", got)
	}
	// The two executions' signals may come in either order (two workers).
	for i := 0; i < 2; i++ {
		a := recv(t, h2.sig.AttemptFinished, "an attempt")
		if a.ScheduleTime.Equal(at("12:01:00")) && (a.Number != 2 || codes.Code(a.Code) != codes.OK) {
			t.Fatalf("resumed attempt %+v", a)
		}
	}
	recv(t, h2.sig.ExecutionDone, "the resumed execution")
	recv(t, h2.sig.ExecutionDone, "the catch-up execution")
	r = h2.rec(name)
	if r.Exec != nil || !r.NextFire.Equal(at("12:04:00")) || r.Job.GetStatus().GetCode() != 0 ||
		!r.Job.GetScheduleTime().AsTime().Equal(at("12:04:00")) {
		t.Fatalf("after recovery: %+v", r)
	}
	as, err = h2.e.Attempts(ctx, name, 10, time.Time{})
	if err != nil || len(as) != 3 {
		t.Fatalf("history %+v %v", as, err)
	}
	if got := h2.metric("oidcron_scheduler_skipped_slots_total", ""); got != 1 {
		t.Errorf("skipped %v", got)
	}
}

// okSender answers every attempt at once with 200 and counts them.
type okSender struct {
	clk   clock.Clock
	mu    sync.Mutex
	count map[string]int
}

func (s *okSender) Send(_ context.Context, job *schedulerpb.Job, st time.Time) Outcome {
	s.mu.Lock()
	s.count[job.GetName()+" "+FormatScheduleTime(st)]++
	s.mu.Unlock()
	return Outcome{URL: job.GetHttpTarget().GetUri(), Code: codes.OK, HTTPStatus: 200, Sent: s.clk.Now()}
}

// A burst larger than one write batch: every job fires exactly once, and
// every claim and attempt reaches SQLite.
func TestSQLiteBurst(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := maxBatch + 88
	for i := 0; i < n; i++ {
		addJob(t, st, fmt.Sprintf("b%04d", i), "every 1m", nil)
	}
	clk := clock.NewFake(t0)
	snd := &okSender{clk: clk, count: map[string]int{}}
	sig := NewTestSignals(n + 10)
	e := New(Config{Store: st, Clock: clk, Sender: snd, Parse: parseFixture, Workers: 8, Signals: sig})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	clk.Set(at("12:01:00"))
	for i := 0; i < n; i++ {
		recv(t, sig.ExecutionDone, "an execution")
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snd.mu.Lock()
	if len(snd.count) != n {
		t.Errorf("%d executions, want %d", len(snd.count), n)
	}
	for k, c := range snd.count {
		if c != 1 {
			t.Errorf("%s sent %d times", k, c)
		}
	}
	snd.mu.Unlock()
	recs, err := st.ScanJobs(ctx, store.Page{})
	if err != nil || len(recs) != n {
		t.Fatalf("%d jobs, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Exec != nil || !r.NextFire.Equal(at("12:02:00")) || !r.Job.GetLastAttemptTime().AsTime().Equal(at("12:01:00")) {
			t.Fatalf("%s: %+v", r.Job.GetName(), r)
		}
		if as, _ := st.ListAttempts(ctx, r.Job.GetName(), 0, time.Time{}); len(as) != 1 {
			t.Fatalf("%s: %d attempts", r.Job.GetName(), len(as))
		}
	}
}
