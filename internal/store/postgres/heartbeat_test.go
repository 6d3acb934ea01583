package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// serializationFailures counts the statements the server refused with
// SQLSTATE 40001 or 40P01, which retry hides from the caller.
type serializationFailures struct{ n atomic.Int64 }

func (f *serializationFailures) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (f *serializationFailures) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if retryable(d.Err) {
		f.n.Add(1)
	}
}

// Replicas beat at once, every lease/3: no beat may need a retry, let alone
// fail, since a lapse long enough lets the others take a live replica's
// executions. (At SERIALIZABLE, concurrent beats conflicted with each other.)
func TestConcurrentHeartbeatsDoNotConflict(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &serializationFailures{}
	cfg.ConnConfig.Tracer = f
	s, err := open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Replicas long dead, which every beat's garbage collection reads and
	// deletes: the reads and writes the beats share.
	for i := range 20 {
		owner := fmt.Sprintf("gone-%d", i)
		mustHeartbeat(t, s, owner, time.Microsecond)
		if _, err := s.pool.Exec(t.Context(), `UPDATE replicas SET lease_until = now() - interval '2 hours' WHERE name = $1`, owner); err != nil {
			t.Fatal(err)
		}
	}

	const replicas, beats = 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, replicas*beats)
	for r := range replicas {
		wg.Go(func() {
			for range beats {
				if _, err := s.Heartbeat(t.Context(), fmt.Sprintf("r%d", r), time.Minute); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.n.Load(); n != 0 {
		t.Errorf("%d heartbeat statements failed with a serialization failure or deadlock", n)
	}
	var left int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM replicas WHERE name LIKE 'gone-%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d dead replicas left: the beats' garbage collection did not run", left)
	}
}
