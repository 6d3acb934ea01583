package postgres

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

// The engine's writes, as the SQLite backend's benchmarks measure them
// (sqlite/jobs_bench_test.go), on the server $OIDCRON_TEST_POSTGRES names:
//
//	go test ./internal/store/postgres -run '^$' -bench . -benchmem

var benchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func benchJobName(i int) string {
	return fmt.Sprintf("projects/p%d/locations/us-central1/jobs/job-%07d", i%100, i)
}

// benchJobRecord is a realistic job: an HTTP target with an OIDC token, a
// retry policy, and an execution in flight on every other one.
func benchJobRecord(i int) store.JobRecord {
	uri := fmt.Sprintf("https://us-central1-p%d.cloudfunctions.net/report-%d", i%100, i)
	j := &schedulerpb.Job{
		Name:        benchJobName(i),
		Description: "calls the nightly report function",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
			Uri:        uri,
			HttpMethod: schedulerpb.HttpMethod_POST,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       []byte(`{"report":"nightly"}`),
			AuthorizationHeader: &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
				ServiceAccountEmail: fmt.Sprintf("invoker@p%d.iam.gserviceaccount.com", i%100),
				Audience:            uri,
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

// seedJobs creates jobs 0..n-1, 5,000 to a transaction.
func seedJobs(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := b.Context()
	start := time.Now()
	for lo := 0; lo < n; lo += 5000 {
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+5000, n); i++ {
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
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var size int64
	if err := s.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d jobs in %v; the database is %d MiB", n, time.Since(start).Round(time.Millisecond), size>>20)
}

// benchState is the engine's state write of job i after its n-th firing: a
// completed execution with its result, the next slot five minutes on.
func benchState(i, n int, version int64) store.JobState {
	r := benchJobRecord(i)
	next := r.DueTime.Add(time.Duration(n+1) * 5 * time.Minute)
	return store.JobState{Name: r.Job.GetName(), Version: version, NextFire: next, DueTime: next, ScheduleTime: next,
		Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: next.Add(-5 * time.Minute)}}
}

func benchAttempt(i, n int) store.Attempt {
	start := benchT0.Add(time.Duration(n) * time.Minute)
	return store.Attempt{Job: benchJobName(i), Incarnation: 1, ScheduleTime: start, Number: 1, Start: start,
		End: start.Add(120 * time.Millisecond), URL: "https://us-central1-p1.cloudfunctions.net/report", HTTPStatus: 200}
}

// BenchmarkBurstWrite is the engine's write of a burst's segment: one
// transaction with the attempts of 512 jobs and their new states, versions
// checked, walking 100,000 jobs in name order as a burst due at one
// instant fires them.
func BenchmarkBurstWrite(b *testing.B) {
	const jobs, batch = 100_000, 512
	s := openFresh(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	versions := make([]int64, jobs)
	for i := range versions {
		versions[i] = 1
	}
	states := make([]store.JobState, batch)
	as := make([]store.Attempt, batch)
	for n := 0; b.Loop(); n++ {
		lo := n * batch % (jobs - batch)
		for k := range batch {
			states[k] = benchState(lo+k, n, versions[lo+k])
			as[k] = benchAttempt(lo+k, n)
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.AddAttempts(ctx, as); err != nil {
				return err
			}
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

// BenchmarkUpdateJobStatesBatch is sqlite's: 1,000 state writes in one
// transaction over 100,000 jobs.
func BenchmarkUpdateJobStatesBatch(b *testing.B) {
	const jobs, batch = 100_000, 1_000
	s := openFresh(b)
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

// BenchmarkAddAttemptsBatch is sqlite's: the attempts of a burst, 500 to a
// transaction.
func BenchmarkAddAttemptsBatch(b *testing.B) {
	const jobs, batch = 10_000, 500
	s := openFresh(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	as := make([]store.Attempt, batch)
	for n := 0; b.Loop(); n++ {
		for k := range batch {
			as[k] = benchAttempt((n*batch+k)%jobs, n)
		}
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.AddAttempts(ctx, as) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/attempt")
}

// BenchmarkClaimJobs claims 512 due jobs at a time for one replica, until
// 100,000 are claimed; each claim ends the job's execution again so that
// the next op finds work (one op is one ClaimJobs of 512).
func BenchmarkClaimJobs(b *testing.B) {
	const jobs, batch = 100_000, 512
	s := openFresh(b)
	seedJobs(b, s, jobs)
	ctx := b.Context()
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET exec_manual = NULL, exec_owner = ''`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, "bench", time.Hour); err != nil {
		b.Fatal(err)
	}
	plan := func(r store.JobRecord) (store.JobState, bool) {
		// Owned while in flight, its next slot an hour on.
		e := store.Execution{ScheduleTime: r.DueTime, Attempts: 0, FirstAttempt: r.DueTime, NextAttempt: r.DueTime, Owner: "bench"}
		next := r.DueTime.Add(time.Hour)
		return store.JobState{NextFire: next, DueTime: r.DueTime, ScheduleTime: next, Exec: &e}, true
	}
	at := benchT0.Add(2 * time.Hour)
	for b.Loop() {
		got, err := s.ClaimJobs(ctx, "bench", at, batch, plan)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			b.StopTimer()
			if _, err := s.pool.Exec(ctx, `UPDATE jobs SET exec_owner = '' WHERE exec_owner <> ''`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/job")
}
