package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/jackc/pgx/v5"

	"github.com/oidcron/oidcron/internal/store"
)

// TestJobQueryPlans holds the engine's and the API's job queries to plans
// that stay fast at a million jobs: each reads the named index, and none
// reads a whole table of jobs, messages, tombstones, attempts or manual
// executions.
//
// The plans checked are the generic ones (plan_cache_mode =
// force_generic_plan): pgx prepares every statement once per connection,
// and PostgreSQL may then plan it once for all parameter values, without
// knowing, say, that an array holds two names rather than a thousand. The
// table is large enough, and analyzed, for the planner to cost an index
// scan below a full one as it would in the field.
func TestJobQueryPlans(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	const jobs = 5000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(i int) string { return fmt.Sprintf("projects/p%d/locations/us-central1/jobs/job-%05d", i%50, i) }
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i := range jobs {
			due := t0.Add(time.Duration(i%3600) * time.Second)
			r := store.JobRecord{Job: &schedulerpb.Job{Name: name(i), Schedule: "* * * * *"}, NextFire: due, DueTime: due}
			if i%20 == 0 {
				r.Exec = &store.Execution{ScheduleTime: due, Owner: fmt.Sprintf("replica-%d", i%3)}
			}
			if err := tx.CreateJob(ctx, r); err != nil {
				return err
			}
		}
		var as []store.Attempt
		for i := range jobs {
			as = append(as, store.Attempt{Job: name(i), Start: t0.Add(time.Duration(i) * time.Second), Number: 1})
		}
		if err := tx.AddAttempts(ctx, as); err != nil {
			return err
		}
		// Manual executions, one per job (more than RunJob will ever have
		// in flight, so that the planner costs the indexes as it would
		// for a large table): half in flight (owned, no next attempt),
		// half due.
		for i := range jobs {
			e := store.Execution{ScheduleTime: t0, NextAttempt: t0.Add(time.Duration(i) * time.Second)}
			if i%2 == 0 {
				e.Owner, e.NextAttempt = fmt.Sprintf("replica-%d", i%3), time.Time{}
			}
			if _, err := tx.AddManual(ctx, store.Manual{Job: name(i), Incarnation: 1, Exec: e}); err != nil {
				return err
			}
		}
		for i := 0; i < jobs; i += 5 {
			if err := tx.DeleteJob(ctx, name(i)); err != nil {
				return err
			}
			if err := tx.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: name(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}

	// Arguments are SQL literals, as EXECUTE takes them.
	const (
		names = `'{projects/p1/locations/us-central1/jobs/job-00001,projects/p2/locations/us-central1/jobs/job-00002}'`
		ints  = `'{1,1}'`
		nulls = `'{NULL,NULL}'`
		bools = `'{true,false}'`
		texts = `'{"",""}'`
		one   = `'projects/p1/locations/us-central1/jobs/job-00001'`
	)
	const jobByName, recordByName = "jobs_pkey", "job_records_pkey"
	for _, tc := range []struct {
		name, query, args string
		want              []string
	}{
		{"GetJob", getJobSQL, one, []string{jobByName, recordByName}},
		{"GetJobs", getJobsSQL, names, []string{jobByName, recordByName}},
		{"ListJobs", listJobsSQL, `'projects/p7/locations/us-central1/jobs/', 'projects/p7/locations/us-central10', 501`,
			[]string{jobByName, recordByName}},
		{"ScanJobHeads", scanHeadsSQL, `'', 10000`, []string{jobByName}},
		{"DueJobs", dueJobsSQL, `1767225601000000000, 1000`, []string{"jobs_claimable", "jobs_owned"}},
		// Orphans driven from the dead owners, one index range each (not a
		// read of every owned job), then the head of the queue; each locked
		// row's message and snapshot version by key.
		{"Claim", claimSQL, `'replica-0', 1767225601000000000, 512`,
			[]string{"jobs_owned", "Index Cond: (exec_owner = owners.o)", "jobs_claimable", jobByName, recordByName}},
		{"ClaimRecords", claimRecordsSQL, names, []string{recordByName}},
		{"NextDue", nextDueSQL, ``, []string{"jobs_claimable", "manual_executions_claimable"}},
		// Manual executions: the dead owners' from manual_executions_owned,
		// the due ones from the head of manual_executions_claimable, each
		// written by its key.
		{"ClaimManuals", claimManualsSQL, `'replica-0', 1767225601000000000, 16`,
			[]string{"manual_executions_owned", "manual_executions_claimable", "manual_executions_pkey"}},
		{"AddManual", addManualSQL, one + `, 1, NULL, 0, NULL, NULL, NULL, '', 0`, []string{jobByName}},
		{"UpdateManual", updateManualSQL, `1, 0, NULL, 0, NULL, NULL, NULL, '', 0`, []string{"manual_executions_pkey"}},
		{"DeleteManual", deleteManualSQL, `1, 0`, []string{"manual_executions_pkey"}},
		{"CreateJob", createJobSQL, one + `, 1, '', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, 0, NULL, NULL, NULL, '\x', NULL`,
			[]string{"job_tombstones_pkey"}},
		{"UpdateJob", updateJobSQL, one + `, 1, '', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, 0, NULL, NULL, NULL, 0, '\x', NULL`,
			[]string{jobByName, recordByName}},
		{"UpdateJobStates", updateStatesSQL, strings.Join([]string{names, ints, nulls, nulls, bools, nulls, ints, nulls, nulls, texts,
			nulls, nulls, bools, nulls, nulls, `'{0,1}'`, nulls, ints}, ", "), []string{jobByName}},
		{"DeleteJob", deleteJobSQL, one, []string{jobByName, "attempts_job_newest", "manual_executions_job"}},
		{"AddAttempts", addAttemptsSQL, strings.Join([]string{names, nulls, bools, ints, ints, nulls, texts, ints, ints, texts,
			`'{0,0}'`}, ", "), []string{jobByName}},
		{"ListAttempts", listAttemptsSQL, one + `, 10`, []string{"attempts_job_newest"}},
		{"ListAttemptsBefore", listAttemptsBeforeSQL, one + `, 10, 5`, []string{"attempts_job_newest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := genericPlan(t, s, tc.query, tc.args)
			t.Logf("generic plan:\n%s", plan)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			for _, table := range []string{"jobs", "job_records", "job_tombstones", "attempts", "manual_executions"} {
				if strings.Contains(plan, "Seq Scan on "+table+" ") || strings.HasSuffix(plan, "Seq Scan on "+table) {
					t.Errorf("plan reads all of %s:\n%s", table, plan)
				}
			}
		})
	}
}

// genericPlan prepares query on a connection of its own and returns the
// generic plan of its execution with args.
func genericPlan(t *testing.T, s *Store, query, args string) string {
	t.Helper()
	ctx := t.Context()
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Taken out of the pool and closed after: the session's setting and
	// statement go with it.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Prepare(ctx, "under_test", query); err != nil {
		t.Fatal(err)
	}
	execute := "EXECUTE under_test"
	if args != "" {
		execute += "(" + args + ")"
	}
	// In a transaction rolled back: some of the statements write.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+execute, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", execute, err)
	}
	return strings.Join(lines, "\n")
}
