package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	gocron "github.com/go-co-op/gocron/v2"
	robfig "github.com/robfig/cron/v3"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	cloudscheduler "google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/server"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// shiftedClock is the wall clock moved by a fixed offset: time passes at its
// real rate (timers are real timers, delays are real delays), only the
// reading is shifted, so that a minute boundary can be a few seconds away
// when the measurement starts instead of up to a minute.
type shiftedClock struct{ off time.Duration }

func (c shiftedClock) Now() time.Time { return time.Now().Add(c.off) }
func (c shiftedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return time.AfterFunc(d, f)
}

// fireStats is one scheduler's run of one scenario.
type fireStats struct {
	name          string
	label         string // oidcron: its row in the burst and steady tables
	n, fired      int
	failed        int
	elapsed       time.Duration // first slot -> last fire done (oidcron: -> last attempt durable)
	cpu           time.Duration // process user+system CPU over the window
	dbCPU         time.Duration // oidcron on PostgreSQL: its processes' CPU over the window
	dbMeasured    bool          // dbCPU holds a measurement
	p50, p99, max time.Duration // fire delay
	load          time.Duration // oidcron: server start (SQLite: every job loaded; PostgreSQL: every replica, one after the other)
	note          string
}

// addNote adds n ("" adds nothing) to the note printed under the table.
func (s *fireStats) addNote(n string) {
	if n != "" {
		s.note = strings.TrimPrefix(s.note+"; "+n, "; ")
	}
}

func (s fireStats) perSec() float64 { return float64(s.fired) / s.elapsed.Seconds() }

// cpuPerFire counts the database server's CPU too, when it was measured.
func (s fireStats) cpuPerFire() time.Duration {
	if s.fired == 0 {
		return 0
	}
	return (s.cpu + s.dbCPU) / time.Duration(s.fired)
}

