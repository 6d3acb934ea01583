package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/option"
)

// Crash test parameters.
const (
	crashJobs     = 200
	crashProject  = "crash-test"
	crashLocation = "us-central1"
	// crashDeadline is the jobs' attempt_deadline. The engine sends at most
	// its worker pool's worth of attempts at once (128 by default, not a
	// flag), so with the sink holding every request the jobs past the pool
	// are first sent when the held ones reach this deadline.
	crashDeadline = 30 * time.Second
	// crashManual is a paused job whose RunJob execution is in flight at
	// the kill (held by the sink, under the longest attempt_deadline).
	crashManual = "manual"
)

// sinkHit is one request received by the sink.
type sinkHit struct {
	job, scheduleTime string // the X-CloudScheduler-* headers
	at                time.Time
}

// sink records the requests of one phase and wakes waiters on each.
type sink struct {
	mu    sync.Mutex
	hits  []sinkHit
	kick  chan struct{}
	serve func(w http.ResponseWriter, r *http.Request, h sinkHit)
}

func newSink(serve func(w http.ResponseWriter, r *http.Request, h sinkHit)) *sink {
	return &sink{kick: make(chan struct{}, 1), serve: serve}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sinkHit{job: r.Header.Get("X-CloudScheduler-JobName"), scheduleTime: r.Header.Get("X-CloudScheduler-ScheduleTime"), at: time.Now()}
	s.mu.Lock()
	s.hits = append(s.hits, h)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	s.serve(w, r, h)
}

func (s *sink) snapshot() []sinkHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkHit(nil), s.hits...)
}

// waitFor waits until cond holds over the hits received so far, each
// request being the event that re-checks it; it fails t at the deadline.
func (s *sink) waitFor(t *testing.T, deadline time.Time, what string, p *proc, cond func([]sinkHit) (bool, string)) []sinkHit {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		hits := s.snapshot()
		ok, progress := cond(hits)
		if ok {
			return hits
		}
		select {
		case <-s.kick:
		case <-timer.C:
			t.Fatalf("timed out waiting for %s: %s\nlast lines of stderr:\n%s", what, progress, p.logText(40))
		}
	}
}

