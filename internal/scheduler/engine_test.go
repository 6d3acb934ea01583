package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// guard bounds every wait on an event; it is a failure guard, never how a
// test synchronizes.
const guard = 10 * time.Second

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// call is one attempt held by fakeSender until the test answers it.
type call struct {
	job          *schedulerpb.Job
	scheduleTime time.Time
	at           time.Time
	reply        chan Outcome
}

func (c *call) answer(code codes.Code, status int32) {
	c.reply <- Outcome{URL: c.job.GetHttpTarget().GetUri(), Code: code, HTTPStatus: status, Message: "scripted", Sent: c.at}
}

// fakeSender hands each attempt to the test, which answers it.
type fakeSender struct {
	clk   clock.Clock
	calls chan *call
}

func (f *fakeSender) Send(ctx context.Context, job *schedulerpb.Job, st time.Time) Outcome {
	c := &call{job: job, scheduleTime: st, at: f.clk.Now(), reply: make(chan Outcome)}
	f.calls <- c
	select {
	case o := <-c.reply:
		return o
	case <-ctx.Done():
		return Outcome{Code: codes.Canceled}
	}
}

type harness struct {
	t    *testing.T
	clk  *clock.Fake
	st   store.JobStore
	sig  *TestSignals
	snd  *fakeSender
	e    *Engine
	logs *syncBuffer
	reg  *prometheus.Registry
}

// metric reads a counter or gauge of the engine's registry; label is
// "name=value" or "".
func (h *harness) metric(name, label string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				match = match || lp.GetName()+"="+lp.GetValue() == label
			}
			if match {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)

func newHarness(t *testing.T, st store.JobStore, now time.Time, sender Sender) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(now), st: st, sig: NewTestSignals(100), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	if sender == nil {
		h.snd = &fakeSender{clk: h.clk, calls: make(chan *call, 100)}
		sender = h.snd
	} else if d, ok := sender.(*Dispatcher); ok {
		d.Clock = h.clk
	}
	h.e = New(Config{Store: st, Clock: h.clk, Sender: sender, Parse: parseFixture, Workers: 4,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)), Registerer: h.reg, Signals: h.sig})
	if err := h.e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Cancel whatever is still in flight: the test is over.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		h.e.Stop(ctx)
	})
	return h
}

