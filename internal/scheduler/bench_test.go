package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// BenchmarkBurst: jobs due in the same minute, on SQLite, each claimed,
// sent and recorded. Reports dispatches per second: "noop" answers in
// process, "http" sends through the real Dispatcher to a local HTTP sink
// (no tokens).
//
//	go test -run '^$' -bench Burst -benchtime 1x ./internal/scheduler/
func BenchmarkBurst(b *testing.B) {
	for _, tc := range []struct {
		name string
		jobs int
		http bool
	}{{"noop/10k", 10000, false}, {"http/10k", 10000, true}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchBurst(b, tc.jobs, tc.http)
			}
		})
	}
}

func benchBurst(b *testing.B, n int, useHTTP bool) {
	b.StopTimer()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	uri := "http://sink.test/"
	var sender Sender
	clk := clock.NewFake(t0)
	if useHTTP {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		uri = srv.URL
		tr := &http.Transport{MaxIdleConnsPerHost: 256}
		defer tr.CloseIdleConnections()
		sender = &Dispatcher{Client: &http.Client{Transport: tr}, Clock: clk}
	} else {
		sender = &okSender{clk: clk, count: map[string]int{}}
	}
	err = st.InTx(ctx, func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			j := &schedulerpb.Job{Name: fmt.Sprintf("projects/p/locations/l/jobs/j%06d", i), Schedule: "every 1m", State: schedulerpb.Job_ENABLED,
				Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: uri}}}
			if err := tx.CreateJob(ctx, store.JobRecord{Job: j}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	sig := &TestSignals{ExecutionDone: make(chan ExecutionDone, n)}
	e := New(Config{Store: st, Clock: clk, Sender: sender, Parse: parseFixture, Signals: sig})
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Stop(ctx)
	b.StartTimer()
	start, cpu0 := time.Now(), cpuTime()
	clk.Set(at("12:01:00"))
	for i := 0; i < n; i++ {
		<-sig.ExecutionDone
	}
	if err := e.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "dispatches/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n)/1e3, "cpu-µs/dispatch")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStart loads 100,000 jobs from SQLite into an engine (the restart
// of the Scale benchmark, without the server): the time and CPU of the
// load and the engine's heap per job once loaded.
//
//	go test -run '^$' -bench Start -benchtime 3x ./internal/scheduler/
func BenchmarkStart(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	err = st.InTx(ctx, func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			j := &schedulerpb.Job{Name: fmt.Sprintf("projects/bench/locations/us-central1/jobs/j%07d", i), Schedule: "* * * * *",
				TimeZone: "UTC", State: schedulerpb.Job_ENABLED,
				Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://sink.test/hook", Body: []byte("{}")}}}
			if err := tx.CreateJob(ctx, store.JobRecord{Job: j, NextFire: t0.Add(time.Hour), DueTime: t0.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	var perJob float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cpu0 := cpuTime()
		e := New(Config{Store: st, Clock: clock.NewFake(t0), Sender: &okSender{count: map[string]int{}}})
		if err := e.Start(ctx); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
		runtime.GC()
		runtime.ReadMemStats(&after)
		perJob = float64(after.HeapAlloc-before.HeapAlloc) / n
		if err := e.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		runtime.KeepAlive(e)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/job")
	b.ReportMetric(perJob, "heap-B/job")
}