// TestCrashRecovery kills the real binary with SIGKILL while a burst of
// executions is in flight, keeps it down across two more slots, restarts it
// on the same data, and checks that no job and no execution is lost: every
// execution of the burst is sent again once, with the same
// X-CloudScheduler-ScheduleTime, at start (not at the next slot), and its
// attempt history shows it succeeded (so is a RunJob execution that was in
// flight); the latest slot missed while down
// then fires once per job, and the ones before it are counted as skipped,
// never backfilled.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary, and waits for a minute boundary")
	}
	t0 := time.Now()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bin := buildBinary(t)
	jsonLogs := []string{"OIDCRON_LOG_FORMAT=json"}
	p1 := startServer(t, bin, data, jsonLogs, nil)
	t.Logf("built and started in %v", time.Since(t0).Round(time.Millisecond))

	// Phase 1 sink: it holds the requests of the burst (schedule time
	// burst) until released, so that they are in flight at the kill.
	// burst is only known once every job exists: until then a request
	// waits, and one for an earlier slot (the creation crossed a minute
	// boundary) is then answered 500, so that its execution ends (two
	// attempts) before the burst.
	var burst atomic.Value // string
	known, release := make(chan struct{}), make(chan struct{})
	s1 := newSink(func(w http.ResponseWriter, r *http.Request, h sinkHit) {
		select {
		case <-known:
		case <-r.Context().Done():
			return
		}
		if h.scheduleTime == burst.Load().(string) || h.job == crashManual {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sinkAddr := ln1.Addr().String()
	srv1 := &http.Server{Handler: s1}
	go func() { _ = srv1.Serve(ln1) }()
	t.Cleanup(func() { _ = srv1.Close() })
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)

	// The jobs, through the official REST client.
	ctx := context.Background()
	svc1, err := cloudscheduler.NewService(ctx, option.WithEndpoint(p1.api+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	parent := "projects/" + crashProject + "/locations/" + crashLocation
	ids := make([]string, crashJobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%03d", i)
	}
	// The project is created on first use (dev mode): do that once, alone.
	createJob := func(svc *cloudscheduler.Service, id string) error {
		_, err := svc.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{
			Name:     parent + "/jobs/" + id,
			Schedule: "* * * * *",
			TimeZone: "UTC",
			HttpTarget: &cloudscheduler.HttpTarget{
				Uri:        "http://" + sinkAddr + "/hook/" + id,
				HttpMethod: "GET",
			},
			RetryConfig: &cloudscheduler.RetryConfig{
				RetryCount:         1,
				MinBackoffDuration: "1s",
				MaxBackoffDuration: "2s",
				MaxDoublings:       1,
			},
			AttemptDeadline: fmt.Sprintf("%ds", int(crashDeadline/time.Second)),
		}).Do()
		return err
	}
	createStart := time.Now()
	if err := createJob(svc1, ids[0]); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, len(ids))
	next := make(chan string, len(ids))
	for _, id := range ids[1:] {
		next <- id
	}
	close(next)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range next {
				if err := createJob(svc1, id); err != nil {
					errs <- fmt.Errorf("create %s: %w", id, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	created := time.Now()
	// Every job's first slot is the first minute boundary after its
	// creation, so none is later than this one; an earlier one ends before
	// it (answered 500).
	burstAt := created.UTC().Truncate(time.Minute).Add(time.Minute)
	burstHdr := burstAt.Format(time.RFC3339Nano)
	burst.Store(burstHdr)
	close(known)
	t.Logf("created %d jobs in %v; burst at %s (in %v)", crashJobs, created.Sub(createStart).Round(time.Millisecond),
		burstHdr, time.Until(burstAt).Round(time.Millisecond))

	// A RunJob execution in flight at the kill too: a paused job (no slot
	// of its own fires), run by hand.
	manualName := parent + "/jobs/" + crashManual
	if _, err := svc1.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{
		Name: manualName, Schedule: "* * * * *", TimeZone: "UTC",
		HttpTarget:      &cloudscheduler.HttpTarget{Uri: "http://" + sinkAddr + "/hook/" + crashManual, HttpMethod: "GET"},
		AttemptDeadline: "1800s",
	}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc1.Projects.Locations.Jobs.Pause(manualName, &cloudscheduler.PauseJobRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc1.Projects.Locations.Jobs.Run(manualName, &cloudscheduler.RunJobRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	var manualHdr string
	manualSent := func(hits []sinkHit) (bool, string) {
		for _, h := range hits {
			if h.job == crashManual {
				manualHdr = h.scheduleTime
				return true, ""
			}
		}
		return false, "the RunJob execution has not reached the sink"
	}

	// The event to kill at: every job's execution of the burst has reached
	// the sink (and, but for those past the deadline, is held there).
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	allBurst := func(hits []sinkHit) (bool, string) {
		seen := map[string]bool{}
		for _, h := range hits {
			if h.scheduleTime == burstHdr && want[h.job] {
				seen[h.job] = true
			}
		}
		return len(seen) == len(want), fmt.Sprintf("%d of %d jobs reached the sink for %s (%d requests in all)", len(seen), len(want), burstHdr, len(hits))
	}
	s1.waitFor(t, time.Now().Add(30*time.Second), "the RunJob execution", p1, manualSent)
	hits1 := s1.waitFor(t, burstAt.Add(crashDeadline+90*time.Second), "the burst", p1, allBurst)
	if err := p1.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	killedAt := time.Now()
	select {
	case <-p1.exited:
	case <-time.After(30 * time.Second): // a bound on a hang
		t.Fatal("the killed process did not exit")
	}
	t.Logf("burst reached the sink by %v after the slot; killed at +%v with %d requests received",
		lastHit(hits1, burstHdr).Sub(burstAt).Round(time.Millisecond), killedAt.Sub(burstAt).Round(time.Millisecond), len(hits1))

	// Stay down across two more minute boundaries: the later one is a slot
	// missed while down, which must run once on start, and the one before
	// it is skipped, which must be counted. The binary runs on the wall
	// clock, so this waits for the wall clock to pass them.
	downUntil := burstAt.Add(2*time.Minute + time.Second)
	<-time.After(time.Until(downUntil))

	// Drop everything of the dead process: its listener (and backlog) and
	// connections, then let the held handlers return. The same port is
	// then served by a new sink, whose every request was therefore sent by
	// the restarted process.
	_ = srv1.Close()
	releaseAll()
	ln2, err := net.Listen("tcp", sinkAddr)
	if err != nil {
		t.Fatalf("re-listening on the sink's port: %v", err)
	}
	s2 := newSink(func(w http.ResponseWriter, r *http.Request, h sinkHit) { w.WriteHeader(http.StatusOK) })
	srv2 := &http.Server{Handler: s2}
	go func() { _ = srv2.Serve(ln2) }()
	t.Cleanup(func() { _ = srv2.Close() })

	// Restart on the same data. Its AttemptFinished lines (JSON) are the
	// event that an attempt's outcome is recorded; its "slots skipped"
	// lines say, per job, which missed slot fires and how many before it
	// are skipped.
	type finished struct{ job, scheduleTime, status string }
	type skip struct {
		scheduleTime string
		skipped      int
	}
	var fmu sync.Mutex
	var fins []finished
	skips := map[string][]skip{} // by job id
	fkick := make(chan struct{}, 1)
	restartAt := time.Now()
	p2 := startServer(t, bin, data, jsonLogs, func(line string) {
		var l struct {
			Msg     string `json:"msg"`
			Payload struct {
				JobName       string `json:"jobName"`
				ScheduledTime string `json:"scheduledTime"`
				Status        string `json:"status"`
			} `json:"jsonPayload"`
			Job          string `json:"job"`
			ScheduleTime string `json:"scheduleTime"`
			Skipped      int    `json:"skipped"`
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &l) != nil {
			return
		}
		fmu.Lock()
		switch {
		case l.Msg == "AttemptFinished":
			fins = append(fins, finished{l.Payload.JobName, l.Payload.ScheduledTime, l.Payload.Status})
		case strings.HasPrefix(l.Msg, "slots skipped"):
			id := l.Job[strings.LastIndex(l.Job, "/")+1:]
			skips[id] = append(skips[id], skip{l.ScheduleTime, l.Skipped})
		}
		fmu.Unlock()
		select {
		case fkick <- struct{}{}:
		default:
		}
	})
	ready := time.Now()
	t.Logf("restarted in %v (at +%v after the slot)", ready.Sub(restartAt).Round(time.Millisecond), ready.Sub(burstAt).Round(time.Millisecond))
	var tail sync.Once
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		tail.Do(func() { t.Logf("restarted process, last lines of stderr:\n%s", p2.logText(40)) })
	}

	// Every execution of the burst is sent again, with the same header.
	hits2 := s2.waitFor(t, time.Now().Add(90*time.Second), "the recovered executions", p2, allBurst)
	recovered := time.Now()
	t.Logf("all %d executions re-sent %v after the restart was ready", crashJobs, lastHit(hits2, burstHdr).Sub(ready).Round(time.Millisecond))
	// So is the RunJob execution, with its schedule time.
	s2.waitFor(t, time.Now().Add(90*time.Second), "the recovered RunJob execution", p2, func(hits []sinkHit) (bool, string) {
		for _, h := range hits {
			if h.job == crashManual && h.scheduleTime == manualHdr {
				return true, ""
			}
		}
		return false, "the RunJob execution of " + manualHdr + " has not been sent again"
	})

	// And each one's success is recorded (the AttemptFinished line).
	ok := map[string]bool{}
	ftimer := time.NewTimer(90 * time.Second)
	defer ftimer.Stop()
	for len(ok) < len(want) {
		fmu.Lock()
		for _, f := range fins {
			id := f.job[strings.LastIndex(f.job, "/")+1:]
			if f.scheduleTime == burstHdr && f.status == "OK" && want[id] {
				ok[id] = true
			}
		}
		fmu.Unlock()
		if len(ok) == len(want) {
			break
		}
		select {
		case <-fkick:
		case <-ftimer.C:
			t.Fatalf("timed out waiting for the recovered attempts to finish OK: %d of %d\n%s", len(ok), len(want), p2.logText(40))
		}
	}

	// The slot missed while down fires once per job, after the recovered
	// execution, and the slots between the burst and it are counted as
	// skipped: in the job's log line and in the metric.
	missed := map[string]time.Time{} // by job id: the missed slot that fired
	skippedTotal := 0
	missedSent := func(hits []sinkHit) (bool, string) {
		fmu.Lock()
		defer fmu.Unlock()
		for id := range want {
			if _, ok := missed[id]; ok {
				continue
			}
			l := skips[id]
			if len(l) == 0 {
				continue
			}
			if len(l) != 1 {
				fail("%s: %d \"slots skipped\" lines %v, want 1", id, len(l), l)
			}
			st, err := time.Parse(time.RFC3339Nano, l[0].scheduleTime)
			if err != nil || st.Before(restartAt.Truncate(time.Minute)) {
				fail("%s: the missed slot fired is %q, want the latest before the restart at %s or later", id, l[0].scheduleTime, restartAt.UTC().Format(time.RFC3339Nano))
			}
			if want := int(st.Sub(burstAt)/time.Minute) - 1; l[0].skipped != want {
				fail("%s: %d slots counted skipped before %s, want %d (every slot after the burst's %s)", id, l[0].skipped, l[0].scheduleTime, want, burstHdr)
			}
			missed[id] = st
			skippedTotal += l[0].skipped
		}
		sent := 0
		for _, h := range hits {
			if st, ok := missed[h.job]; ok && h.scheduleTime == st.Format(time.RFC3339Nano) {
				sent++
			}
		}
		return sent >= len(want), fmt.Sprintf("%d of %d jobs logged their skipped slots; %d missed slots sent", len(missed), len(want), sent)
	}
	hits2 = s2.waitFor(t, time.Now().Add(90*time.Second), "the missed slots", p2, missedSent)
	metrics, err := scrapeCounter(p2.api+"/metrics", "oidcron_scheduler_skipped_slots_total")
	if err != nil || metrics != float64(skippedTotal) {
		fail("oidcron_scheduler_skipped_slots_total = %v (%v), want %d, the sum of the jobs' skipped slots", metrics, err, skippedTotal)
	}
	t.Logf("after the restart: every job fired its missed slot once; %d slots skipped in all", skippedTotal)

	// At-least-once with the same header, and not twice; the missed slot,
	// and a later one when the test crosses another minute boundary, fire
	// once per job, after the recovered execution.
	type pair struct{ job, st string }
	count := map[pair]int{}
	firstAt := map[pair]time.Time{}
	manualAgain := 0
	for _, h := range hits2 {
		if h.job == crashManual {
			if manualAgain++; h.scheduleTime != manualHdr || manualAgain > 1 {
				fail("RunJob execution sent again for %s (request %d after the restart), want once for %s", h.scheduleTime, manualAgain, manualHdr)
			}
			continue
		}
		if !want[h.job] {
			fail("request for an unknown job %q (schedule time %s)", h.job, h.scheduleTime)
			continue
		}
		k := pair{h.job, h.scheduleTime}
		count[k]++
		if _, seen := firstAt[k]; !seen {
			firstAt[k] = h.at
		}
	}
	later := 0
	for k, n := range count {
		if k.st == burstHdr {
			if n != 1 {
				fail("%s: execution %s sent %d times after the restart", k.job, k.st, n)
			}
			continue
		}
		st, err := time.Parse(time.RFC3339Nano, k.st)
		switch {
		case err != nil || st.Before(missed[k.job]):
			fail("%s: unexpected schedule time %q after the restart: the burst's is %s, and the slots before %s were skipped", k.job, k.st, burstHdr, missed[k.job].Format(time.RFC3339))
		case n != 1:
			fail("%s: later slot %s sent %d times", k.job, k.st, n)
		case firstAt[k].Before(firstAt[pair{k.job, burstHdr}]):
			fail("%s: slot %s sent before the recovered execution %s", k.job, k.st, burstHdr)
		default:
			later++
		}
	}
	t.Logf("after the restart: %d requests, %d of them for later slots", len(hits2), later)
	// Recovery and the missed slot happen at start, not at the next slot:
	// when the restart was ready well before the next boundary, every
	// recovered and missed request came before it.
	if nextSlot := ready.Truncate(time.Minute).Add(time.Minute); ready.Before(nextSlot.Add(-15 * time.Second)) {
		for _, h := range hits2 {
			if (h.scheduleTime == burstHdr || h.scheduleTime == missed[h.job].Format(time.RFC3339Nano)) && !h.at.Before(nextSlot) {
				fail("%s: execution %s sent at %s, not before the next slot %s (restart ready at %s)",
					h.job, h.scheduleTime, h.at.UTC().Format(time.RFC3339Nano), nextSlot.Format(time.RFC3339), ready.UTC().Format(time.RFC3339Nano))
			}
		}
	}

	// Every job is still there.
	svc2, err := cloudscheduler.NewService(ctx, option.WithEndpoint(p2.api+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	if err := svc2.Projects.Locations.Jobs.List(parent).PageSize(500).Pages(ctx, func(r *cloudscheduler.ListJobsResponse) error {
		for _, j := range r.Jobs {
			listed[j.Name[strings.LastIndex(j.Name, "/")+1:]] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !listed[crashManual] {
		fail("job %s lost", crashManual)
	}
	delete(listed, crashManual)
	if len(listed) != len(want) {
		fail("ListJobs after the restart: %d jobs, want %d", len(listed), len(want))
	}
	for id := range want {
		if !listed[id] {
			fail("job %s lost", id)
		}
	}

	// The history of a sample shows the recovered attempt, OK, made by the
	// restarted process; no attempt of the burst succeeded before the kill.
	attemptNumbers := map[int32]int{}
	for i := 0; i < len(ids); i += 17 {
		id := ids[i]
		var hist struct {
			Attempts []struct {
				ScheduleTime time.Time `json:"scheduleTime"`
				Attempt      int32     `json:"attempt"`
				StartTime    time.Time `json:"startTime"`
				Status       string    `json:"status"`
				HTTPStatus   int32     `json:"httpStatus"`
			} `json:"attempts"`
		}
		if err := getJSON(p2.api+"/oidcron/v1/"+parent+"/jobs/"+id+"/attempts", &hist); err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		var oks []string
		var desc []string
		for _, a := range hist.Attempts {
			desc = append(desc, fmt.Sprintf("#%d %s %s http %d start %s", a.Attempt, a.ScheduleTime.Format(time.RFC3339), a.Status, a.HTTPStatus, a.StartTime.Format(time.RFC3339Nano)))
			if !a.ScheduleTime.Equal(burstAt) {
				continue
			}
			if a.Status == "OK" {
				oks = append(oks, a.StartTime.String())
				attemptNumbers[a.Attempt]++
				if a.StartTime.Before(restartAt) || a.HTTPStatus != 200 {
					fail("%s: attempt #%d of %s marked OK (http %d) before the restart", id, a.Attempt, burstHdr, a.HTTPStatus)
				}
			}
		}
		if len(oks) != 1 {
			fail("%s: %d OK attempts of %s in the history, want 1:\n  %s", id, len(oks), burstHdr, strings.Join(desc, "\n  "))
		}
	}
	t.Logf("recovered attempts by number (sample): %v", attemptNumbers)
	t.Logf("phases: burst wait %v, recovery %v, total %v", killedAt.Sub(created).Round(time.Millisecond),
		recovered.Sub(restartAt).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

func lastHit(hits []sinkHit, st string) time.Time {
	var last time.Time
	for _, h := range hits {
		if h.scheduleTime == st && h.at.After(last) {
			last = h.at
		}
	}
	return last
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		_, _ = fmt.Fprintf(&b, "%s: ", resp.Status)
		var e any
		_ = json.NewDecoder(resp.Body).Decode(&e)
		_, _ = fmt.Fprint(&b, e)
		return errors.New(b.String())
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// scrapeCounter reads an unlabelled counter from a Prometheus text page.
func scrapeCounter(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s not on %s", name, url)
}