func addJob(t *testing.T, st store.JobStore, id, schedule string, mod func(*schedulerpb.Job)) string {
	t.Helper()
	name := "projects/p/locations/us-central1/jobs/" + id
	j := &schedulerpb.Job{Name: name, Schedule: schedule, TimeZone: "UTC", State: schedulerpb.Job_ENABLED,
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://target.test/" + id}}}
	if mod != nil {
		mod(j)
	}
	if err := st.CreateJob(context.Background(), store.JobRecord{Job: j}); err != nil {
		t.Fatal(err)
	}
	return name
}

// apiWrite changes a job as the API does, then tells the engine.
func (h *harness) apiWrite(name string, mod func(*store.JobRecord)) {
	h.t.Helper()
	rec, err := h.st.GetJob(context.Background(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	mod(&rec)
	if err := h.st.UpdateJob(context.Background(), rec, rec.Version); err != nil {
		h.t.Fatal(err)
	}
	h.e.Changed(name)
}

func (h *harness) call() *call { h.t.Helper(); return recv(h.t, h.snd.calls, "an attempt") }

// noFire checks that nothing fired: slots are claimed synchronously inside
// clock.Advance, so an empty Fired channel right after it is conclusive.
func (h *harness) noFire() {
	h.t.Helper()
	select {
	case f := <-h.sig.Fired:
		h.t.Fatalf("unexpected fire %+v at %v", f, h.clk.Now())
	default:
	}
}

// noCall checks that no attempt is waiting to be answered; what says
// none was sent names the case.
func (h *harness) noCall(what string) {
	h.t.Helper()
	select {
	case c := <-h.snd.calls:
		h.t.Fatalf("%s: sent for %v", what, c.scheduleTime)
	default:
	}
}

// sync waits until every pending write has reached the store.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := h.e.Flush(ctx); err != nil {
		h.t.Fatalf("flush: %v", err)
	}
}

// nextDue is the earliest instant in the due queue.
func (h *harness) nextDue() time.Time {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	if len(h.e.queue) == 0 {
		return time.Time{}
	}
	return h.e.queue[0].at()
}

func (h *harness) rec(name string) store.JobRecord {
	h.t.Helper()
	h.sync()
	r, err := h.st.GetJob(context.Background(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func at(hms string) time.Time {
	v, err := time.Parse("15:04:05", hms)
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 3, 1, v.Hour(), v.Minute(), v.Second(), 0, time.UTC)
}

func TestFiresOnTime(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "j", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	if r := h.rec(name); !r.NextFire.Equal(at("12:01:00")) || !r.Job.GetScheduleTime().AsTime().Equal(at("12:01:00")) {
		t.Fatalf("after load: next fire %v, schedule_time %v", r.NextFire, r.Job.GetScheduleTime())
	}
	h.clk.Set(at("12:00:59"))
	h.noFire()
	h.clk.Set(at("12:01:00"))
	f := recv(t, h.sig.Fired, "the fire")
	if f.Job != name || !f.ScheduleTime.Equal(at("12:01:00")) || f.Skipped != 0 || f.Manual {
		t.Fatalf("fire %+v", f)
	}
	c := h.call()
	if !c.at.Equal(at("12:01:00")) || !c.scheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("sent at %v for %v", c.at, c.scheduleTime)
	}
	// The claim was written before the request left.
	if r, _ := st.GetJob(context.Background(), name); r.Exec == nil || !r.Exec.ScheduleTime.Equal(at("12:01:00")) || !r.NextFire.Equal(at("12:02:00")) {
		t.Fatalf("claim not written before sending: %+v", r)
	}
	c.answer(codes.OK, 200)
	a := recv(t, h.sig.AttemptFinished, "the attempt")
	if a.Number != 1 || a.Code != 0 || !a.Start.Equal(at("12:01:00")) {
		t.Fatalf("attempt %+v", a)
	}
	d := recv(t, h.sig.ExecutionDone, "the execution")
	if d.Attempts != 1 || d.Code != codes.OK {
		t.Fatalf("done %+v", d)
	}
	r := h.rec(name)
	if r.Exec != nil || !r.NextFire.Equal(at("12:02:00")) || !r.DueTime.Equal(at("12:02:00")) ||
		r.Job.GetStatus().GetCode() != 0 || !r.Job.GetLastAttemptTime().AsTime().Equal(at("12:01:00")) ||
		!r.Job.GetScheduleTime().AsTime().Equal(at("12:02:00")) {
		t.Fatalf("after the execution: %+v", r)
	}
	if as, _ := st.ListAttempts(context.Background(), name, 10, time.Time{}); len(as) != 1 {
		t.Fatalf("attempts %+v", as)
	}
	h.clk.Set(at("12:02:00"))
	if f := recv(t, h.sig.Fired, "the second fire"); !f.ScheduleTime.Equal(at("12:02:00")) {
		t.Fatalf("second fire %+v", f)
	}
	h.call().answer(codes.NotFound, 404)
	recv(t, h.sig.ExecutionDone, "the second execution")
	r = h.rec(name)
	if r.Job.GetStatus().GetCode() != int32(codes.NotFound) || r.Job.GetStatus().GetMessage() != "scripted" {
		t.Fatalf("status %+v", r.Job.GetStatus())
	}
	if got := h.metric("oidcron_scheduler_fires_total", "kind=scheduled"); got != 2 {
		t.Errorf("fires metric %v", got)
	}
	if got := h.metric("oidcron_scheduler_fire_delay_seconds", ""); got != 2 {
		t.Errorf("fire delay observations %v", got)
	}
	if got := h.metric("oidcron_scheduler_attempts_total", "code=NOT_FOUND"); got != 1 {
		t.Errorf("attempts{NOT_FOUND} %v", got)
	}

	// One AttemptFinished line per attempt, shaped as Cloud Logging's.
	var failed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "AttemptFinished" && m["level"] == "ERROR" {
			failed = m
		}
	}
	p, _ := failed["jsonPayload"].(map[string]any)
	if p["@type"] != "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished" || p["jobName"] != name ||
		p["status"] != "NOT_FOUND" || p["targetType"] != "HTTP" || p["url"] != "http://target.test/j" ||
		p["scheduledTime"] != "2026-03-01T12:02:00Z" || p["debugInfo"] != "scripted" {
		t.Fatalf("log line %v", failed)
	}
}

// A slot that comes while the previous execution runs waits for it, then
// fires once, for the latest slot.
func TestNoOverlap(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "slow", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("12:01:00"))
	recv(t, h.sig.Fired, "the fire")
	slow := h.call()
	h.clk.Set(at("12:03:30"))
	h.noFire()
	if r := h.rec(name); !r.Job.GetScheduleTime().AsTime().Equal(at("12:02:00")) {
		t.Fatalf("schedule_time while running: %v", r.Job.GetScheduleTime())
	}
	slow.answer(codes.OK, 200)
	f := recv(t, h.sig.Fired, "the delayed fire")
	if !f.ScheduleTime.Equal(at("12:03:00")) || f.Skipped != 1 {
		t.Fatalf("delayed fire %+v", f)
	}
	c := h.call()
	if !c.at.Equal(at("12:03:30")) || !c.scheduleTime.Equal(at("12:03:00")) {
		t.Fatalf("delayed attempt at %v for %v", c.at, c.scheduleTime)
	}
	c.answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "first")
	recv(t, h.sig.ExecutionDone, "second")
	h.noFire()
	if r := h.rec(name); !r.NextFire.Equal(at("12:04:00")) {
		t.Fatalf("next fire %v", r.NextFire)
	}
	if got := h.metric("oidcron_scheduler_skipped_slots_total", ""); got != 1 {
		t.Errorf("skipped metric %v", got)
	}
}

