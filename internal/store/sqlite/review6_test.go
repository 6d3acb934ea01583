package sqlite

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/oidcron/oidcron/internal/store/storetest"
)

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A result of one row (GetJob) is decoded on the reading goroutine, as
// listJobs promises of a small result: a chunk that fills because the query
// can return no more rows is the last one, and handing it to another
// goroutine only makes this one wait for it.
func TestGetJobDecodesOnTheCallersGoroutine(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // a spare core
	s := openTemp(t)
	storetest.CreateBenchJobs(t, s, 1, 1)
	name := storetest.BenchJobName(0)
	ctx := context.Background() // database/sql starts no goroutine for it
	if _, err := s.GetJob(ctx, name); err != nil {
		t.Fatal(err)
	}
	const calls = 50
	before := goroutinesCreated()
	for range calls {
		if _, err := s.GetJob(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if n := goroutinesCreated() - before; n >= calls/2 {
		t.Errorf("%d GetJob calls started %d goroutines", calls, n)
	}
}
