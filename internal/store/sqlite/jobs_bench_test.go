package sqlite

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
)

// The engine's paths: a burst of fires written back in batches, the due
// queue read on every tick, and the whole table loaded at start.
//
//	go test ./internal/store/sqlite -run '^$' -bench Jobs -benchmem

var benchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func benchJobName(i int) string {
	return fmt.Sprintf("projects/p%d/locations/us-central1/jobs/job-%07d", i%100, i)
}

// benchJobRecord is a realistic job: an HTTP target with an OIDC token, a
// retry policy, and an execution in flight on every other one.
func benchJobRecord(i int) store.JobRecord {
	j := &schedulerpb.Job{
		Name:        benchJobName(i),
		Description: "calls the nightly report function",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
			Uri:        fmt.Sprintf("https://us-central1-p%d.cloudfunctions.net/report-%d", i%100, i),
			HttpMethod: schedulerpb.HttpMethod_POST,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       []byte(`{"report":"nightly"}`),
			AuthorizationHeader: &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
				ServiceAccountEmail: fmt.Sprintf("invoker@p%d.iam.gserviceaccount.com", i%100),
				Audience:            fmt.Sprintf("https://us-central1-p%d.cloudfunctions.net/report-%d", i%100, i),
			}},
		}},
		Schedule:       "*/5 * * * *",
		TimeZone:       "Europe/Berlin",
		UserUpdateTime: timestamppb.New(benchT0),
		State:          schedulerpb.Job_ENABLED,
		ScheduleTime:   timestamppb.New(benchT0.Add(5 * time.Minute)),
		RetryConfig: &schedulerpb.RetryConfig{
			RetryCount: 3, MaxRetryDuration: durationpb.New(0),
			MinBackoffDuration: durationpb.New(5 * time.Second), MaxBackoffDuration: durationpb.New(time.Hour), MaxDoublings: 5,
		},
		AttemptDeadline: durationpb.New(3 * time.Minute),
	}
	due := benchT0.Add(time.Duration(i%3600) * time.Second)
	r := store.JobRecord{Job: j, NextFire: due, DueTime: due}
	if i%2 == 0 {
		r.Exec = &store.Execution{ScheduleTime: due, Attempts: 1, FirstAttempt: due, NextAttempt: due.Add(5 * time.Second)}
	}
	return r
}

