package sqlite

import (
	"runtime"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/store/storetest"
)

// TestJobQueryPlans holds the engine's queries to the plans that keep them
// fast at a million jobs: a range of the named index, in its order (no
// "TEMP B-TREE" sort), and no full scan of a table. SQLite plans without
// statistics here, as it does in the field (nothing runs ANALYZE). DueJobs
// is not among them: the engine never calls it on this backend (migration
// 0006 dropped its index).
func TestJobQueryPlans(t *testing.T) {
	s := openTemp(t)
	// Every read of whole jobs finds each message by name.
	const record = "SEARCH r USING INDEX sqlite_autoindex_job_records_1 (name=?)"
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string // each a line of the plan
	}{
		{"GetJob", getJobSQL, []any{"a"}, []string{"SEARCH j USING PRIMARY KEY (name=?)", record}},
		{"GetJobs", getJobsSQL, []any{`["a","b"]`}, []string{"SEARCH j USING PRIMARY KEY (name=?)", record}},
		{"ScanJobs", scanJobsSQL, []any{"", int64(10)}, []string{"SEARCH j USING PRIMARY KEY (name>?)", record}},
		{"ScanJobHeads", scanHeadsSQL, []any{"", int64(10)}, []string{"SEARCH jobs USING PRIMARY KEY (name>?)"}},
		{"ListJobs", listJobsSQL, []any{"p", "l", "", int64(10)}, []string{"SEARCH j USING INDEX jobs_project_location (project_id=? AND location=? AND name>?)", record}},
		{"JobVersion", jobVersionSQL, []any{"a"}, []string{"SEARCH jobs USING PRIMARY KEY (name=?)"}},
		{"UpdateJob", updateJobSQL, make([]any, 22), []string{"SEARCH jobs USING PRIMARY KEY (name=?)"}},
		{"UpdateJobRecord", updateJobRecordSQL, make([]any, 2), []string{"SEARCH job_records USING INDEX sqlite_autoindex_job_records_1 (name=?)"}},
		{"UpdateState", updateStateSQL, make([]any, 15), []string{"SEARCH jobs USING PRIMARY KEY (name=?)"}},
		{"UpdateStateResult", updateStateResultSQL, make([]any, 17), []string{"SEARCH jobs USING PRIMARY KEY (name=?)"}},
		{"ListAttempts", listAttemptsSQL, []any{"j", int64(3)}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=?)"}},
		{"ListAttemptsBefore", listAttemptsBeforeSQL, []any{"j", int64(5), int64(3)}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=? AND start_time<?)"}},
		{"AddAttempt", addAttemptSQL, make([]any, 13), []string{"SEARCH jobs EXISTS USING PRIMARY KEY (name=?)"}},
		{"DeleteJobAttempts", deleteJobAttemptsSQL, []any{"j"}, []string{"SEARCH attempts USING INDEX attempts_job_newest (job=?)"}},
		{"DeleteJobManuals", deleteJobManualsSQL, []any{"j"}, []string{"SEARCH manual_executions USING INDEX manual_executions_job (job=?)"}},
		{"AddManual", addManualSQL, make([]any, 11), []string{"SEARCH jobs EXISTS USING PRIMARY KEY (name=?)"}},
		{"UpdateManual", updateManualSQL, make([]any, 9), []string{"SEARCH manual_executions USING INTEGER PRIMARY KEY (rowid=?)"}},
		{"DeleteManual", deleteManualSQL, make([]any, 2), []string{"SEARCH manual_executions USING INTEGER PRIMARY KEY (rowid=?)"}},
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
			for _, bad := range []string{"TEMP B-TREE", "SCAN jobs\n", "SCAN j\n", "SCAN r\n", "SCAN job_records\n", "SCAN attempts\n"} {
				if strings.Contains(all+"\n", bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), all)
				}
			}
		})
	}
}

// TestUpdateJobStatesAllOrNothing: a state that cannot be stored (a time
// outside the range of int64 nanoseconds) fails the call before anything
// of it is written.
func TestUpdateJobStatesAllOrNothing(t *testing.T) {
	storetest.RunTimeRange(t, openTemp(t))
}

// TestGetJobAllocatesForOneRow: reading one job allocates room for one row,
// not for a chunk of decodeChunk rows (about 78 KiB a call before, 6 KiB after).
func TestGetJobAllocatesForOneRow(t *testing.T) {
	s := openTemp(t)
	storetest.CreateBenchJobs(t, s, 1, 1)
	name := storetest.BenchJobName(0)
	ctx := t.Context()
	get := func() {
		if _, err := s.GetJob(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	get() // the reader connection and its statement
	const calls = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		get()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 24<<10 {
		t.Errorf("GetJob allocated %d bytes a call, want under 24 KiB", per)
	} else {
		t.Logf("GetJob allocated %d bytes a call", per)
	}
}
