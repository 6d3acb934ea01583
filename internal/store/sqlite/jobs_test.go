package sqlite

import (
	"errors"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/store"
)

// TestJobQueryPlans holds the engine's queries to the plans that keep them
// fast at a million jobs: a range of the named index, in its order (no
// "TEMP B-TREE" sort), and no full scan of a table. SQLite plans without
// statistics here, as it does in the field (nothing runs ANALYZE).
func TestJobQueryPlans(t *testing.T) {
	s := openTemp(t)
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string // each a line of the plan
	}{
		{"DueJobs", dueJobsSQL, []any{int64(5), int64(10)}, []string{"SEARCH jobs USING INDEX jobs_due (due_time>? AND due_time<?)"}},
		{"ScanJobs", scanJobsSQL, []any{"", int64(10)}, []string{"SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (name>?)"}},
		{"ListJobs", listJobsSQL, []any{"p", "l", "", int64(10)}, []string{"SEARCH jobs USING INDEX jobs_project_location (project_id=? AND location=? AND name>?)"}},
		{"JobVersions", jobVersionsSQL(4), []any{"a", "b", "c", "c"}, []string{"SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (name=?)"}},
		{"JobVersion", jobVersionSQL, []any{"a"}, []string{"SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (name=?)"}},
		{"UpdateJob", updateJobSQL, make([]any, 13), []string{"SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (name=?)"}},
		{"ListAttempts", listAttemptsSQL, []any{"j", int64(3)}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=?)"}},
		{"ListAttemptsBefore", listAttemptsBeforeSQL, []any{"j", int64(5), int64(3)}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=? AND start_time<?)"}},
		{"AddAttempt", addAttemptSQL, make([]any, 11), []string{"SEARCH jobs EXISTS USING COVERING INDEX sqlite_autoindex_jobs_1 (name=?)"}},
		{"DeleteJobAttempts", deleteJobAttemptsSQL, []any{"j"}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=?)"}},
		// The ranking reads the index in its order, once; the deletes are by rowid.
		{"TrimAttempts", trimAttemptsSQL, []any{int64(3)}, []string{
			"SEARCH attempts USING INTEGER PRIMARY KEY (rowid=?)",
			"SCAN attempts USING COVERING INDEX attempts_job_newest",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.writer.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var (
					id, parent, unused int
					detail             string
				)
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s", w, all)
				}
			}
			for _, bad := range []string{"TEMP B-TREE", "SCAN jobs\n", "SCAN attempts\n"} {
				if strings.Contains(all+"\n", bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), all)
				}
			}
		})
	}
}

// TestUpdateJobsSizes runs batches of every shape of the version check's
// prepared IN lists: exact sizes, padded ones, and more than one chunk,
// with a stale record last (refusing the batch) and then all current.
func TestUpdateJobsSizes(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	const jobs = 2*versionChunk + 3
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i := range jobs {
			if err := tx.CreateJob(ctx, benchJobRecord(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	versions := make([]int64, jobs)
	for i := range versions {
		versions[i] = 1
	}
	for _, n := range []int{1, 2, 3, 5, 8, 100, versionChunk - 1, versionChunk, versionChunk + 1, jobs} {
		recs := make([]store.JobRecord, n)
		for i := range recs {
			recs[i] = benchJobRecord(i)
			recs[i].Version = versions[i]
		}
		recs[n-1].Version = versions[n-1] + 7
		var be *store.BatchError
		if err := s.UpdateJobs(ctx, recs); !errors.As(err, &be) || be.Index != n-1 || !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("%d records, the last stale: %v, want a version mismatch at %d", n, err, n-1)
		}
		recs[n-1].Version = versions[n-1]
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.UpdateJobs(ctx, recs) }); err != nil {
			t.Fatalf("%d records: %v", n, err)
		}
		for i := range recs {
			versions[i]++
		}
		for _, i := range []int{0, n - 1} {
			got, err := s.GetJob(ctx, benchJobName(i))
			if err != nil || got.Version != versions[i] {
				t.Fatalf("%d records: job %d: version %d (%v), want %d", n, i, got.Version, err, versions[i])
			}
		}
	}
	// A job missing from a batch crossing chunks.
	recs := []store.JobRecord{benchJobRecord(0)}
	for i := range versionChunk {
		recs = append(recs, benchJobRecord(i+1))
	}
	recs = append(recs, benchJobRecord(jobs))
	var be *store.BatchError
	if err := s.UpdateJobs(ctx, recs); !errors.As(err, &be) || be.Index != len(recs)-1 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing job last: %v, want not found at %d", err, len(recs)-1)
	}
	// UpdateJob's refusal reads the version with its prepared statement.
	if err := s.UpdateJob(ctx, benchJobRecord(0), 1); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("UpdateJob, stale: %v", err)
	}
	if err := s.InTx(ctx, func(tx store.Tx) error { return tx.UpdateJob(ctx, benchJobRecord(jobs), 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateJob in InTx, missing: %v", err)
	}
}