// Retries come at the documented backoff instants, counted from the end of
// the failed attempt, and keep the execution's schedule time.
func TestRetriesAtBackoffInstants(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "flaky", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(300 * time.Second), MaxDoublings: 3}
	})
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("13:00:00"))
	recv(t, h.sig.Fired, "the fire")
	h.call().answer(codes.Unavailable, 503)
	recv(t, h.sig.AttemptFinished, "attempt 1")

	for i, want := range []string{"13:00:10", "13:00:30", "13:01:10"} {
		wantAt := at(want)
		if got := h.nextDue(); !got.Equal(wantAt) {
			t.Fatalf("retry %d due %v, want %v", i+1, got, wantAt)
		}
		if r := h.rec(name); !r.Job.GetScheduleTime().AsTime().Equal(wantAt) || !r.DueTime.Equal(wantAt) ||
			r.Exec == nil || r.Exec.Attempts != int32(i+1) || !r.Exec.NextAttempt.Equal(wantAt) {
			t.Fatalf("retry %d: record %+v exec %+v", i+1, r.Job.GetScheduleTime(), r.Exec)
		}
		h.clk.Set(wantAt.Add(-time.Second))
		h.clk.Set(wantAt)
		c := h.call()
		if !c.at.Equal(wantAt) || !c.scheduleTime.Equal(at("13:00:00")) {
			t.Fatalf("retry %d sent at %v for %v", i+1, c.at, c.scheduleTime)
		}
		c.answer(codes.Unavailable, 503)
		if a := recv(t, h.sig.AttemptFinished, "a retry"); a.Number != int32(i+2) {
			t.Fatalf("attempt number %d", a.Number)
		}
	}
	d := recv(t, h.sig.ExecutionDone, "the execution")
	if d.Attempts != 4 || d.Code != codes.Unavailable {
		t.Fatalf("done %+v", d)
	}
	r := h.rec(name)
	if r.Exec != nil || !r.NextFire.Equal(at("14:00:00")) || !r.Job.GetScheduleTime().AsTime().Equal(at("14:00:00")) ||
		r.Job.GetStatus().GetCode() != int32(codes.Unavailable) {
		t.Fatalf("after retries: %+v", r)
	}
	if got := h.metric("oidcron_scheduler_retries_total", ""); got != 3 {
		t.Errorf("retries metric %v", got)
	}
}

// attempt_deadline ends an attempt as DEADLINE_EXCEEDED on the engine's
// clock, with the real dispatcher.
func TestAttemptDeadline(t *testing.T) {
	arrived := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("X-CloudScheduler-ScheduleTime")
		<-r.Context().Done()
	}))
	defer srv.Close()
	st := newMemStore()
	name := addJob(t, st, "hang", "every 1h", func(j *schedulerpb.Job) {
		j.GetHttpTarget().Uri = srv.URL
		j.AttemptDeadline = durationpb.New(15 * time.Second)
	})
	h := newHarness(t, st, t0, &Dispatcher{})
	h.clk.Set(at("13:00:00"))
	if got := recv(t, arrived, "the request"); got != "2026-03-01T13:00:00Z" {
		t.Fatalf("ScheduleTime header %q", got)
	}
	h.clk.Advance(15 * time.Second)
	a := recv(t, h.sig.AttemptFinished, "the attempt")
	if codes.Code(a.Code) != codes.DeadlineExceeded || !a.End.Equal(at("13:00:15")) {
		t.Fatalf("attempt %+v", a)
	}
	if r := h.rec(name); r.Job.GetStatus().GetCode() != int32(codes.DeadlineExceeded) {
		t.Fatalf("status %+v", r.Job.GetStatus())
	}
}

func TestPauseStopsFiresAndResumeDoesNotCatchUp(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "p", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("12:01:00"))
	recv(t, h.sig.Fired, "the fire")
	h.call().answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the execution")

	h.apiWrite(name, func(r *store.JobRecord) { r.Job.State = schedulerpb.Job_PAUSED })
	h.clk.Set(at("12:06:30"))
	h.noFire()
	if r := h.rec(name); !r.NextFire.IsZero() || !r.DueTime.IsZero() {
		t.Fatalf("paused job still due: %+v", r)
	}
	h.apiWrite(name, func(r *store.JobRecord) { r.Job.State = schedulerpb.Job_ENABLED })
	h.noFire() // the slots of the pause are not fired
	if r := h.rec(name); !r.NextFire.Equal(at("12:07:00")) || r.Job.GetDescription() != "" {
		t.Fatalf("resumed: %+v", r)
	}
	h.clk.Set(at("12:07:00"))
	if f := recv(t, h.sig.Fired, "the fire after resume"); !f.ScheduleTime.Equal(at("12:07:00")) || f.Skipped != 0 {
		t.Fatalf("fire %+v", f)
	}
	h.call().answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the execution")
}

