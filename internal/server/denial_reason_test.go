package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/oidcron/oidcron/internal/gateway"
	sched "github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/server"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// gatewayJob is the auth fixture's project acme-prod with a function
// hello fronting upstream, and a job ping calling uri (the function's URL
// by default) with the fixture account's ID token, or none.
type gatewayJob struct {
	t   *testing.T
	f   *authFixture
	sig *sched.TestSignals
	c   *scheduler.CloudSchedulerClient
	job *schedulerpb.Job
}

const helloURL = "https://us-central1-acme-prod.cloudfunctions.net/hello"

func newGatewayJob(t *testing.T, f *authFixture, sig *sched.TestSignals, upstream, uri string, token bool) *gatewayJob {
	t.Helper()
	e := f.e
	cf, _ := cfv2.NewService(e.ctx, e.rest(f.admin)...)
	if _, err := cf.Projects.Locations.Functions.Create("projects/acme-prod/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": upstream}},
	}).FunctionId("hello").Do(); err != nil {
		t.Fatal(err)
	}
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc(f.admin)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	target := &schedulerpb.HttpTarget{Uri: uri, HttpMethod: schedulerpb.HttpMethod_GET}
	if token {
		target.AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: f.sa.Email}}
	}
	j := &schedulerpb.Job{
		Name: "projects/acme-prod/locations/us-central1/jobs/ping", Schedule: "0 0 1 1 *", TimeZone: "UTC",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: target}, AttemptDeadline: durationpb.New(30 * time.Second),
	}
	if _, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: "projects/acme-prod/locations/us-central1", Job: j}); err != nil {
		t.Fatal(err)
	}
	return &gatewayJob{t: t, f: f, sig: sig, c: c, job: j}
}

// run runs the job once and returns it with the attempt's outcome.
func (g *gatewayJob) run() *schedulerpb.Job {
	g.t.Helper()
	e := g.f.e
	if _, err := g.c.RunJob(e.ctx, &schedulerpb.RunJobRequest{Name: g.job.GetName()}); err != nil {
		g.t.Fatal(err)
	}
	<-g.sig.ExecutionDone
	if err := e.s.Engine.Flush(e.ctx); err != nil {
		g.t.Fatal(err)
	}
	got, err := g.c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: g.job.GetName()})
	if err != nil {
		g.t.Fatal(err)
	}
	return got
}

// invoker grants the function's invoker role to member.
func (g *gatewayJob) invoker(member string) {
	g.t.Helper()
	e := g.f.e
	cfv1s, _ := cfv1.NewService(e.ctx, e.rest(g.f.admin)...)
	if _, err := cfv1s.Projects.Locations.Functions.SetIamPolicy("projects/acme-prod/locations/us-central1/functions/hello", &cfv1.SetIamPolicyRequest{
		Policy: &cfv1.Policy{Bindings: []*cfv1.Binding{{Role: "roles/cloudfunctions.invoker", Members: []string{member}}}}}).Do(); err != nil {
		g.t.Fatal(err)
	}
}

