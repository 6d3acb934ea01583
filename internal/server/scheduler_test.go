package server_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/coreos/go-oidc/v3/oidc"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sched "github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/server"
)

func withSignals(sig *sched.TestSignals) envOption {
	return func(c *server.Config) { c.SchedulerSignals = sig }
}

const parent = "projects/acme/locations/us-central1"

func httpJob(id, uri string) *schedulerpb.Job {
	return &schedulerpb.Job{
		Name: parent + "/jobs/" + id, Schedule: "*/5 * * * *", TimeZone: "Europe/Berlin",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: uri, HttpMethod: schedulerpb.HttpMethod_GET}},
	}
}

// Every RPC through the official gRPC client, with paging and the state
// machine's errors.
func TestSchedulerGRPC(t *testing.T) {
	e := start(t)
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if _, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: httpJob(fmt.Sprintf("job-%d", i), "http://127.0.0.1:9/x")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: httpJob("job-0", "http://127.0.0.1:9/x")})
	grpcErr(t, err, codes.AlreadyExists, "Job projects/acme/locations/us-central1/jobs/job-0 already exists.")

	j, err := c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: parent + "/jobs/job-0"})
	if err != nil {
		t.Fatal(err)
	}
	// Google's stored defaults.
	rc := j.GetRetryConfig()
	if j.GetState() != schedulerpb.Job_ENABLED || j.GetAttemptDeadline().AsDuration() != 180*time.Second ||
		rc.GetMinBackoffDuration().AsDuration() != 5*time.Second || rc.GetMaxBackoffDuration().AsDuration() != time.Hour ||
		rc.GetMaxDoublings() != 5 || rc.GetRetryCount() != 0 || j.GetHttpTarget().GetHeaders()["User-Agent"] != "Google-Cloud-Scheduler" ||
		j.GetScheduleTime() == nil || j.GetUserUpdateTime() == nil {
		t.Fatalf("stored job: %v", j)
	}

	it := c.ListJobs(e.ctx, &schedulerpb.ListJobsRequest{Parent: parent, PageSize: 2})
	n := 0
	for {
		_, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("listed %d", n)
	}

	// update_mask is snake_case on gRPC; a camelCase path is Google's error.
	j.TimeZone = "America/New_York"
	up, err := c.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: j, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"time_zone"}}})
	if err != nil || up.GetTimeZone() != "America/New_York" {
		t.Fatalf("update: %v %v", err, up)
	}
	_, err = c.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: j, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"timeZone"}}})
	grpcErr(t, err, codes.InvalidArgument, "Invalid mask for Job: timeZone")

	if p, err := c.PauseJob(e.ctx, &schedulerpb.PauseJobRequest{Name: j.GetName()}); err != nil || p.GetState() != schedulerpb.Job_PAUSED {
		t.Fatalf("pause: %v %v", err, p)
	}
	_, err = c.PauseJob(e.ctx, &schedulerpb.PauseJobRequest{Name: j.GetName()})
	grpcErr(t, err, codes.FailedPrecondition, "")
	if r, err := c.ResumeJob(e.ctx, &schedulerpb.ResumeJobRequest{Name: j.GetName()}); err != nil || r.GetState() != schedulerpb.Job_ENABLED {
		t.Fatalf("resume: %v %v", err, r)
	}
	_, err = c.ResumeJob(e.ctx, &schedulerpb.ResumeJobRequest{Name: j.GetName()})
	grpcErr(t, err, codes.FailedPrecondition, "")
	if err := c.DeleteJob(e.ctx, &schedulerpb.DeleteJobRequest{Name: j.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: j.GetName()})
	grpcErr(t, err, codes.NotFound, "")

}