// Pausing during retries stops them after the attempt under way.
func TestPauseStopsRetries(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "pr", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 5, MinBackoffDuration: durationpb.New(10 * time.Second)}
	})
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("13:00:00"))
	h.call().answer(codes.Internal, 500)
	recv(t, h.sig.AttemptFinished, "attempt 1")
	h.apiWrite(name, func(r *store.JobRecord) { r.Job.State = schedulerpb.Job_PAUSED })
	h.clk.Set(at("13:00:10"))
	recv(t, h.sig.ExecutionDone, "the execution ended by the pause")
	select {
	case c := <-h.snd.calls:
		t.Fatalf("retried while paused: %+v", c)
	default:
	}
	if r := h.rec(name); r.Exec != nil || !r.DueTime.IsZero() {
		t.Fatalf("paused job keeps its execution: %+v", r.Exec)
	}
}

func TestRunNowWhileRunning(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "r", "every 1h", nil)
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("13:00:00"))
	recv(t, h.sig.Fired, "the fire")
	scheduled := h.call()
	h.clk.Set(at("13:00:05"))
	if err := h.e.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if f := recv(t, h.sig.Fired, "the manual fire"); !f.Manual || !f.ScheduleTime.Equal(at("13:00:05")) {
		t.Fatalf("manual fire %+v", f)
	}
	manual := h.call()
	if !manual.scheduleTime.Equal(at("13:00:05")) {
		t.Fatalf("manual schedule time %v", manual.scheduleTime)
	}
	manual.answer(codes.OK, 200)
	if d := recv(t, h.sig.ExecutionDone, "the manual execution"); !d.Manual {
		t.Fatalf("%+v", d)
	}
	// The manual run left the scheduled execution and schedule_time alone.
	if r := h.rec(name); r.Exec == nil || !r.Exec.ScheduleTime.Equal(at("13:00:00")) || !r.Job.GetScheduleTime().AsTime().Equal(at("14:00:00")) {
		t.Fatalf("record after the manual run: %+v", r)
	}
	scheduled.answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the scheduled execution")
	as, _ := st.ListAttempts(context.Background(), name, 10, time.Time{})
	h.sync()
	as, _ = st.ListAttempts(context.Background(), name, 10, time.Time{})
	if len(as) != 2 {
		t.Fatalf("attempts %+v", as)
	}
	manualSeen := false
	for _, a := range as {
		manualSeen = manualSeen || a.Manual
	}
	if !manualSeen {
		t.Fatal("the manual attempt is not marked manual")
	}
	if err := h.e.RunNow(context.Background(), "projects/p/locations/us-central1/jobs/nope"); err == nil {
		t.Fatal("RunNow of a missing job succeeded")
	}
}

// A slot that comes while RunJob executions run waits for the last of them
// to end, as for a scheduled one (executions of one job never overlap;
// only RunJob itself starts beside one), then fires at once, once.
func TestSlotWaitsForManualExecutions(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "m", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("12:00:20"))
	var manual []*call
	for range 2 {
		if err := h.e.RunNow(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		recv(t, h.sig.Fired, "a manual fire")
		manual = append(manual, h.call())
	}
	h.clk.Set(at("12:01:30"))
	h.noFire()
	manual[0].answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the first manual execution")
	h.noFire()
	h.clk.Set(at("12:02:10")) // past a second slot while the other runs
	h.noFire()
	manual[1].answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the second manual execution")
	f := recv(t, h.sig.Fired, "the held slot")
	if f.Manual || !f.ScheduleTime.Equal(at("12:02:00")) || f.Skipped != 1 {
		t.Fatalf("held slot fired as %+v, want 12:02:00 with 12:01:00 skipped", f)
	}
	if c := h.call(); !c.scheduleTime.Equal(at("12:02:00")) {
		t.Fatalf("scheduled attempt for %v", c.scheduleTime)
	}
	h.noFire()
}

