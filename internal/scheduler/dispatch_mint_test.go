package scheduler

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/store"
)

// stalledStore is a store whose database stops answering: GetProject (the
// first read AgentCredentials makes) waits until its context ends and
// returns the context's error, as database/sql does for a query the server
// never answers. Nothing else is reached.
type stalledStore struct {
	store.Store
	entered chan struct{}
}

func (s *stalledStore) GetProject(ctx context.Context, _ string) (*resourcemanagerpb.Project, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func newStalledStore() *stalledStore { return &stalledStore{entered: make(chan struct{}, 10)} }

func mintTarget(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the target was called")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A Stop that cuts off an attempt while its token is being minted abandons
// the attempt, as a Stop during the HTTP exchange does: no attempt is
// recorded and the execution stays in the store for the next Start.
func TestStopDuringTokenMintIsNotAnOutcome(t *testing.T) {
	st, stalled := newMemStore(), newStalledStore()
	uri := mintTarget(t)
	name := addJob(t, st, "minting", "every 1h", func(j *schedulerpb.Job) {
		j.GetHttpTarget().Uri = uri
		j.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
			ServiceAccountEmail: "invoker@p.iam.gserviceaccount.com"}}
	})
	d := &Dispatcher{Credentials: AgentCredentials{Dir: directory.New(stalled, clock.NewFake(t0), 0)}}
	h := newHarness(t, st, t0, d)
	h.clk.Set(at("13:00:00"))
	recv(t, stalled.entered, "the token mint")

	stopCtx, cancel := context.WithCancel(context.Background())
	cancel() // stop now: the attempt in flight is abandoned, not recorded
	if err := h.e.Stop(stopCtx); err != nil {
		t.Fatalf("Stop with an ended context: %v; cutting an attempt short loses nothing, so it is no failure", err)
	}
	r, err := st.GetJob(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	as, err := st.ListAttempts(context.Background(), name, 10, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 0 || r.Exec == nil || !r.Exec.ScheduleTime.Equal(at("13:00:00")) {
		for _, a := range as {
			t.Logf("recorded attempt %d: %s %q", a.Number, codes.Code(a.Code), a.Message)
		}
		t.Fatalf("after a stop during the token mint: exec %+v, status %v; want the execution kept for the next Start and no attempt",
			r.Exec, r.Job.GetStatus())
	}
}

// attempt_deadline bounds the whole attempt (reference §1.7: the attempt
// "is marked as a DEADLINE_EXCEEDED failure"), the token's mint included.
func TestDeadlineDuringTokenMintIsDeadlineExceeded(t *testing.T) {
	stalled := newStalledStore()
	clk := clock.NewFake(t0)
	d := &Dispatcher{Clock: clk, Credentials: AgentCredentials{Dir: directory.New(stalled, clk, 0)}}
	job := target("projects/p/locations/us-central1/jobs/j", mintTarget(t), schedulerpb.HttpMethod_POST, nil, "")
	job.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
		ServiceAccountEmail: "invoker@p.iam.gserviceaccount.com"}}
	job.AttemptDeadline = durationpb.New(15 * time.Second)
	done := make(chan Outcome, 1)
	go func() { done <- d.Send(context.Background(), job, t0) }()
	recv(t, stalled.entered, "the token mint")
	clk.Advance(15 * time.Second)
	out := recv(t, done, "the outcome")
	if out.Code != codes.DeadlineExceeded {
		t.Fatalf("deadline passed while minting: %v %q, want DEADLINE_EXCEEDED", out.Code, out.Message)
	}
}

// failingStore answers GetProject with err.
type failingStore struct {
	store.Store
	err error
}

func (s failingStore) GetProject(context.Context, string) (*resourcemanagerpb.Project, error) {
	return nil, s.err
}

// A mint that fails for want of the store is INTERNAL with its cause, not
// PERMISSION_DENIED: an outage must not read as a missing IAM grant. A
// refusal (here: the job's project is gone) stays PERMISSION_DENIED.
func TestMintFailureIsInternalRefusalIsPermissionDenied(t *testing.T) {
	for _, c := range []struct {
		err  error
		code codes.Code
		text string
	}{
		{errors.New("sqlite: database is locked"), codes.Internal, "the job's token could not be minted: project p: sqlite: database is locked"},
		{store.ErrNotFound, codes.PermissionDenied, "the job's project p does not exist"},
	} {
		clk := clock.NewFake(t0)
		d := &Dispatcher{Clock: clk, Credentials: AgentCredentials{Dir: directory.New(failingStore{err: c.err}, clk, 0)}}
		job := target("projects/p/locations/us-central1/jobs/j", mintTarget(t), schedulerpb.HttpMethod_POST, nil, "")
		job.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
			ServiceAccountEmail: "invoker@p.iam.gserviceaccount.com"}}
		out := d.Send(context.Background(), job, t0)
		if out.Code != c.code || !strings.Contains(out.Message, c.text) || !out.Sent.IsZero() {
			t.Errorf("store error %v: %v %q (sent %v), want %v containing %q and nothing sent", c.err, out.Code, out.Message, out.Sent, c.code, c.text)
		}
	}
}
