package storetest_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// backends opens a fresh store of each backend, closed when t ends. The
// PostgreSQL one is skipped where pgtest finds no server.
func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// A key that no record can have is simply not found. A NUL is valid
// UTF-8, so it reaches the store from gRPC and REST alike (a project or
// location segment of a name: parseJobName checks only the job id).
func TestGetKeyWithNULIsNotFound(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, st store.Store) {
		{
			_, err := st.GetJob(ctx, "projects/p/locations/l\x00/jobs/a")
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetJob of a name with a NUL: %v, want ErrNotFound", err)
			}
			_, err = st.GetProject(ctx, "p\x00")
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetProject of an id with a NUL: %v, want ErrNotFound", err)
			}
			_, err = st.GetServiceAccount(ctx, "a\x00@p.iam.gserviceaccount.com")
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetServiceAccount of an email with a NUL: %v, want ErrNotFound", err)
			}
		}
	})
}

// ListAttempts' before is any instant: every stored Start is before one
// past the storable range (all attempts), none is before one under it.
// The history API passes ?before= (RFC 3339, years 0000 to 9999) as it is.
func TestListAttemptsBeforeOutsideRange(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, st store.Store) {
		{
			jn := "projects/p/locations/l/jobs/a"
			if err := st.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: jn}}); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := st.AddAttempts(ctx, []store.Attempt{{Job: jn, Number: 1, Start: t0, End: t0}}); err != nil {
				t.Fatal(err)
			}
			as, err := st.ListAttempts(ctx, jn, 10, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || len(as) != 1 {
				t.Errorf("ListAttempts before the year 3000 = %d attempts, %v; want 1", len(as), err)
			}
			as, err = st.ListAttempts(ctx, jn, 10, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || len(as) != 0 {
				t.Errorf("ListAttempts before the year 1600 = %d attempts, %v; want none", len(as), err)
			}
		}
	})
}
