package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
)

// The jobs and writes of the backends' benchmarks (jobs_bench_test.go in
// each), one set for all so that their numbers compare.

// BenchT0 is the instant the benchmark jobs are due around.
var BenchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// BenchJobName is the name of benchmark job i, one of 100 projects'.
func BenchJobName(i int) string {
	return fmt.Sprintf("projects/p%d/locations/us-central1/jobs/job-%07d", i%100, i)
}

// BenchJobRecord is a realistic job: an HTTP target with an OIDC token, a
// retry policy, and an execution in flight on every other one. Jobs are
// due over an hour from BenchT0, 1/3600 of them each second.
func BenchJobRecord(i int) store.JobRecord {
	uri := fmt.Sprintf("https://us-central1-p%d.cloudfunctions.net/report-%d", i%100, i)
	j := &schedulerpb.Job{
		Name:        BenchJobName(i),
		Description: "calls the nightly report function",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
			Uri:        uri,
			HttpMethod: schedulerpb.HttpMethod_POST,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       []byte(`{"report":"nightly"}`),
			AuthorizationHeader: &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
				ServiceAccountEmail: fmt.Sprintf("invoker@p%d.iam.gserviceaccount.com", i%100),
				Audience:            uri,
			}},
		}},
		Schedule:       "*/5 * * * *",
		TimeZone:       "Europe/Berlin",
		UserUpdateTime: timestamppb.New(BenchT0),
		State:          schedulerpb.Job_ENABLED,
		ScheduleTime:   timestamppb.New(BenchT0.Add(5 * time.Minute)),
		RetryConfig: &schedulerpb.RetryConfig{
			RetryCount: 3, MaxRetryDuration: durationpb.New(0),
			MinBackoffDuration: durationpb.New(5 * time.Second), MaxBackoffDuration: durationpb.New(time.Hour), MaxDoublings: 5,
		},
		AttemptDeadline: durationpb.New(3 * time.Minute),
	}
	due := BenchT0.Add(time.Duration(i%3600) * time.Second)
	r := store.JobRecord{Job: j, NextFire: due, DueTime: due}
	if i%2 == 0 {
		r.Exec = &store.Execution{ScheduleTime: due, Attempts: 1, FirstAttempt: due, NextAttempt: due.Add(5 * time.Second)}
	}
	return r
}

// BenchState is the engine's state write of job i after its n-th firing: a
// completed execution with its result, the next slot five minutes on.
func BenchState(i, n int, version int64) store.JobState {
	r := BenchJobRecord(i)
	next := r.DueTime.Add(time.Duration(n+1) * 5 * time.Minute)
	return store.JobState{Name: r.Job.GetName(), Version: version, NextFire: next, DueTime: next, ScheduleTime: next,
		Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: next.Add(-5 * time.Minute)}}
}

// CreateBenchJobs creates jobs 0..n-1 (BenchJobRecord), perTx to a
// transaction.
func CreateBenchJobs(tb testing.TB, s store.Store, n, perTx int) {
	tb.Helper()
	ctx := tb.Context()
	for lo := 0; lo < n; lo += perTx {
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+perTx, n); i++ {
				if err := tx.CreateJob(ctx, BenchJobRecord(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// WriteBatch is the engine's write of a batch in one transaction: the
// attempts, then the job states with their versions checked. A refused
// state is an error: the benchmarks keep the versions they write.
func WriteBatch(ctx context.Context, s store.Store, as []store.Attempt, states []store.JobState) error {
	return s.InTx(ctx, func(tx store.Tx) error {
		if len(as) > 0 {
			if err := tx.AddAttempts(ctx, as); err != nil {
				return err
			}
		}
		refused, err := tx.UpdateJobStates(ctx, states)
		if err == nil && len(refused) > 0 {
			err = fmt.Errorf("refused %v", refused)
		}
		return err
	})
}

// BenchUpdateJobStatesBatch writes back a burst: transactions of batch
// state writes with versions checked, as the engine does after firing
// them, over jobs 0..jobs-1 as CreateBenchJobs made them (batch must divide
// jobs). The batches walk the jobs in name order, which is the order in
// which a burst due at one instant fires; each write moves the job's due
// time, so both the row and the due index are written.
func BenchUpdateJobStatesBatch(b *testing.B, s store.Store, jobs, batch int) {
	ctx := b.Context()
	versions := slices.Repeat([]int64{1}, jobs)
	states := make([]store.JobState, batch)
	for n := 0; b.Loop(); n++ {
		lo := n * batch % jobs
		for k := range batch {
			states[k] = BenchState(lo+k, n, versions[lo+k])
		}
		if err := WriteBatch(ctx, s, nil, states); err != nil {
			b.Fatal(err)
		}
		for k := range batch {
			versions[lo+k]++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/job")
}