func TestDeleteStopsFires(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "d", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	if err := st.DeleteJob(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	h.e.Changed(name)
	h.clk.Set(at("12:05:00"))
	h.noFire()
	if !h.nextDue().IsZero() {
		t.Fatal("a deleted job is still queued")
	}
}

// crash copies the durable state at this instant, as kill -9 leaves it.
func crash(st *memStore) *memStore {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := newMemStore()
	for k, r := range st.jobs {
		c.jobs[k] = cloneRec(r)
	}
	c.attempts = append(c.attempts, st.attempts...)
	for id, m := range st.manuals {
		c.manuals[id] = m
	}
	c.lastManual = st.lastManual
	return c
}

// After a crash, the attempt in flight is tried again with the same
// ScheduleTime header; a slot missed while down fires once, for the latest
// slot, with the skipped slots counted.
func TestCrashRecovery(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "c", "every 1m", nil)
	h1 := newHarness(t, st, t0, nil)
	h1.clk.Set(at("12:01:00"))
	inFlight := h1.call() // claimed and sent; the server dies now
	down := crash(st)
	inFlight.answer(codes.OK, 200) // lost with the dead process

	headers := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Get("X-CloudScheduler-ScheduleTime")
	}))
	defer srv.Close()
	rec, _ := down.GetJob(context.Background(), name)
	rec.Job.GetHttpTarget().Uri = srv.URL
	if err := down.UpdateJob(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}

	h2 := newHarness(t, down, at("12:01:20"), &Dispatcher{})
	if f := recv(t, h2.sig.Fired, "the recovered execution"); !f.Recovered || !f.ScheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("recovered %+v", f)
	}
	if got := recv(t, headers, "the retried request"); got != "2026-03-01T12:01:00Z" {
		t.Fatalf("ScheduleTime header %q", got)
	}
	if a := recv(t, h2.sig.AttemptFinished, "the retried attempt"); a.Number != 1 || !a.ScheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("attempt %+v", a)
	}
	recv(t, h2.sig.ExecutionDone, "the recovered execution")
	h2.noFire()
	if r := h2.rec(name); r.Exec != nil || !r.NextFire.Equal(at("12:02:00")) {
		t.Fatalf("after recovery: %+v", r)
	}
	if err := h2.e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Down from 12:01:20 to 12:05:30: 12:02 .. 12:05 missed.
	h3 := newHarness(t, crash(down), at("12:05:30"), &Dispatcher{})
	f := recv(t, h3.sig.Fired, "the catch-up fire")
	if !f.ScheduleTime.Equal(at("12:05:00")) || f.Skipped != 3 {
		t.Fatalf("catch-up %+v", f)
	}
	if got := recv(t, headers, "the catch-up request"); got != "2026-03-01T12:05:00Z" {
		t.Fatalf("ScheduleTime header %q", got)
	}
	recv(t, h3.sig.ExecutionDone, "the catch-up execution")
	h3.noFire()
	if got := h3.metric("oidcron_scheduler_skipped_slots_total", ""); got != 3 {
		t.Errorf("skipped metric %v", got)
	}
	if !strings.Contains(h3.logs.String(), `"skipped":3`) {
		t.Errorf("skipped slots not logged: %s", h3.logs.String())
	}
	if r := h3.rec(name); !r.NextFire.Equal(at("12:06:00")) {
		t.Fatalf("next fire %v", r.NextFire)
	}
}

// An API write between the engine's read and its write is kept: the engine
// re-reads on a version mismatch and lays only its own fields over it.
func TestEngineWriteKeepsConcurrentAPIWrite(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "v", "every 1m", nil)
	h := newHarness(t, st, t0, nil)
	h.sync()
	var interleaved atomic.Bool
	st.beforeUpdate = func(n string) {
		if interleaved.CompareAndSwap(false, true) {
			r, _ := st.GetJob(context.Background(), n)
			r.Job.Description = "changed by the API"
			if err := st.UpdateJob(context.Background(), r, r.Version); err != nil {
				t.Error(err)
			}
		}
	}
	h.clk.Set(at("12:01:00"))
	recv(t, h.sig.Fired, "the fire")
	h.call().answer(codes.PermissionDenied, 403)
	recv(t, h.sig.ExecutionDone, "the execution")
	r := h.rec(name)
	if r.Job.GetDescription() != "changed by the API" || r.Job.GetStatus().GetCode() != int32(codes.PermissionDenied) || r.Exec != nil {
		t.Fatalf("merged record: %+v", r)
	}
	// A schedule change by the API is not overwritten by the engine's
	// NextFire, and Changed recomputes it from now.
	h.apiWrite(name, func(r *store.JobRecord) { r.Job.Schedule = "every 1h"; r.NextFire = time.Time{} })
	if r := h.rec(name); !r.NextFire.Equal(at("13:00:00")) {
		t.Fatalf("next fire after the schedule change: %v", r.NextFire)
	}
	h.clk.Set(at("12:59:59"))
	h.noFire()
	if !proto.Equal(r.Job.GetHttpTarget(), h.rec(name).Job.GetHttpTarget()) {
		t.Fatal("target changed")
	}
}

// runMinutes starts an engine on st with the given retention and trim
// interval and runs its every-minute job n times, each answered 200 and
// written before the next; the engine stops with the test.
func runMinutes(t *testing.T, st store.JobStore, retention, trimEvery, n int) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), st: st, sig: NewTestSignals(100), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	h.snd = &fakeSender{clk: h.clk, calls: make(chan *call, 100)}
	h.e = New(Config{Store: st, Clock: h.clk, Sender: h.snd, Parse: parseFixture, Retention: retention, Signals: h.sig})
	h.e.trimEvery = trimEvery
	if err := h.e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.e.Stop(context.Background()) })
	for range n {
		h.clk.Advance(time.Minute)
		h.call().answer(codes.OK, 200)
		recv(t, h.sig.ExecutionDone, "an execution")
		h.sync()
	}
	return h
}

// The history keeps the newest Retention attempts of each job.
func TestRetention(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "h", "every 1m", nil)
	h := runMinutes(t, st, 2, 1, 4)
	// The trim follows the flush that recorded the fourth attempt; Stop
	// waits for the writer, so it has run when Stop returns.
	if err := h.e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	as, _ := st.ListAttempts(context.Background(), name, 0, time.Time{})
	if len(as) != 2 || !as[0].ScheduleTime.Equal(at("12:04:00")) || !as[1].ScheduleTime.Equal(at("12:03:00")) {
		t.Fatalf("history %+v", as)
	}
}

