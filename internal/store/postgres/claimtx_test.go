package postgres

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// roundTrips counts what the pool's connections send and wait for: each
// statement outside a batch, and each batch. (Preparing a statement the
// first time a connection uses it is a round trip more, not counted.)
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestClaimRoundTrips: a claim is two round trips, whether it claims jobs,
// finds none, is refused by plan or finds its owner not live; and it
// leaves its connection outside a transaction (the pool, of one
// connection, never has to replace it).
func TestClaimRoundTrips(t *testing.T) {
	ctx := t.Context()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	s, err := open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b", "c"} {
		claimJob(t, s, id, t0, "")
	}
	mustHeartbeat(t, s, "r", time.Hour)
	refuse := func(store.JobRecord) (store.JobState, bool) { return store.JobState{}, false }
	// The first claim prepares the statements on the connection.
	if got, err := s.ClaimJobs(ctx, "r", t0, 1, claimAll("r")); err != nil || len(got) != 1 {
		t.Fatalf("warm-up claim: %v, %v", jobNamesOf(got), err)
	}
	for _, tc := range []struct {
		name, owner string
		plan        func(store.JobRecord) (store.JobState, bool)
		want        int // jobs claimed
		wantErr     error
	}{
		{"refused by plan", "r", refuse, 0, nil},
		{"claims", "r", claimAll("r"), 2, nil},
		{"empty", "r", claimAll("r"), 0, nil},
		{"not live", "nobody", claimAll("nobody"), 0, errNotLive},
	} {
		n0 := rt.n.Load()
		got, err := s.ClaimJobs(ctx, tc.owner, t0, 10, tc.plan)
		if len(got) != tc.want || (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Fatalf("%s: ClaimJobs = %v, %v; want %d jobs, error %v", tc.name, jobNamesOf(got), err, tc.want, tc.wantErr)
		}
		if n := rt.n.Load() - n0; n != 2 {
			t.Errorf("%s: %d round trips; want 2", tc.name, n)
		}
	}
	if st := s.pool.Stat(); st.NewConnsCount() != 1 {
		t.Errorf("the pool opened %d connections; want 1 (a claim left its connection in a transaction)", st.NewConnsCount())
	}
}

// TestGenericPlans: the pool's connections plan each prepared statement
// once (TestJobQueryPlans checks those plans).
func TestGenericPlans(t *testing.T) {
	s := openFresh(t)
	var mode string
	if err := s.pool.QueryRow(t.Context(), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "force_generic_plan" {
		t.Fatalf("plan_cache_mode = %q; want force_generic_plan", mode)
	}
}

// A session idle inside a transaction (its client lost without a word,
// mid-claim, its rows locked) is ended by the server after
// IdleInTransactionTimeout; a URL may set another.
func TestIdleInTransactionTimeout(t *testing.T) {
	show := func(s *Store) string {
		var v string
		if err := s.pool.QueryRow(t.Context(), `SHOW idle_in_transaction_session_timeout`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	url := pgtest.NewDatabase(t)
	if got := show(openURL(t, url)); got != IdleInTransactionTimeout {
		t.Errorf("idle_in_transaction_session_timeout = %q; want %q", got, IdleInTransactionTimeout)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if got := show(openURL(t, url+sep+"idle_in_transaction_session_timeout=1min")); got != "1min" {
		t.Errorf("with the URL's setting: %q; want 1min", got)
	}
}
