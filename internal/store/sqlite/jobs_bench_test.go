package sqlite

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

// The engine's paths: a burst of fires written back in batches, the due
// queue read on every tick, and the whole table loaded at start.
//
//	go test ./internal/store/sqlite -run '^$' -bench Jobs -benchmem

// seedJobs creates jobs 0..n-1, 10,000 to a transaction.
func seedJobs(b *testing.B, s *Store, n int) {
	b.Helper()
	start := time.Now()
	storetest.CreateBenchJobs(b, s, n, 10_000)
	var pages, pageSize int64
	if err := s.writer.QueryRowContext(b.Context(), `SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&pages, &pageSize); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d jobs in %v; the database is %d MiB", n, time.Since(start).Round(time.Millisecond), pages*pageSize>>20)
}

// BenchmarkUpdateJobStatesBatch writes back a burst of 1,000 jobs at a
// time over 100,000 (storetest.BenchUpdateJobStatesBatch).
func BenchmarkUpdateJobStatesBatch(b *testing.B) {
	const jobs = 100_000
	s := openTemp(b)
	seedJobs(b, s, jobs)
	storetest.BenchUpdateJobStatesBatch(b, s, jobs, 1_000)
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
			start := storetest.BenchT0.Add(time.Duration(n) * time.Minute)
			as[k] = store.Attempt{
				Job: storetest.BenchJobName(i), ScheduleTime: start, Number: 1, Start: start, End: start.Add(120 * time.Millisecond),
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
		{"none-due", storetest.BenchT0.Add(-time.Second), 1000, 0},
		{"tick-56-due", storetest.BenchT0.Add(time.Second), 1000, 56},
		{"limit-1000", storetest.BenchT0.Add(time.Hour), 1000, 1000},
		{"limit-10000", storetest.BenchT0.Add(time.Hour), 10_000, 10_000},
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
			names[k] = storetest.BenchJobName((n*batch + k) % jobs)
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
	versions := slices.Repeat([]int64{1}, jobs)
	for n := 0; b.Loop(); n++ {
		i := n % jobs
		st := storetest.BenchState(i, n, versions[i])
		start := storetest.BenchT0.Add(time.Duration(n) * time.Second)
		a := store.Attempt{Job: st.Name, Incarnation: 1, ScheduleTime: start, Number: 1, Start: start, End: start.Add(time.Millisecond),
			URL: "https://us-central1-p1.cloudfunctions.net/report", HTTPStatus: 200}
		if err := storetest.WriteBatch(ctx, s, []store.Attempt{a}, []store.JobState{st}); err != nil {
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
	versions := slices.Repeat([]int64{1}, jobs)
	for n := 0; b.Loop(); n++ {
		i := n % jobs
		r := storetest.BenchJobRecord(i)
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