// Validation through the REST client: each rule is INVALID_ARGUMENT naming
// its field, and nothing is stored.
func TestSchedulerRESTValidation(t *testing.T) {
	e := start(t)
	svc, err := cloudscheduler.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	jobs := svc.Projects.Locations.Jobs
	ok := func() *cloudscheduler.Job {
		return &cloudscheduler.Job{Name: parent + "/jobs/j", Schedule: "0 9 * * 1", TimeZone: "utc",
			HttpTarget: &cloudscheduler.HttpTarget{Uri: "https://example.com/hook", HttpMethod: "POST"}}
	}
	// A job one byte over 1 MB, as the server decodes it from the REST body.
	bigProto := fillTo(t, &schedulerpb.Job{Name: parent + "/jobs/j", Schedule: "0 9 * * 1", TimeZone: "utc",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "https://example.com/hook", HttpMethod: schedulerpb.HttpMethod_POST}}}, 1<<20+1)
	bigBody := bigProto.GetHttpTarget().GetBody()
	cases := map[string]struct {
		mod  func(j *cloudscheduler.Job)
		want string
	}{
		"bad schedule":  {func(j *cloudscheduler.Job) { j.Schedule = "61 * * * *" }, "Schedule or time zone is invalid."},
		"bad time zone": {func(j *cloudscheduler.Job) { j.TimeZone = "Mars/Olympus" }, "Schedule or time zone is invalid."},
		"no schedule":   {func(j *cloudscheduler.Job) { j.Schedule = "" }, "Schedule or time zone is invalid."},
		"job id":        {func(j *cloudscheduler.Job) { j.Name = parent + "/jobs/bad.id" }, "job.name"},
		"description":   {func(j *cloudscheduler.Job) { j.Description = strings.Repeat("x", 501) }, "description"},
		"uri scheme":    {func(j *cloudscheduler.Job) { j.HttpTarget.Uri = "ftp://example.com" }, "http_target.uri"},
		"uri length":    {func(j *cloudscheduler.Job) { j.HttpTarget.Uri = "https://example.com/" + strings.Repeat("a", 2100) }, "http_target.uri"},
		"body with GET": {func(j *cloudscheduler.Job) { j.HttpTarget.HttpMethod = "GET"; j.HttpTarget.Body = "aGk=" }, "http_target.body"},
		"headers too large": {func(j *cloudscheduler.Job) {
			j.HttpTarget.Headers = map[string]string{"X-Big": strings.Repeat("a", 81*1024)}
		}, "http_target.headers"},
		"retry count":   {func(j *cloudscheduler.Job) { j.RetryConfig = &cloudscheduler.RetryConfig{RetryCount: 6} }, "retry_config.retry_count"},
		"deadline low":  {func(j *cloudscheduler.Job) { j.AttemptDeadline = "10s" }, "attempt_deadline"},
		"deadline high": {func(j *cloudscheduler.Job) { j.AttemptDeadline = "1801s" }, "attempt_deadline"},
		"pubsub": {func(j *cloudscheduler.Job) {
			j.HttpTarget = nil
			j.PubsubTarget = &cloudscheduler.PubsubTarget{TopicName: "projects/acme/topics/t"}
		}, "pubsub_target"},
		"no target": {func(j *cloudscheduler.Job) { j.HttpTarget = nil }, "target: a job needs a target; oidcron supports http_target."},
		"foreign SA": {func(j *cloudscheduler.Job) {
			j.HttpTarget.OidcToken = &cloudscheduler.OidcToken{ServiceAccountEmail: "x@other.iam.gserviceaccount.com"}
		}, "http_target.oidc_token.service_account_email"},
		"app engine": {func(j *cloudscheduler.Job) {
			j.HttpTarget = nil
			j.AppEngineHttpTarget = &cloudscheduler.AppEngineHttpTarget{RelativeUri: "/hook"}
		}, "app_engine_http_target: App Engine targets are not supported by oidcron; use http_target."},
		"over 1 MB": {func(j *cloudscheduler.Job) { j.HttpTarget.Body = base64.StdEncoding.EncodeToString(bigBody) },
			fmt.Sprintf("job: %d bytes; a job may be at most 1 MB.", proto.Size(bigProto))},
		"min backoff over max": {func(j *cloudscheduler.Job) {
			j.RetryConfig = &cloudscheduler.RetryConfig{MinBackoffDuration: "20s", MaxBackoffDuration: "10s"}
		}, "retry_config: min_backoff_duration (20s) must not exceed max_backoff_duration (10s)."},
		"negative max doublings": {func(j *cloudscheduler.Job) {
			j.RetryConfig = &cloudscheduler.RetryConfig{MaxDoublings: -1}
		}, "retry_config.max_doublings: must not be negative."},
		"negative max retry duration": {func(j *cloudscheduler.Job) {
			j.RetryConfig = &cloudscheduler.RetryConfig{MaxRetryDuration: "-5s"}
		}, "retry_config.max_retry_duration: must be a non-negative duration."},
		"name in another project": {func(j *cloudscheduler.Job) { j.Name = "projects/other/locations/us-central1/jobs/j" },
			`job.name: "projects/other/locations/us-central1/jobs/j" is not in the parent "projects/acme/locations/us-central1".`},
		"name in another location": {func(j *cloudscheduler.Job) { j.Name = "projects/acme/locations/europe-west1/jobs/j" },
			`job.name: "projects/acme/locations/europe-west1/jobs/j" is not in the parent "projects/acme/locations/us-central1".`},
	}
	// want is the exact message when it ends in a period, else the field
	// the message must begin with.
	for name, c := range cases {
		j := ok()
		c.mod(j)
		_, err := jobs.Create(parent, j).Do()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		var ge *googleapi.Error
		var body struct{ Error struct{ Status string } }
		if !errors.As(err, &ge) || json.Unmarshal([]byte(ge.Body), &body) != nil {
			t.Errorf("%s: %v, want a googleapi.Error", name, err)
			continue
		}
		match := ge.Message == c.want
		if !strings.HasSuffix(c.want, ".") {
			match = strings.HasPrefix(ge.Message, c.want+": ")
		}
		if ge.Code != 400 || body.Error.Status != "INVALID_ARGUMENT" || !match {
			t.Errorf("%s: %d %s %q, want 400 INVALID_ARGUMENT %q", name, ge.Code, body.Error.Status, ge.Message, c.want)
		}
	}
	if l, err := jobs.List(parent).Do(); err != nil || len(l.Jobs) != 0 {
		t.Fatalf("a rejected job was stored: %v %v", err, l)
	}
	for _, p := range []string{"projects/other/locations/us-central1", "projects/acme/locations/europe-west1"} {
		if l, err := jobs.List(p).Do(); err != nil || len(l.Jobs) != 0 {
			t.Fatalf("a rejected job was stored in %s: %v %v", p, err, l)
		}
	}
	// The body gets Google's default Content-Type; update masks are camelCase over REST.
	j := ok()
	j.HttpTarget.Body = "aGk="
	created, err := jobs.Create(parent, j).Do()
	if err != nil || created.HttpTarget.Headers["Content-Type"] != "application/octet-stream" || created.AttemptDeadline != "180s" {
		t.Fatalf("create: %v %+v", err, created)
	}
	patched, err := jobs.Patch(created.Name, &cloudscheduler.Job{Schedule: "*/10 * * * *", TimeZone: "Asia/Kathmandu"}).UpdateMask("schedule,timeZone").Do()
	if err != nil || patched.Schedule != "*/10 * * * *" || patched.TimeZone != "Asia/Kathmandu" || patched.HttpTarget.Uri != j.HttpTarget.Uri {
		t.Fatalf("patch: %v %+v", err, patched)
	}
	// The remaining RPCs over REST.
	if g, err := jobs.Get(created.Name).Do(); err != nil || g.Schedule != "*/10 * * * *" {
		t.Fatalf("get: %v %+v", err, g)
	}
	if p, err := jobs.Pause(created.Name, &cloudscheduler.PauseJobRequest{}).Do(); err != nil || p.State != "PAUSED" {
		t.Fatalf("pause: %v %+v", err, p)
	}
	_, err = jobs.Pause(created.Name, &cloudscheduler.PauseJobRequest{}).Do()
	apiErr(t, err, 400, "A job must be in ENABLED state to be paused.")
	if r, err := jobs.Resume(created.Name, &cloudscheduler.ResumeJobRequest{}).Do(); err != nil || r.State != "ENABLED" {
		t.Fatalf("resume: %v %+v", err, r)
	}
	if r, err := jobs.Run(created.Name, &cloudscheduler.RunJobRequest{}).Do(); err != nil || r.Name != created.Name {
		t.Fatalf("run: %v %+v", err, r)
	}
	if _, err := jobs.Delete(created.Name).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = jobs.Get(created.Name).Do()
	apiErr(t, err, 404, "Job not found.")
	_, err = jobs.Create(parent, ok()).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = jobs.Create(parent, ok()).Do()
	apiErr(t, err, 409, "Job projects/acme/locations/us-central1/jobs/j already exists.")

	// The gapic REST client sends enums as numbers and $alt=json;enum-encoding=int.
	gc, err := scheduler.NewCloudSchedulerRESTClient(e.ctx, e.gapicREST()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	gj, err := gc.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: httpJob("gapic", "https://example.com/x")})
	if err != nil || gj.GetHttpTarget().GetHttpMethod() != schedulerpb.HttpMethod_GET || gj.GetState() != schedulerpb.Job_ENABLED {
		t.Fatalf("gapic REST create: %v %v", err, gj)
	}

	// gcloud finds the default location through ListLocations.
	locs, err := svc.Projects.Locations.List("projects/acme").PageSize(2).Do()
	if err != nil || len(locs.Locations) == 0 || locs.Locations[0].Labels["cloud.googleapis.com/region"] != "us-central1" {
		t.Fatalf("locations: %v %+v", err, locs)
	}
}

