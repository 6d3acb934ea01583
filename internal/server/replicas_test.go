package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/server"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

func withStore(url string) envOption { return func(c *server.Config) { c.Store = url } }

func withIssuer(iss string) envOption { return func(c *server.Config) { c.Issuer = iss } }

// Two replicas on one PostgreSQL database serve one installation: what is
// written through one is read through the other at once (policies,
// accounts, jobs), their JWKS are the same, an ID token minted by one
// verifies at the other, and a job created through one fires once,
// claimed by either.
func TestReplicasShareOneDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 30, 0, time.UTC))
	sig := scheduler.NewTestSignals(10) // both replicas report here
	withSig := func(c *server.Config) { c.SchedulerSignals = sig }
	a := start(t, withStore(url), withIssuer("http://oidcron.test"), withFakeClock(clk), withSig)
	b := start(t, withStore(url), withIssuer("http://oidcron.test"), withFakeClock(clk), withSig)

	// A write through a, read through b.
	crmA, _ := crm.NewService(a.ctx, a.rest("")...)
	crmB, _ := crm.NewService(b.ctx, b.rest("")...)
	iamA, _ := iamv1.NewService(a.ctx, a.rest("")...)
	if _, err := crmA.Projects.Create(&crm.Project{ProjectId: "shared"}).Do(); err != nil {
		t.Fatal(err)
	}
	sa, err := iamA.Projects.ServiceAccounts.Create("projects/shared", &iamv1.CreateServiceAccountRequest{AccountId: "runner"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := crmA.Projects.GetIamPolicy("shared", &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:dev@oidcron.local"}})
	setA, err := crmA.Projects.SetIamPolicy("shared", &crm.SetIamPolicyRequest{Policy: pol}).Do()
	if err != nil {
		t.Fatal(err)
	}
	gotB, err := crmB.Projects.GetIamPolicy("shared", &crm.GetIamPolicyRequest{}).Do()
	if err != nil || gotB.Etag != setA.Etag || len(gotB.Bindings) != len(setA.Bindings) {
		t.Fatalf("b reads %+v (%v), a wrote etag %s", gotB, err, setA.Etag)
	}
	// The etag is one: b changes the policy with what it read; a's copy is
	// then stale.
	gotB.Bindings = append(gotB.Bindings, &crm.Binding{Role: "roles/viewer", Members: []string{"serviceAccount:" + sa.Email}})
	if _, err := crmB.Projects.SetIamPolicy("shared", &crm.SetIamPolicyRequest{Policy: gotB}).Do(); err != nil {
		t.Fatalf("b's write with the etag a returned: %v", err)
	}
	if _, err := crmA.Projects.SetIamPolicy("shared", &crm.SetIamPolicyRequest{Policy: setA}).Do(); err == nil {
		t.Fatal("a's write with a stale etag was accepted")
	}

	// One key set: the same JWKS, and a token of one verifies at the other.
	if ja, jb := get(t, a.api+identity.JWKSPath), get(t, b.api+identity.JWKSPath); ja != jb {
		t.Fatalf("JWKS differ:\n%s\n%s", ja, jb)
	}
	creds, _ := iamcredentials.NewService(a.ctx, a.rest("")...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: "https://example.test"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := b.s.Verifier.VerifyIDToken(context.Background(), tok.Token, []string{"https://example.test"})
	if err != nil || claims.Account.Email != sa.Email {
		t.Fatalf("b verifies a's token: %+v %v", claims, err)
	}

	// A job created through a fires once, from whichever replica claims it.
	var mu sync.Mutex
	var hits []string
	target := newTarget(t, func(r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Header.Get("X-CloudScheduler-ScheduleTime"))
		mu.Unlock()
	})
	schA, _ := cloudscheduler.NewService(a.ctx, a.rest("")...)
	schB, _ := cloudscheduler.NewService(b.ctx, b.rest("")...)
	parent := "projects/shared/locations/us-central1"
	if _, err := schA.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{
		Name: parent + "/jobs/tick", Schedule: "* * * * *", TimeZone: "UTC",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: target + "/tick", HttpMethod: "POST"},
	}).Do(); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 5, 1, 9, 1, 0, 0, time.UTC))
	select {
	case <-sig.ExecutionDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the job's execution did not end")
	}
	for _, e := range []*env{a, b} {
		if err := e.s.Engine.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	job, err := schB.Projects.Locations.Jobs.Get(parent + "/jobs/tick").Do()
	if err != nil || job.LastAttemptTime == "" || (job.Status != nil && job.Status.Code != 0) || job.ScheduleTime != "2026-05-01T09:02:00Z" {
		t.Fatalf("b reads the job after its fire: %+v %v", job, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 1 || hits[0] != "2026-05-01T09:01:00Z" {
		t.Fatalf("the target received %v", hits)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// newTarget serves a job's target, calling seen for each request.
func newTarget(t *testing.T, seen func(*http.Request)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen(r) }))
	t.Cleanup(srv.Close)
	return srv.URL
}