// dbCPUCell is the database server's CPU in a table: "-" for SQLite, which
// runs in this process.
func (s fireStats) dbCPUCell() string {
	if !s.dbMeasured {
		return "-"
	}
	return fmt.Sprintf("%.2f s", s.dbCPU.Seconds())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// delays records fire delays from many goroutines without a lock.
type delays struct {
	d []time.Duration
	i atomic.Int64
}

func newDelays(n int) *delays { return &delays{d: make([]time.Duration, n)} }
func (r *delays) add(d time.Duration) {
	if i := r.i.Add(1) - 1; i < int64(len(r.d)) {
		r.d[i] = d
	}
}
func (r *delays) count() int { return int(min(r.i.Load(), int64(len(r.d)))) }
func (r *delays) fill(s *fireStats) {
	d := slices.Clone(r.d[:r.count()])
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	s.p50, s.p99, s.max = d[len(d)/2], d[len(d)*99/100], d[len(d)-1]
}

// slotOf is the i-th of n slots spread over spread from b (all at b when
// spread is 0).
func slotOf(b time.Time, i, n int, spread time.Duration) time.Time {
	if spread == 0 {
		return b
	}
	return b.Add(time.Duration(int64(spread) * int64(i) / int64(n)))
}

// runOidcron measures oidcron: n HTTP jobs with an OIDC token of a service
// account that the project's Cloud Scheduler service agent may mint, sent
// to a local sink, every attempt recorded in the store (be: SQLite, or a
// fresh PostgreSQL database of the run's own). The first job is created
// through the REST API (with the project, account and policies); the other
// n-1 are copies of its stored record written straight into the database
// with their first slot set (at the minute boundary for a burst, spread
// over the minute for steady), then the server restarts on that database
// (on PostgreSQL, be.replicas servers sharing it) and the engines find
// them, as after any restart.
func runOidcron(ctx context.Context, n int, spread, lead time.Duration, be backend) (st fireStats, err error) {
	st = fireStats{name: "oidcron", label: be.label(), n: n}
	dir, err := os.MkdirTemp("", "oidcron-bench-sched")
	if err != nil {
		return st, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: dir, Logger: quiet}
	if be.postgres() {
		var drop func() error
		if cfg.Store, drop, err = benchDatabase(ctx, be.store); err != nil {
			return st, err
		}
		// Deferred first, so run last: after every replica has shut down.
		defer func() { err = errors.Join(err, drop()) }()
	}

	var clk atomic.Pointer[shiftedClock]
	clk.Store(&shiftedClock{})
	rec := newDelays(n)
	var unauth atomic.Int64
	// hit records one request: its fire delay, and whether it carried a
	// token (only the length of its Authorization header is looked at, so
	// the lean sink does not copy the token to count it).
	hit := func(authLen int, sched string) {
		now := clk.Load().Now()
		if authLen < len("Bearer ey") {
			unauth.Add(1)
		}
		if t, err := time.Parse(time.RFC3339Nano, sched); err == nil {
			rec.add(now.Sub(t))
		}
	}
	var sinkURL string
	switch sinkKind {
	case "nethttp":
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit(len(r.Header.Get("Authorization")), r.Header.Get("X-CloudScheduler-ScheduleTime"))
		}))
		defer sink.Close()
		sinkURL = sink.URL
	case "lean":
		sink, err := newLeanSink(func(auth, sched []byte) { hit(len(auth), string(sched)) })
		if err != nil {
			return st, err
		}
		defer sink.Close()
		sinkURL = sink.URL()
	default:
		return st, fmt.Errorf("-sink %q: want nethttp or lean", sinkKind)
	}

	// 1. Through the API: the account, the agent's right to mint, one job.
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return st, err
	}
	jobName, err := createTemplateJob(ctx, s, sinkURL)
	_ = s.Shutdown(ctx)
	if err != nil {
		return st, err
	}

	// 2. Copies of the job, each with its first slot: in one transaction
	// on SQLite, in a few on PostgreSQL.
	b := time.Now().Truncate(time.Minute).Add(10 * time.Minute)
	if be.postgres() {
		err = copyJobsPG(ctx, cfg.Store, jobName, n, b, spread)
	} else {
		err = copyJobs(ctx, filepath.Join(dir, "oidcron.db"), jobName, n, b, spread)
	}
	if err != nil {
		return st, err
	}

	// 3. Restart on that database with the clock shifted so that the first
	// slot is lead away, and measure. Every replica has the same clock and
	// the same signals: the executions of all count.
	c := &shiftedClock{off: b.Add(-lead).Sub(time.Now())}
	clk.Store(c)
	sig := &scheduler.TestSignals{ExecutionDone: make(chan scheduler.ExecutionDone, n+16)}
	warns := &warnLog{}
	cfg.Clock, cfg.SchedulerSignals, cfg.Logger = c, sig, slog.New(warns)
	runtime.GC()
	t0 := time.Now()
	servers, err := startServers(ctx, cfg, be.replicas)
	if err != nil {
		return st, err
	}
	defer func() { err = errors.Join(err, shutdownAll(ctx, servers)) }()
	st.load = time.Since(t0)
	var meter *pgMeter // connected before the window, its backend forked then
	if be.postgres() {
		if meter, err = newPGMeter(ctx, be.store, cfg.Store); err != nil {
			return st, err
		}
		defer meter.close(ctx)
	}
	if wait := b.Sub(c.Now()); wait < 100*time.Millisecond {
		st.note = fmt.Sprintf("loading took %s, past the lead of %s: the first slots fired late", st.load.Round(time.Millisecond), lead)
	} else {
		runtime.GC()
		time.Sleep(wait - 50*time.Millisecond)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return st, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return st, err
		}
		// Stopped at the end of the window (below), so that the checks
		// after it are not in the profile; this one covers the error paths.
		defer pprof.StopCPUProfile()
	}
	if memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var pg0 pgSnapshot
	if meter != nil {
		pg0 = meter.snapshot(ctx)
	}
	cpu0 := cpuTime()
	done := make([]scheduler.ExecutionDone, 0, n)
	timeout := time.After(spread + 5*time.Minute)
	for st.fired < n {
		select {
		case d := <-sig.ExecutionDone:
			st.fired++
			done = append(done, d)
			if d.Code != 0 {
				st.failed++
			}
		case <-timeout:
			return st, fmt.Errorf("oidcron: %d of %d executions done after the timeout", st.fired, n)
		}
	}
	if err := flushAll(ctx, servers); err != nil {
		return st, err
	}
	st.elapsed = c.Now().Sub(b)
	st.cpu = cpuTime() - cpu0
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if meter != nil {
		var own time.Duration
		st.dbCPU, own, st.dbMeasured = meter.snapshot(ctx).cpuSince(pg0)
		if st.dbMeasured {
			st.addNote(fmt.Sprintf("PostgreSQL CPU: %.2f s in the backends of the run's database, %.2f s in the postmaster and background processes (which the server's other databases share)",
				own.Seconds(), (st.dbCPU - own).Seconds()))
		}
	}
	rec.fill(&st)
	st.addNote(engineNote(servers))
	st.addNote(warns.note())
	if u := unauth.Load(); u > 0 {
		return st, fmt.Errorf("oidcron: %d requests without a bearer token", u)
	}
	if rec.count() != n {
		return st, fmt.Errorf("oidcron: the sink saw %d requests, want %d", rec.count(), n)
	}
	if err := checkOnce(done, sig.ExecutionDone, slotOf(b, n-1, n, spread)); err != nil {
		return st, err
	}
	// Every job's attempt is durable and its next slot is set, as one
	// replica reads them.
	if err := checkStored(ctx, servers[0].Store, n, b, spread); err != nil {
		return st, err
	}
	return st, nil
}