// seedJobs creates jobs 0..n-1, 10,000 to a transaction.
func seedJobs(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := b.Context()
	start := time.Now()
	for lo := 0; lo < n; lo += 10_000 {
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+10_000, n); i++ {
				if err := tx.CreateJob(ctx, benchJobRecord(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var pages, pageSize int64
	if err := s.writer.QueryRowContext(ctx, `SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&pages, &pageSize); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d jobs in %v; the database is %d MiB", n, time.Since(start).Round(time.Millisecond), pages*pageSize>>20)
}

// benchState is the engine's state write of job i after its n-th firing: a
// completed execution with its result, the next slot five minutes on.
func benchState(i, n int, version int64) store.JobState {
	r := benchJobRecord(i)
	next := r.DueTime.Add(time.Duration(n+1) * 5 * time.Minute)
	return store.JobState{Name: r.Job.GetName(), Version: version, NextFire: next, DueTime: next, ScheduleTime: next,
		Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: next.Add(-5 * time.Minute)}}
}

// BenchmarkUpdateJobStatesBatch writes back a burst: one transaction of
// 1,000 state writes with versions checked, as the engine does after firing
// them. The batches walk the jobs in name order, which is the order in
// which a burst due at one instant fires; each write moves the job's due
// time, so both the row and the due index are written.
func BenchmarkUpdateJobStatesBatch(b *testing.B) {
	const jobs, batch = 100_000, 1_000
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	versions := make([]int64, jobs)
	for i := range versions {
		versions[i] = 1
	}
	states := make([]store.JobState, batch)
	for n := 0; b.Loop(); n++ {
		lo := n * batch % jobs
		for k := range batch {
			states[k] = benchState(lo+k, n, versions[lo+k])
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			refused, err := tx.UpdateJobStates(ctx, states)
			if err == nil && len(refused) > 0 {
				err = fmt.Errorf("refused %v", refused)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		for k := range batch {
			versions[lo+k]++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/job")
}

// BenchmarkAddAttemptsBatch records the attempts of a burst, 500 to a
// transaction.
func BenchmarkAddAttemptsBatch(b *testing.B) {
	const jobs, batch = 10_000, 500
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	as := make([]store.Attempt, batch)
	for n := 0; b.Loop(); n++ {
		for k := range batch {
			i := (n*batch + k) % jobs
			start := benchT0.Add(time.Duration(n) * time.Minute)
			as[k] = store.Attempt{
				Job: benchJobName(i), ScheduleTime: start, Number: 1, Start: start, End: start.Add(120 * time.Millisecond),
				URL: "https://us-central1-p1.cloudfunctions.net/report", HTTPStatus: 200,
			}
		}
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.AddAttempts(ctx, as) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/attempt")
}

// BenchmarkDueJobs reads the due queue of 100,000 jobs, due over an hour.
func BenchmarkDueJobs(b *testing.B) {
	s := openTemp(b)
	seedJobs(b, s, 100_000)
	ctx := b.Context()
	for _, bc := range []struct {
		name  string
		at    time.Time
		limit int
		want  int
	}{
		{"none-due", benchT0.Add(-time.Second), 1000, 0},
		{"tick-56-due", benchT0.Add(time.Second), 1000, 56},
		{"limit-1000", benchT0.Add(time.Hour), 1000, 1000},
		{"limit-10000", benchT0.Add(time.Hour), 10_000, 10_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				js, err := s.DueJobs(ctx, bc.at, bc.limit)
				if err != nil {
					b.Fatal(err)
				}
				if len(js) != bc.want {
					b.Fatalf("DueJobs: %d jobs, want %d", len(js), bc.want)
				}
			}
		})
	}
}

// BenchmarkScanJobHeads is the engine's load at start: every job without
// its message, in pages of 10,000. One op is the whole load.
func BenchmarkScanJobHeads(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := openTemp(b)
			seedJobs(b, s, n)
			ctx := b.Context()
			for b.Loop() {
				total, after := 0, ""
				for {
					hs, err := s.ScanJobHeads(ctx, store.Page{Size: 10_000, After: after})
					if err != nil {
						b.Fatal(err)
					}
					if len(hs) == 0 {
						break
					}
					total += len(hs)
					after = hs[len(hs)-1].Name
				}
				if total != n {
					b.Fatalf("loaded %d jobs, want %d", total, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}

// BenchmarkGetJobs reads the messages of a burst's segment: 512 jobs by name.
func BenchmarkGetJobs(b *testing.B) {
	const jobs, batch = 10_000, 512
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	names := make([]string, batch)
	for n := 0; b.Loop(); n++ {
		for k := range names {
			names[k] = benchJobName((n*batch + k) % jobs)
		}
		js, err := s.GetJobs(ctx, names)
		if err != nil || len(js) != batch {
			b.Fatalf("GetJobs: %d, %v", len(js), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/job")
}

// BenchmarkScanJobs reads every whole job, in pages of 10,000. One op is
// the whole table.
func BenchmarkScanJobs(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := openTemp(b)
			seedJobs(b, s, n)
			ctx := b.Context()
			for b.Loop() {
				total, after := 0, ""
				for {
					js, err := s.ScanJobs(ctx, store.Page{Size: 10_000, After: after})
					if err != nil {
						b.Fatal(err)
					}
					if len(js) == 0 {
						break
					}
					total += len(js)
					after = js[len(js)-1].Job.GetName()
				}
				if total != n {
					b.Fatalf("loaded %d jobs, want %d", total, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}

// BenchmarkSteadyWrite is the engine's write at a steady rate: a batch of
// one job, its attempt and its new state, in one transaction. At ~170
// dispatches/s every batch is this small, so the statements' parsing (not
// the rows) is most of what a batch costs.
func BenchmarkSteadyWrite(b *testing.B) {
	const jobs = 10_000
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	versions := make([]int64, jobs)
	for i := range versions {
		versions[i] = 1
	}
	for n := 0; b.Loop(); n++ {
		i := n % jobs
		st := benchState(i, n, versions[i])
		start := benchT0.Add(time.Duration(n) * time.Second)
		a := store.Attempt{Job: st.Name, Incarnation: 1, ScheduleTime: start, Number: 1, Start: start, End: start.Add(time.Millisecond),
			URL: "https://us-central1-p1.cloudfunctions.net/report", HTTPStatus: 200}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.AddAttempts(ctx, []store.Attempt{a}); err != nil {
				return err
			}
			refused, err := tx.UpdateJobStates(ctx, []store.JobState{st})
			if err == nil && len(refused) > 0 {
				err = fmt.Errorf("refused %v", refused)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		versions[i]++
	}
}

// BenchmarkUpdateJob is one job written alone, outside a transaction (the
// engine's path for a job the API changed meanwhile).
func BenchmarkUpdateJob(b *testing.B) {
	const jobs = 10_000
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	versions := make([]int64, jobs)
	for i := range versions {
		versions[i] = 1
	}
	for n := 0; b.Loop(); n++ {
		i := n % jobs
		r := benchJobRecord(i)
		r.DueTime = r.DueTime.Add(time.Duration(n+1) * time.Minute)
		if err := s.UpdateJob(ctx, r, versions[i]); err != nil {
			b.Fatal(err)
		}
		versions[i]++
	}
}

// BenchmarkListJobsPage reads the API's page of 500 (501 rows: one more
// tells whether there is a next page), walking 100,000 jobs of one project
// and location.
func BenchmarkListJobsPage(b *testing.B) {
	const jobs, size = 100_000, 501
	s := openTemp(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	after := ""
	for b.Loop() {
		js, err := s.ListJobs(ctx, "p7", "us-central1", store.Page{Size: size, After: after})
		if err != nil {
			b.Fatal(err)
		}
		if len(js) < size {
			after = ""
			continue
		}
		after = js[size-2].Job.GetName()
	}
}
