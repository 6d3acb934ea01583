package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

// The engine's writes, as the SQLite backend's benchmarks measure them
// (sqlite/jobs_bench_test.go), on the server $OIDCRON_TEST_POSTGRES names:
//
//	go test ./internal/store/postgres -run '^$' -bench . -benchmem

// seedJobs creates jobs 0..n-1, 5,000 to a transaction.
func seedJobs(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := b.Context()
	start := time.Now()
	storetest.CreateBenchJobs(b, s, n, 5000)
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var size int64
	if err := s.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d jobs in %v; the database is %d MiB", n, time.Since(start).Round(time.Millisecond), size>>20)
}

// benchAttempt is job i's attempt of its n-th firing.
func benchAttempt(i, n int) store.Attempt {
	start := storetest.BenchT0.Add(time.Duration(n) * time.Minute)
	return store.Attempt{Job: storetest.BenchJobName(i), Incarnation: 1, ScheduleTime: start, Number: 1, Start: start,
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
	versions := slices.Repeat([]int64{1}, jobs)
	states := make([]store.JobState, batch)
	as := make([]store.Attempt, batch)
	for n := 0; b.Loop(); n++ {
		lo := n * batch % (jobs - batch)
		for k := range batch {
			states[k] = storetest.BenchState(lo+k, n, versions[lo+k])
			as[k] = benchAttempt(lo+k, n)
		}
		if err := storetest.WriteBatch(ctx, s, as, states); err != nil {
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
	const jobs = 100_000
	s := openFresh(b)
	seedJobs(b, s, jobs)
	storetest.BenchUpdateJobStatesBatch(b, s, jobs, 1_000)
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
	at := storetest.BenchT0.Add(2 * time.Hour)
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