// The history shows the newest Retention attempts only, though the store
// keeps older rows until the next trim (every few thousand attempts):
// paging with before does not reach past the retention either.
func TestHistoryShowsOnlyRetainedAttempts(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "h", "every 1m", nil)
	h := runMinutes(t, st, 3, trimEveryDefault, 6)
	ctx := context.Background()
	if all, _ := st.ListAttempts(ctx, name, 0, time.Time{}); len(all) <= 3 {
		t.Fatalf("the store holds %d attempts: the case needs more than the retention", len(all))
	}
	slots := func(as []store.Attempt, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.ScheduleTime.UTC().Format("15:04"))
		}
		return out
	}
	for _, c := range []struct {
		limit  int
		before time.Time
		want   []string
	}{
		{0, time.Time{}, []string{"12:06", "12:05", "12:04"}},
		{100, time.Time{}, []string{"12:06", "12:05", "12:04"}},
		{2, time.Time{}, []string{"12:06", "12:05"}},
		{100, at("12:05:00"), []string{"12:04"}},
		{100, at("12:04:00"), nil},
	} {
		if got := slots(h.e.Attempts(ctx, name, c.limit, c.before)); !slices.Equal(got, c.want) {
			t.Errorf("Attempts(limit %d, before %v) = %v, want %v", c.limit, c.before, got, c.want)
		}
	}
}

// Start pages through every job.
func TestStartLoadsEveryPage(t *testing.T) {
	st := newMemStore()
	n := 2*scanPage + 7
	for i := 0; i < n; i++ {
		addJob(t, st, "j"+strings.Repeat("0", 5-len(itoa(i)))+itoa(i), "every 1m", nil)
	}
	h := newHarness(t, st, t0, nil)
	h.e.mu.Lock()
	loaded, queued := len(h.e.jobs), len(h.e.queue)
	h.e.mu.Unlock()
	if loaded != n || queued != n {
		t.Fatalf("loaded %d queued %d of %d", loaded, queued, n)
	}
	if got := h.metric("oidcron_scheduler_queue_depth", ""); got != float64(n) {
		t.Errorf("queue depth %v", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A job created after Start is taken by Changed, whose write is in the
// store when Changed returns.
func TestChangedTakesANewJob(t *testing.T) {
	st := newMemStore()
	h := newHarness(t, st, t0, nil)
	name := addJob(t, st, "late", "every 1m", nil)
	h.e.Changed(name)
	r, err := st.GetJob(context.Background(), name) // no Flush: Changed waited
	if err != nil || !r.NextFire.Equal(at("12:01:00")) || !r.DueTime.Equal(at("12:01:00")) ||
		!r.Job.GetScheduleTime().AsTime().Equal(at("12:01:00")) {
		t.Fatalf("after Changed: %+v %v", r, err)
	}
	h.clk.Set(at("12:01:00"))
	if f := recv(t, h.sig.Fired, "the fire"); f.Job != name {
		t.Fatalf("fire %+v", f)
	}
	h.call().answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the execution")
}

func TestMergeState(t *testing.T) {
	base := &schedulerpb.Job{Name: "projects/p/locations/l/jobs/m", Schedule: "every 1m", State: schedulerpb.Job_ENABLED}
	result := &store.JobResult{LastAttemptTime: at("12:01:00")}
	s := snap{key: schedKey{base.Schedule, base.TimeZone}, enabled: true, incarnation: 3,
		st: store.JobState{Name: base.Name, Version: 5, NextFire: at("12:02:00"), DueTime: at("12:01:10"), ScheduleTime: at("12:01:10"),
			Exec: &store.Execution{ScheduleTime: at("12:01:00"), Attempts: 1}, Result: result}}

	apiOnly := proto.Clone(base).(*schedulerpb.Job)
	apiOnly.Description = "new"
	fresh := store.JobRecord{Job: apiOnly, Version: 7, Incarnation: 3, NextFire: at("12:05:00"), DueTime: at("12:05:00")}
	r := mergeState(s, fresh)
	if !r.NextFire.Equal(at("12:02:00")) || !r.DueTime.Equal(at("12:01:10")) || !r.ScheduleTime.Equal(at("12:01:10")) ||
		r.Exec != s.st.Exec || r.Version != 7 || r.Result != result {
		t.Fatalf("description change: %+v", r)
	}

	rescheduled := proto.Clone(base).(*schedulerpb.Job)
	rescheduled.Schedule = "every 1h"
	rescheduled.ScheduleTime = timestamp(at("13:00:00"))
	fresh = store.JobRecord{Job: rescheduled, Version: 8, Incarnation: 3, NextFire: at("13:00:00"), DueTime: at("13:00:00")}
	r = mergeState(s, fresh)
	if !r.NextFire.Equal(at("13:00:00")) || !r.DueTime.Equal(at("12:01:10")) || !r.ScheduleTime.Equal(at("13:00:00")) || r.Version != 8 {
		t.Fatalf("schedule change: next %v due %v schedule_time %v", r.NextFire, r.DueTime, r.ScheduleTime)
	}
	s.st.Exec = nil
	if r = mergeState(s, fresh); !r.DueTime.Equal(at("13:00:00")) {
		t.Fatalf("schedule change, idle: due %v", r.DueTime)
	}
	paused := proto.Clone(base).(*schedulerpb.Job)
	paused.State = schedulerpb.Job_PAUSED
	fresh = store.JobRecord{Job: paused, Version: 9, Incarnation: 3}
	if r = mergeState(s, fresh); !r.NextFire.IsZero() || !r.DueTime.IsZero() || !r.ScheduleTime.IsZero() {
		t.Fatalf("paused: %+v", r)
	}
}

// A retry that was waiting for its backoff at the crash comes at its
// instant, not at once, with its attempt count kept.
func TestRecoveredRetryKeepsItsInstant(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "w", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 1, MinBackoffDuration: durationpb.New(time.Minute)}
	})
	r, _ := st.GetJob(context.Background(), name)
	r.NextFire = at("13:00:00")
	r.DueTime = at("12:01:00")
	r.Exec = &store.Execution{ScheduleTime: at("12:00:00"), Attempts: 1, FirstAttempt: at("12:00:00"), NextAttempt: at("12:01:00")}
	if err := st.UpdateJob(context.Background(), r, r.Version); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, st, t0, nil)
	if f := recv(t, h.sig.Fired, "the recovered execution"); !f.Recovered {
		t.Fatalf("%+v", f)
	}
	if got := h.nextDue(); !got.Equal(at("12:01:00")) {
		t.Fatalf("retry due %v", got)
	}
	h.clk.Set(at("12:01:00"))
	c := h.call()
	if !c.at.Equal(at("12:01:00")) || !c.scheduleTime.Equal(at("12:00:00")) {
		t.Fatalf("retry sent at %v for %v", c.at, c.scheduleTime)
	}
	c.answer(codes.Internal, 500)
	if a := recv(t, h.sig.AttemptFinished, "the retry"); a.Number != 2 {
		t.Fatalf("attempt %+v", a)
	}
	// retry_count 1 is spent: the execution ends and the job waits for 13:00.
	if d := recv(t, h.sig.ExecutionDone, "the execution"); d.Attempts != 2 {
		t.Fatalf("%+v", d)
	}
	if r := h.rec(name); r.Exec != nil || !r.DueTime.Equal(at("13:00:00")) {
		t.Fatalf("after: %+v", r)
	}
}