// With --require-auth the gateway tells no caller why it refused, except
// the dispatcher, which proves itself with the process's key: the job's
// status then names the reason (and the doctor can tell the gateway's
// 403 from the function's). A forged key gets nothing, and no function
// ever sees the key.
func TestGatewayGivesDenialReasonsOnlyToTheDispatcher(t *testing.T) {
	sig := sched.NewTestSignals(16)
	f := newAuthFixture(t, withSignals(sig))
	e := f.e
	up := newUpstream(t)
	g := newGatewayJob(t, f, sig, up.URL, helloURL, true)
	got := g.run()
	if got.GetStatus().GetCode() != int32(codes.PermissionDenied) || !sched.GatewayDenied(got.GetStatus().GetMessage()) ||
		!strings.Contains(got.GetStatus().GetMessage(), "cloudfunctions.functions.invoke") {
		t.Fatalf("status through the gateway without the invoker role: %v", got.GetStatus())
	}
	// The same through the path form of the function's URL, on the
	// gateway's own address.
	j := g.job
	j.GetHttpTarget().Uri = e.s.Addrs.GatewayURL + "/acme-prod/us-central1/hello"
	if up, err := g.c.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: j, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.uri"}}}); err != nil || up.GetHttpTarget().GetUri() != j.GetHttpTarget().GetUri() {
		t.Fatalf("update to the path form: %v %v", err, up)
	}
	if got := g.run(); got.GetStatus().GetCode() != int32(codes.PermissionDenied) || !sched.GatewayDenied(got.GetStatus().GetMessage()) {
		t.Fatalf("status through the path form without the invoker role: %v", got.GetStatus())
	}

	// Anyone else, with or without a guessed key, gets the bare 403.
	for _, key := range []string{"", "guess"} {
		req, _ := http.NewRequest("GET", "http://"+e.s.Addrs.Gateway+"/hello", nil)
		req.Host = "us-central1-acme-prod.cloudfunctions.net"
		if key != "" {
			req.Header.Set(gateway.ReasonKeyHeader, key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get(gateway.ReasonHeader) != "" {
			t.Fatalf("key %q: %d, reason %q", key, resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
		}
	}

	g.invoker("serviceAccount:" + f.sa.Email)
	if got := g.run(); got.GetStatus().GetCode() != int32(codes.OK) {
		t.Fatalf("status with the invoker role: %v", got.GetStatus())
	}
	req := up.last()
	if req == nil || req.Header.Get("Authorization") == "" || req.Header.Get(gateway.ReasonKeyHeader) != "" {
		t.Fatalf("what the function received: %v", req)
	}
}

// A function cannot speak for the gateway: its 403 with the gateway's
// reason header, the request having been let through, is recorded as the
// function's own (the gateway drops the header from upstream answers).
func TestAFunctionCannotSpeakForTheGateway(t *testing.T) {
	sig := sched.NewTestSignals(16)
	f := newAuthFixture(t, withSignals(sig))
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(gateway.ReasonHeader, "made up by the function")
		w.WriteHeader(http.StatusForbidden)
	}))
	defer fn.Close()
	g := newGatewayJob(t, f, sig, fn.URL, helloURL, false)
	g.invoker("allUsers")
	if got := g.run(); got.GetStatus().GetCode() != int32(codes.PermissionDenied) || sched.GatewayDenied(got.GetStatus().GetMessage()) {
		t.Fatalf("the function's own 403 is recorded as the gateway's denial: %v", got.GetStatus())
	}
}

// Replicas share --gateway-url (the load balancer, as the README says). A
// path-form job URL on it is served by the dispatching replica's own
// gateway, which knows its reason key, so the denial keeps its reason; the
// key never goes out to the balancer, which here would pick replica b.
func TestPathFormOnASharedGatewayURLKeepsTheDenialReason(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	var target atomic.Pointer[url.URL]
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target.Load())
		pr.Out.Host = pr.In.Host
	}})
	defer lb.Close()
	withGW := func(c *server.Config) { c.GatewayURL = lb.URL }
	sig := sched.NewTestSignals(16)
	f := newAuthFixture(t, withStore(dbURL), withGW, withIssuer("http://oidcron.test"), withSignals(sig))
	b := start(t, withStore(dbURL), withGW, withIssuer("http://oidcron.test"), withRequireAuth(), withSignals(sig))
	bu, _ := url.Parse("http://" + b.s.Addrs.Gateway)
	target.Store(bu) // the balancer picks b

	up := newUpstream(t)
	g := newGatewayJob(t, f, sig, up.URL, lb.URL+"/acme-prod/us-central1/hello", true)
	got := g.run()
	if up.last() != nil {
		t.Fatal("the function was reached")
	}
	if !sched.GatewayDenied(got.GetStatus().GetMessage()) {
		t.Fatalf("the gateway (replica b) denied, but the status carries no reason: %v", got.GetStatus())
	}
}