// checkOnce fails when an execution of a first slot (at or before last)
// ended twice: in done, the executions counted, or in more, those that
// ended after the count was reached. Replicas claim each slot once; a
// second end is a slot two of them claimed, or a claim taken over from a
// replica thought dead.
func checkOnce(done []scheduler.ExecutionDone, more <-chan scheduler.ExecutionDone, last time.Time) error {
drain:
	for {
		select {
		case d := <-more:
			done = append(done, d)
		default:
			break drain
		}
	}
	type key struct {
		job string
		at  time.Time
	}
	seen := make(map[key]int, len(done))
	var twice []string
	for _, d := range done {
		if d.ScheduleTime.After(last) {
			continue // the job's next slot: a steady run can outlast the minute
		}
		k := key{d.Job, d.ScheduleTime.UTC()}
		if seen[k]++; seen[k] == 2 && len(twice) < 5 {
			twice = append(twice, d.Job+" at "+scheduler.FormatScheduleTime(d.ScheduleTime))
		}
	}
	dup := 0
	for _, c := range seen {
		dup += c - 1
	}
	if dup > 0 {
		return fmt.Errorf("oidcron: %d executions ended more than once, e.g. %s", dup, strings.Join(twice, ", "))
	}
	return nil
}

func createTemplateJob(ctx context.Context, s *server.Server, sinkURL string) (string, error) {
	opts := restOpts(s)
	iamSvc, err := iamv1.NewService(ctx, opts...)
	if err != nil {
		return "", err
	}
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/bench", &iamv1.CreateServiceAccountRequest{AccountId: "runner"}).Do()
	if err != nil {
		return "", fmt.Errorf("service account: %w", err)
	}
	rm, err := crm.NewService(ctx, opts...)
	if err != nil {
		return "", err
	}
	p, err := rm.Projects.Get("bench").Do()
	if err != nil {
		return "", fmt.Errorf("project: %w", err)
	}
	pol, err := rm.Projects.GetIamPolicy("bench", &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		return "", err
	}
	// The project's Cloud Scheduler service agent mints the job's tokens.
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: "roles/iam.serviceAccountTokenCreator",
		Members: []string{"serviceAccount:" + iam.SchedulerServiceAgent(p.ProjectNumber)}})
	if _, err := rm.Projects.SetIamPolicy("bench", &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		return "", fmt.Errorf("policy: %w", err)
	}
	cs, err := cloudscheduler.NewService(ctx, opts...)
	if err != nil {
		return "", err
	}
	name := "projects/bench/locations/us-central1/jobs/j0000000"
	_, err = cs.Projects.Locations.Jobs.Create("projects/bench/locations/us-central1", &cloudscheduler.Job{
		Name: name, Schedule: "* * * * *", TimeZone: "UTC",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: sinkURL + "/hook", HttpMethod: "POST", Body: "e30=",
			OidcToken: &cloudscheduler.OidcToken{ServiceAccountEmail: sa.Email, Audience: sinkURL}},
	}).Do()
	if err != nil {
		return "", fmt.Errorf("create job: %w", err)
	}
	return name, nil
}