// The whole chain: a job with an OIDC token calls a private function
// through the gateway; the function receives a token go-oidc accepts. The
// same job without the invoker role records 403, with a wrong audience 401.
func TestSchedulerDispatchThroughGateway(t *testing.T) {
	sig := sched.NewTestSignals(16)
	f := newFixture(t, "", withSignals(sig))
	c, err := scheduler.NewCloudSchedulerClient(f.ctx, f.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	j := httpJob("ping", f.fn.Url)
	j.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: f.sa.Email}}
	j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 0}
	j.AttemptDeadline = durationpb.New(30 * time.Second)
	job, err := c.CreateJob(f.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
	if err != nil {
		t.Fatal(err)
	}
	run := func() sched.ExecutionDone {
		t.Helper()
		if _, err := c.RunJob(f.ctx, &schedulerpb.RunJobRequest{Name: job.GetName()}); err != nil {
			t.Fatal(err)
		}
		d := <-sig.ExecutionDone
		// The engine writes in batches; wait for this execution's to land.
		if err := f.s.Engine.Flush(f.ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// No invoker role: 403 recorded as PERMISSION_DENIED with the gateway's reason.
	if d := run(); d.Code != codes.PermissionDenied {
		t.Fatalf("without the role: %v", d.Code)
	}
	got, _ := c.GetJob(f.ctx, &schedulerpb.GetJobRequest{Name: job.GetName()})
	if got.GetStatus().GetCode() != int32(codes.PermissionDenied) || !strings.Contains(got.GetStatus().GetMessage(), "403") ||
		!strings.Contains(got.GetStatus().GetMessage(), "cloudfunctions.functions.invoke") {
		t.Fatalf("status: %v", got.GetStatus())
	}
	// Granted: 200, and the function got a verifiable token and Scheduler's headers.
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	if d := run(); d.Code != codes.OK {
		t.Fatalf("with the role: %v", d.Code)
	}
	req := f.up.last()
	if req.Header.Get("User-Agent") != "Google-Cloud-Scheduler" || req.Header.Get("X-CloudScheduler") != "true" ||
		req.Header.Get("X-CloudScheduler-JobName") != "ping" || !strings.HasSuffix(req.Header.Get("X-CloudScheduler-ScheduleTime"), "Z") {
		t.Fatalf("headers %v", req.Header)
	}
	provider, err := oidc.NewProvider(f.ctx, f.s.Addrs.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: f.fn.Url}).Verify(f.ctx, strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		t.Fatalf("function's token: %v", err)
	}
	var claims struct{ Email string }
	_ = tok.Claims(&claims)
	if claims.Email != f.sa.Email {
		t.Fatalf("token email %q", claims.Email)
	}
	// A wrong audience: 401 UNAUTHENTICATED.
	j2 := httpJob("ping", "")
	j2.GetHttpTarget().Uri = f.fn.Url
	j2.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: f.sa.Email, Audience: "https://us-central1-acme.cloudfunctions.net"}}
	j2.Name = job.GetName()
	if _, err := c.UpdateJob(f.ctx, &schedulerpb.UpdateJobRequest{Job: j2, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target"}}}); err != nil {
		t.Fatal(err)
	}
	if d := run(); d.Code != codes.Unauthenticated {
		t.Fatalf("wrong audience: %v", d.Code)
	}
	// The history API lists the three attempts, newest first.
	resp, err := http.Get(f.api + "/oidcron/v1/" + job.GetName() + "/attempts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Attempts []struct {
			Status     string
			HTTPStatus int `json:"httpStatus"`
		}
	}
	if err := jsonDecode(resp, &h); err != nil || len(h.Attempts) != 3 || h.Attempts[0].Status != "UNAUTHENTICATED" ||
		h.Attempts[1].Status != "OK" || h.Attempts[2].HTTPStatus != 403 {
		t.Fatalf("history: %v %+v", err, h)
	}
}