func manuals(t *testing.T, st store.JobStore) []store.Manual {
	t.Helper()
	ms, err := st.ListManuals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A RunJob execution is stored before its first attempt is sent, and its
// progress with each outcome: after a crash its attempt in flight is sent
// again with the same ScheduleTime, and a retry waiting for its backoff
// comes at its instant with its attempt count kept; its end deletes it.
func TestManualExecutionSurvivesCrash(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "m", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 2, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 1}
	})
	h1 := newHarness(t, st, t0, nil)
	h1.clk.Set(at("12:00:40"))
	if err := h1.e.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	// Stored when RunNow returns, before any outcome.
	if ms := manuals(t, st); len(ms) != 1 || ms[0].Job != name || !ms[0].Exec.ScheduleTime.Equal(at("12:00:40")) || ms[0].Exec.Attempts != 0 {
		t.Fatalf("stored manual executions after RunNow: %+v", ms)
	}
	inFlight := h1.call()
	down := crash(st) // kill -9 while the first attempt is in flight
	inFlight.answer(codes.OK, 200)

	h2 := newHarness(t, down, at("12:00:50"), nil)
	if f := recv(t, h2.sig.Fired, "the recovered manual execution"); !f.Manual || !f.Recovered || !f.ScheduleTime.Equal(at("12:00:40")) {
		t.Fatalf("recovered %+v", f)
	}
	c := h2.call()
	if !c.scheduleTime.Equal(at("12:00:40")) || !c.at.Equal(at("12:00:50")) {
		t.Fatalf("attempt sent at %v for %v, want at once for 12:00:40", c.at, c.scheduleTime)
	}
	c.answer(codes.Internal, 500)
	if a := recv(t, h2.sig.AttemptFinished, "the first attempt"); a.Number != 1 || !a.Manual {
		t.Fatalf("attempt %+v", a)
	}
	h2.sync()
	ms := manuals(t, down)
	if len(ms) != 1 || ms[0].Exec.Attempts != 1 || !ms[0].Exec.FirstAttempt.Equal(at("12:00:50")) || !ms[0].Exec.NextAttempt.Equal(at("12:01:00")) {
		t.Fatalf("stored after a failed attempt: %+v", ms)
	}

	// Down again while the retry waits: it comes at 12:01:00, the second
	// attempt, for the same schedule time.
	again := crash(down)
	h3 := newHarness(t, again, at("12:00:55"), nil)
	recv(t, h3.sig.Fired, "the recovered retry")
	if got := h3.nextDue(); !got.Equal(at("12:01:00")) {
		t.Fatalf("retry due %v, want 12:01:00", got)
	}
	h3.clk.Set(at("12:01:00"))
	c = h3.call()
	if !c.scheduleTime.Equal(at("12:00:40")) {
		t.Fatalf("retry for %v", c.scheduleTime)
	}
	c.answer(codes.OK, 200)
	if a := recv(t, h3.sig.AttemptFinished, "the retry"); a.Number != 2 || !a.Manual {
		t.Fatalf("retry %+v", a)
	}
	if d := recv(t, h3.sig.ExecutionDone, "the manual execution"); !d.Manual || d.Attempts != 2 || d.Code != codes.OK {
		t.Fatalf("done %+v", d)
	}
	h3.sync()
	if ms := manuals(t, again); len(ms) != 0 {
		t.Fatalf("an ended manual execution is still stored: %+v", ms)
	}
	h3.noFire()
}