func copyJobs(ctx context.Context, path, name string, n int, b time.Time, spread time.Duration) error {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	return copyJobsInto(ctx, db, name, n, b, spread, n)
}

// copyJobsInto gives job name its first slot and writes n-1 copies of it,
// each with its own, in transactions of at most chunk jobs.
func copyJobsInto(ctx context.Context, db store.Store, name string, n int, b time.Time, spread time.Duration, chunk int) error {
	tmpl, err := db.GetJob(ctx, name)
	if err != nil {
		return err
	}
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		err := db.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				at := slotOf(b, i, n, spread)
				r := tmpl
				r.Job = proto.Clone(tmpl.Job).(*schedulerpb.Job)
				r.Job.ScheduleTime = timestamppb.New(at)
				r.NextFire, r.DueTime = at, at
				if i == 0 {
					if err := tx.UpdateJob(ctx, r, tmpl.Version); err != nil {
						return err
					}
					continue
				}
				r.Job.Name = fmt.Sprintf("projects/bench/locations/us-central1/jobs/j%07d", i)
				if err := tx.CreateJob(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func checkStored(ctx context.Context, js store.JobStore, n int, b time.Time, spread time.Duration) error {
	after, seen := "", 0
	for {
		page, err := js.ScanJobs(ctx, store.Page{Size: 5000, After: after})
		if err != nil {
			return err
		}
		for _, r := range page {
			// On a loaded machine the run can outlast the minute: the job's
			// next slot (* * * * *) may then be claimed already.
			nextClaimed := r.Exec != nil && r.Exec.ScheduleTime.After(b)
			if (r.Exec != nil && !nextClaimed) || r.Job.GetLastAttemptTime().AsTime().Before(b) || r.Job.GetStatus().GetCode() != 0 || !r.NextFire.After(b) {
				return fmt.Errorf("oidcron: %s not recorded: %+v", r.Job.GetName(), r)
			}
		}
		seen += len(page)
		if len(page) < 5000 {
			break
		}
		after = page[len(page)-1].Job.GetName()
	}
	if seen != n {
		return fmt.Errorf("oidcron: %d jobs stored, want %d", seen, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		name := fmt.Sprintf("projects/bench/locations/us-central1/jobs/j%07d", i)
		as, err := js.ListAttempts(ctx, name, 0, time.Time{})
		// One attempt of the first slot; the job's next slot may have
		// fired already (steady: the minute may be over).
		first := slotOf(b, i, n, spread)
		as = slices.DeleteFunc(as, func(a store.Attempt) bool { return a.ScheduleTime.After(first) })
		if err != nil || len(as) != 1 || as[0].HTTPStatus != 200 {
			return fmt.Errorf("oidcron: attempts of %s at %s: %+v %v", name, scheduler.FormatScheduleTime(first), as, err)
		}
	}
	return nil
}

// onceAt is a robfig/cron schedule that fires once, at at.
type onceAt struct{ at time.Time }

func (o onceAt) Next(t time.Time) time.Time {
	if t.Before(o.at) {
		return o.at
	}
	return time.Time{}
}

// runRobfig: n entries of robfig/cron v3, each firing once at its slot the
// peers' work (peerWork), which records its delay.
func runRobfig(n int, spread, lead time.Duration) (fireStats, error) {
	st := fireStats{name: "robfig/cron v3", n: n}
	p, err := newPeerTarget(n)
	if err != nil {
		return st, err
	}
	defer p.close()
	done := make(chan struct{}, n)
	c := robfig.New()
	b := time.Now().Add(lead)
	for i := 0; i < n; i++ {
		at := slotOf(b, i, n, spread)
		c.Schedule(onceAt{at}, robfig.FuncJob(func() { p.fire(at); done <- struct{}{} }))
	}
	c.Start()
	defer c.Stop()
	st, err = waitPeer(st, p.rec, done, b, spread)
	if err != nil {
		return st, err
	}
	return p.check(st)
}

// runGocron: n one-time jobs of go-co-op/gocron v2, the same work.
func runGocron(n int, spread, lead time.Duration) (fireStats, error) {
	st := fireStats{name: "go-co-op/gocron v2", n: n}
	p, err := newPeerTarget(n)
	if err != nil {
		return st, err
	}
	defer p.close()
	done := make(chan struct{}, n)
	s, err := gocron.NewScheduler()
	if err != nil {
		return st, err
	}
	defer func() { _ = s.Shutdown() }()
	b := time.Now().Add(lead)
	for i := 0; i < n; i++ {
		at := slotOf(b, i, n, spread)
		if _, err := s.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartDateTime(at)),
			gocron.NewTask(func() { p.fire(at); done <- struct{}{} })); err != nil {
			return st, err
		}
	}
	s.Start()
	st, err = waitPeer(st, p.rec, done, b, spread)
	if err != nil {
		return st, err
	}
	return p.check(st)
}

func waitPeer(st fireStats, rec *delays, done chan struct{}, b time.Time, spread time.Duration) (fireStats, error) {
	wait := time.Until(b)
	if wait < 100*time.Millisecond {
		st.note = "setup took longer than the lead: the first slots fired late"
	} else {
		runtime.GC()
		time.Sleep(wait - 50*time.Millisecond)
	}
	cpu0 := cpuTime()
	timeout := time.After(time.Until(b) + spread + 2*time.Minute)
	for st.fired < st.n {
		select {
		case <-done:
			st.fired++
		case <-timeout:
			return st, fmt.Errorf("%s: %d of %d fired after the timeout", st.name, st.fired, st.n)
		}
	}
	st.elapsed = time.Since(b)
	st.cpu = cpuTime() - cpu0
	rec.fill(&st)
	return st, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func printHeader(what string, n int) {
	fmt.Printf("%s, %d jobs, GOMAXPROCS=%d, %s\n\n", what, n, runtime.GOMAXPROCS(0), runtime.Version())
}

// cpuProfile, when set, profiles oidcron's measured window; memProfile
// writes the allocations (sampled from the start of that window).
var cpuProfile, memProfile string

// sinkKind is oidcron's target in burst, steady and peers: "lean"
// (leanSink) or "nethttp" (an httptest server, whose own CPU is about a
// sixth of a burst's).
var sinkKind = "lean"

func schedFlags(name string, args []string, defN int, defLead time.Duration) (n *int, lead *time.Duration, be backend, err error) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	n = fs.Int("n", defN, "jobs")
	lead = fs.Duration("lead", defLead, "time from the end of loading to the first slot")
	fs.StringVar(&be.store, "store", "", "run on PostgreSQL: a postgres:// URL to a server (and a database there) where the run may CREATE DATABASE; it makes one of its own and drops it at the end (empty: SQLite)")
	fs.IntVar(&be.replicas, "replicas", 1, "oidcron servers sharing the PostgreSQL database, all in this process (more than 1 needs -store)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write oidcron's CPU profile over the measured window to this file")
	fs.StringVar(&sinkKind, "sink", sinkKind, "the target: nethttp (net/http's server) or lean (a minimal HTTP/1.1 responder)")
	fs.StringVar(&memProfile, "memprofile", "", "write the allocations of the measured window (and before) to this file")
	_ = fs.Parse(args)
	return n, lead, be, be.validate()
}

func benchBurst(args []string) error {
	n, lead, be, err := schedFlags("burst", args, 100000, 10*time.Second)
	if err != nil {
		return err
	}
	st, err := runOidcron(context.Background(), *n, 0, *lead, be)
	if err != nil {
		return err
	}
	printHeader("Burst: every job due at the same minute boundary", *n)
	// CPU per dispatch counts PostgreSQL's processes too.
	fmt.Println("| scheduler | dispatches/s | boundary -> last attempt durable | p50 fire delay | p99 fire delay | max | CPU (oidcron) | CPU (PostgreSQL) | CPU per dispatch | load at start |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| %s | %.0f | %s | %s | %s | %s | %.2f s | %s | %.1f µs | %s |\n", st.label, st.perSec(), ms(st.elapsed),
		ms(st.p50), ms(st.p99), ms(st.max), st.cpu.Seconds(), st.dbCPUCell(), float64(st.cpuPerFire())/1e3, ms(st.load))
	if st.note != "" {
		fmt.Println("\nnote:", st.note)
	}
	return nil
}

func benchSteady(args []string) error {
	n, lead, be, err := schedFlags("steady", args, 10000, 10*time.Second)
	if err != nil {
		return err
	}
	st, err := runOidcron(context.Background(), *n, time.Minute, *lead, be)
	if err != nil {
		return err
	}
	printHeader("Steady: first slots spread evenly over one minute", *n)
	fmt.Println("| scheduler | fires | p50 fire delay | p99 fire delay | max | CPU (oidcron) over the minute | CPU (PostgreSQL) over the minute | CPU per dispatch |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| %s | %d | %s | %s | %s | %.2f s | %s | %.1f µs |\n", st.label, st.fired,
		ms(st.p50), ms(st.p99), ms(st.max), st.cpu.Seconds(), st.dbCPUCell(), float64(st.cpuPerFire())/1e3)
	if st.note != "" {
		fmt.Println("\nnote:", st.note)
	}
	return nil
}

func benchPeers(args []string) error {
	fs := flag.NewFlagSet("peers", flag.ExitOnError)
	n := fs.Int("n", 100000, "jobs of the burst")
	ns := fs.Int("steady", 10000, "jobs of the steady minute (0 skips it)")
	lead := fs.Duration("lead", 10*time.Second, "time from the end of setup to the first slot")
	fs.StringVar(&sinkKind, "sink", sinkKind, "oidcron's target: lean or nethttp (see burst)")
	fs.StringVar(&peerWork, "peer-work", peerWork, "what robfig/cron and gocron do per fire: noop (an in-process call) or http (a POST to a lean sink through net/http, 128 at once)")
	_ = fs.Parse(args)
	if err := checkPeerWork(); err != nil {
		return err
	}
	ctx := context.Background()
	type scenario struct {
		name   string
		n      int
		spread time.Duration
	}
	scs := []scenario{{"burst (all at one instant)", *n, 0}}
	if *ns > 0 {
		scs = append(scs, scenario{"steady (spread over one minute)", *ns, time.Minute})
	}
	fmt.Printf("Peers side by side, GOMAXPROCS=%d, %s\n", runtime.GOMAXPROCS(0), runtime.Version())
	for _, sc := range scs {
		var all []fireStats
		for _, run := range []func() (fireStats, error){
			func() (fireStats, error) { return runRobfig(sc.n, sc.spread, *lead) },
			func() (fireStats, error) { return runGocron(sc.n, sc.spread, *lead) },
			func() (fireStats, error) { return runOidcron(ctx, sc.n, sc.spread, *lead, backend{replicas: 1}) },
		} {
			st, err := run()
			if err != nil {
				return err
			}
			all = append(all, st)
		}
		o := all[2]
		fmt.Printf("\n%s, %d jobs\n\n", sc.name, sc.n)
		fmt.Println("| scheduler | work per fire | fires/s | p50 delay | p99 delay | CPU per fire | oidcron CPU/fire ÷ this | oidcron p99 ÷ this |")
		fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
		work0 := (&peerTarget{}).label()
		for i, s := range all {
			work := work0
			if i == 2 {
				work = "HTTP POST with OIDC token + durable SQLite writes"
			}
			fmt.Printf("| %s | %s | %.0f | %s | %s | %.1f µs | %s | %s |\n", s.name, work, s.perSec(), ms(s.p50), ms(s.p99),
				float64(s.cpuPerFire())/1e3, ratio(float64(o.cpuPerFire()), float64(s.cpuPerFire())), ratio(float64(o.p99), float64(s.p99)))
		}
		for _, s := range all {
			if s.note != "" {
				fmt.Printf("\nnote (%s): %s\n", s.name, s.note)
			}
		}
	}
	return nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func restOpts(s *server.Server) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint("http://" + s.Addrs.API + "/"), option.WithoutAuthentication()}
}

