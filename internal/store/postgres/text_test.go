package postgres

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// An attempt whose message carries bytes PostgreSQL text refuses (a
// target's denial header with obs-text, a NUL) is stored, made valid,
// instead of failing the engine's whole batch on every retry.
func TestAttemptTextFromOutsideIsStored(t *testing.T) {
	st := openFresh(t)
	ctx := context.Background()
	name := "projects/p/locations/l/jobs/j"
	if err := st.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: name}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := st.AddAttempts(ctx, []store.Attempt{{Job: name, ScheduleTime: t0, Number: 1, Start: t0, End: t0,
		URL: "http://x.test/\xff", Message: "Denial reason: \xff\xfe\x00end"}})
	if err != nil {
		t.Fatal(err)
	}
	as, err := st.ListAttempts(ctx, name, 1, time.Time{})
	if err != nil || len(as) != 1 || as[0].Message != "Denial reason: \uFFFDend" || as[0].URL != "http://x.test/\uFFFD" {
		t.Fatalf("stored %+v %v", as, err)
	}
}