// A job deleted takes its stored RunJob executions with it; one stored for
// a job that is gone (a store written otherwise) is deleted at Start, not
// sent.
func TestManualExecutionOfAGoneJobEnds(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "g", "every 1h", nil)
	rec, _ := st.GetJob(context.Background(), name)
	if _, err := st.AddManual(context.Background(), store.Manual{Job: name, Incarnation: rec.Incarnation,
		Exec: store.Execution{ScheduleTime: at("12:00:10"), Manual: true}}); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	for id, m := range st.manuals {
		m.Job = "projects/p/locations/us-central1/jobs/gone"
		st.manuals[id] = m
	}
	st.mu.Unlock()
	h := newHarness(t, st, t0, nil)
	h.sync()
	if ms := manuals(t, st); len(ms) != 0 {
		t.Fatalf("the execution of a job that is gone is still stored: %+v", ms)
	}
	h.noFire()
	h.noCall("an execution of a job that is gone was sent")

	if err := h.e.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	c := h.call()
	if err := st.DeleteJob(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	h.e.Changed(name)
	if ms := manuals(t, st); len(ms) != 0 {
		t.Fatalf("DeleteJob left the job's manual execution: %+v", ms)
	}
	c.answer(codes.OK, 200)
	recv(t, h.sig.ExecutionDone, "the manual execution")
}

// RunNow fails, and nothing is sent, when the execution cannot be stored.
func TestRunNowFailsWhenNotStored(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "f", "every 1h", nil)
	h := newHarness(t, st, t0, nil)
	st.mu.Lock()
	st.manualErr = errors.New("disk full")
	st.mu.Unlock()
	if err := h.e.RunNow(context.Background(), name); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("RunNow with a failing store: %v", err)
	}
	h.noFire()
	h.noCall("sent an execution that was not stored")
}

// A RunJob execution's progress that the store refused is written again
// with the next batch, with its attempt, once: neither is lost nor doubled.
func TestManualProgressWrittenAfterAFailedWrite(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "p", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 1, MinBackoffDuration: durationpb.New(time.Hour)}
	})
	h := newHarness(t, st, t0, nil)
	if err := h.e.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	c := h.call()
	st.mu.Lock()
	st.manualErr = errors.New("disk full")
	st.mu.Unlock()
	c.answer(codes.Internal, 500)
	recv(t, h.sig.AttemptFinished, "the failed attempt")
	h.sync() // the write failed
	if ms := manuals(t, st); len(ms) != 1 || ms[0].Exec.Attempts != 0 {
		t.Fatalf("stored while the store refuses: %+v", ms)
	}
	if as, _ := st.ListAttempts(context.Background(), name, 0, time.Time{}); len(as) != 0 {
		t.Fatalf("the attempt was recorded without its execution's progress: %+v", as)
	}
	st.mu.Lock()
	st.manualErr = nil
	st.mu.Unlock()
	h.clk.Advance(retryWrite) // the writer's retry
	h.sync()
	if ms := manuals(t, st); len(ms) != 1 || ms[0].Exec.Attempts != 1 || !ms[0].Exec.NextAttempt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("stored after the store recovered: %+v", ms)
	}
	if as, _ := st.ListAttempts(context.Background(), name, 0, time.Time{}); len(as) != 1 {
		t.Fatalf("attempts after the store recovered: %+v", as)
	}
}

// RunNow before Start stores nothing: Start's read of the stored RunJob
// executions would run it a second time.
func TestRunNowBeforeStartIsRefused(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "b", "every 1h", nil)
	e := New(Config{Store: st, Sender: &fakeSender{calls: make(chan *call, 1)}, Parse: parseFixture})
	if err := e.RunNow(context.Background(), name); err == nil {
		t.Fatal("RunNow before Start succeeded")
	}
	if ms := manuals(t, st); len(ms) != 0 {
		t.Fatalf("stored before Start: %+v", ms)
	}
}