// benchScale stores n jobs (the first created through the API, the rest
// copies of its record, none due during the run), restarts the server on
// them and measures restart to ready, resident memory, and ListJobs pages
// of 500 over REST.
func benchScale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	n := fs.Int("n", 1000000, "jobs")
	pages := fs.Int("pages", 20, "ListJobs pages of 500 to time")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the CPU profile of the restart to this file")
	_ = fs.Parse(args)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "oidcron-bench-scale")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer sink.Close()
	s, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: dir, Logger: quiet})
	if err != nil {
		return err
	}
	name, err := createTemplateJob(ctx, s, sink.URL)
	_ = s.Shutdown(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	// Every first slot is an hour away: nothing fires during the run.
	if err := copyJobs(ctx, filepath.Join(dir, "oidcron.db"), name, *n, time.Now().Truncate(time.Minute).Add(time.Hour), time.Minute); err != nil {
		return err
	}
	fill := time.Since(t0)
	// The fill's garbage is this tool's, not the server's: return it to
	// the OS so that the RSS after the restart is the server's own.
	debug.FreeOSMemory()
	rss0 := rssKiB()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0, cpu0 := time.Now(), cpuTime()
	s, err = server.Start(ctx, server.Config{Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: dir, Logger: quiet})
	if err != nil {
		return err
	}
	defer s.Shutdown(ctx)
	ready, readyCPU := time.Since(t0), cpuTime()-cpu0
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	runtime.GC()
	rss := rssKiB()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cs, err := cloudscheduler.NewService(ctx, restOpts(s)...)
	if err != nil {
		return err
	}
	var lat []time.Duration
	tok := ""
	for i := 0; i < *pages; i++ {
		t := time.Now()
		resp, err := cs.Projects.Locations.Jobs.List("projects/bench/locations/us-central1").PageSize(500).PageToken(tok).Do()
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
		if len(resp.Jobs) != 500 {
			return fmt.Errorf("page %d: %d jobs", i, len(resp.Jobs))
		}
		tok = resp.NextPageToken
	}
	slices.Sort(lat)
	printHeader("Scale: jobs stored, server restarted on them", *n)
	fmt.Println("| jobs | restart to ready (every job loaded) | CPU of the restart | RSS after restart (after GC) | of which anonymous / file-backed | Go heap in use | ListJobs page of 500 over REST, p50 / max | store filled in |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| %d | %s | %.2f s | %d MiB (%d MiB before the restart) | %d / %d MiB | %d MiB | %s / %s | %s |\n", *n, ms(ready), readyCPU.Seconds(), rss/1024, rss0/1024,
		procStatus("RssAnon")/1024, procStatus("RssFile")/1024, ms0.HeapInuse>>20,
		ms(lat[len(lat)/2]), ms(lat[len(lat)-1]), fill.Round(time.Second))
	return nil
}

func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}

func rssKiB() int64 { return procStatus("VmRSS") }
func hwmKiB() int64 { return procStatus("VmHWM") }
