package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	// The scheduler apiv1 client's GetLocation/ListLocations take these
	// types (cloud.google.com/go/location is not in this module's graph).
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// restStatus checks a google.golang.org/api error: the HTTP code, the
// canonical status name in the JSON error body, and the exact message.
func restStatus(t *testing.T, err error, code int, st, msg string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want googleapi.Error %d %s %q, got %v", code, st, msg, err)
	}
	var body struct {
		Error struct {
			Code    int
			Message string
			Status  string
		}
	}
	if jerr := json.Unmarshal([]byte(ge.Body), &body); jerr != nil {
		t.Fatalf("error body %q: %v", ge.Body, jerr)
	}
	if ge.Code != code || body.Error.Code != code || body.Error.Status != st || ge.Message != msg || body.Error.Message != msg {
		t.Fatalf("want %d %s %q, got %d %s %q (body %s)", code, st, msg, ge.Code, body.Error.Status, ge.Message, ge.Body)
	}
}

// noJobs checks that parent lists no job through the gRPC client.
func noJobs(t *testing.T, e *env, c *scheduler.CloudSchedulerClient, parent string) {
	t.Helper()
	it := c.ListJobs(e.ctx, &schedulerpb.ListJobsRequest{Parent: parent})
	for {
		j, err := it.Next()
		if err == iterator.Done {
			return
		}
		if err != nil {
			t.Fatalf("list %s: %v", parent, err)
		}
		t.Fatalf("a rejected job was stored: %v", j)
	}
}

// bigJob returns an HTTP job whose wire size is exactly size bytes.
func bigJob(t *testing.T, id string, size int) *schedulerpb.Job {
	t.Helper()
	j := httpJob(id, "https://example.com/hook")
	j.GetHttpTarget().HttpMethod = schedulerpb.HttpMethod_POST
	return fillTo(t, j, size)
}

// fillTo sets j's HTTP body so that j's wire size is exactly size bytes.
func fillTo(t *testing.T, j *schedulerpb.Job, size int) *schedulerpb.Job {
	t.Helper()
	n := size - proto.Size(j)
	for range 8 { // the body's length prefix grows with it
		j.GetHttpTarget().Body = bytes.Repeat([]byte("a"), n)
		d := size - proto.Size(j)
		if d == 0 {
			return j
		}
		n += d
	}
	t.Fatalf("no body gives a %d-byte job", size)
	return nil
}

// CreateJob's validation rules through the official gRPC client: each is
// INVALID_ARGUMENT with the server's exact message, and nothing is stored.
func TestSchedulerGRPCValidation(t *testing.T) {
	e := start(t)
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok := func() *schedulerpb.Job { return httpJob("j", "https://example.com/hook") }
	dur := durationpb.New
	bigBody := bigJob(t, "j", 1<<20+1).GetHttpTarget().GetBody()
	cases := []struct {
		name string
		mod  func(j *schedulerpb.Job)
		want func(j *schedulerpb.Job) string // the message, from the job as sent
	}{
		{"app engine", func(j *schedulerpb.Job) {
			j.Target = &schedulerpb.Job_AppEngineHttpTarget{AppEngineHttpTarget: &schedulerpb.AppEngineHttpTarget{RelativeUri: "/hook"}}
		}, func(*schedulerpb.Job) string {
			return "app_engine_http_target: App Engine targets are not supported by oidcron; use http_target."
		}},
		{"no target", func(j *schedulerpb.Job) { j.Target = nil }, func(*schedulerpb.Job) string {
			return "target: a job needs a target; oidcron supports http_target."
		}},
		{"over 1 MB", func(j *schedulerpb.Job) {
			j.GetHttpTarget().HttpMethod = schedulerpb.HttpMethod_POST
			j.GetHttpTarget().Body = bigBody
		}, func(j *schedulerpb.Job) string {
			return fmt.Sprintf("job: %d bytes; a job may be at most 1 MB.", proto.Size(j))
		}},
		{"min backoff over max", func(j *schedulerpb.Job) {
			j.RetryConfig = &schedulerpb.RetryConfig{MinBackoffDuration: dur(20 * time.Second), MaxBackoffDuration: dur(10 * time.Second)}
		}, func(*schedulerpb.Job) string {
			return "retry_config: min_backoff_duration (20s) must not exceed max_backoff_duration (10s)."
		}},
		{"min backoff over default max", func(j *schedulerpb.Job) {
			j.RetryConfig = &schedulerpb.RetryConfig{MinBackoffDuration: dur(2 * time.Hour)}
		}, func(*schedulerpb.Job) string {
			return "retry_config: min_backoff_duration (7200s) must not exceed max_backoff_duration (3600s)."
		}},
		{"negative max doublings", func(j *schedulerpb.Job) {
			j.RetryConfig = &schedulerpb.RetryConfig{MaxDoublings: -1}
		}, func(*schedulerpb.Job) string { return "retry_config.max_doublings: must not be negative." }},
		{"negative max retry duration", func(j *schedulerpb.Job) {
			j.RetryConfig = &schedulerpb.RetryConfig{MaxRetryDuration: dur(-5 * time.Second)}
		}, func(*schedulerpb.Job) string {
			return "retry_config.max_retry_duration: must be a non-negative duration."
		}},
		{"name in another project", func(j *schedulerpb.Job) {
			j.Name = "projects/other/locations/us-central1/jobs/j"
		}, func(*schedulerpb.Job) string {
			return `job.name: "projects/other/locations/us-central1/jobs/j" is not in the parent "projects/acme/locations/us-central1".`
		}},
		{"name in another location", func(j *schedulerpb.Job) {
			j.Name = "projects/acme/locations/europe-west1/jobs/j"
		}, func(*schedulerpb.Job) string {
			return `job.name: "projects/acme/locations/europe-west1/jobs/j" is not in the parent "projects/acme/locations/us-central1".`
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := ok()
			tc.mod(j)
			want := tc.want(j)
			if tc.name == "over 1 MB" && proto.Size(j) != 1<<20+1 {
				t.Fatalf("test job is %d bytes", proto.Size(j))
			}
			_, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
			grpcErr(t, err, codes.InvalidArgument, want)
			for _, name := range []string{parent + "/jobs/j", j.GetName()} {
				_, err = c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: name})
				grpcErr(t, err, codes.NotFound, "Job not found.")
			}
		})
	}
	noJobs(t, e, c, parent)
	noJobs(t, e, c, "projects/other/locations/us-central1")
	noJobs(t, e, c, "projects/acme/locations/europe-west1")

	// 1 MB is the limit itself: a job of exactly 1 MB is accepted.
	j, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: bigJob(t, "max", 1<<20)})
	if err != nil {
		t.Fatalf("a 1 MB job: %v", err)
	}
	if len(j.GetHttpTarget().GetBody()) == 0 {
		t.Fatalf("stored job has no body")
	}
}

// schedulerClients are the official gRPC and REST clients of e's
// scheduler API, as the owner; the gRPC one is closed with the test.
func schedulerClients(t *testing.T, e *env) (*scheduler.CloudSchedulerClient, *cloudscheduler.Service) {
	t.Helper()
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	svc, err := cloudscheduler.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	return c, svc
}

// A parent outside Cloud Scheduler's locations, through both clients.
func TestSchedulerUnknownLocation(t *testing.T) {
	e := start(t)
	c, svc := schedulerClients(t, e)
	const mars = "projects/acme/locations/mars-north1"
	const want = `parent: "mars-north1" is not one of Cloud Scheduler's locations (ListLocations lists them).`

	j := httpJob("j", "https://example.com/hook")
	j.Name = mars + "/jobs/j"
	_, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: mars, Job: j})
	grpcErr(t, err, codes.InvalidArgument, want)
	// Without a name, the server would choose one: still refused.
	j.Name = ""
	_, err = c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: mars, Job: j})
	grpcErr(t, err, codes.InvalidArgument, want)

	_, err = svc.Projects.Locations.Jobs.Create(mars, &cloudscheduler.Job{
		Name: mars + "/jobs/j", Schedule: "0 9 * * 1", TimeZone: "utc",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: "https://example.com/hook", HttpMethod: "POST"},
	}).Do()
	restStatus(t, err, 400, "INVALID_ARGUMENT", want)

	_, err = c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: mars + "/jobs/j"})
	grpcErr(t, err, codes.NotFound, "Job not found.")
	_, err = svc.Projects.Locations.Jobs.Get(mars + "/jobs/j").Do()
	restStatus(t, err, 404, "NOT_FOUND", "Job not found.")
	noJobs(t, e, c, mars)
	if l, err := svc.Projects.Locations.Jobs.List(mars).Do(); err != nil || len(l.Jobs) != 0 {
		t.Fatalf("a rejected job was stored: %v %+v", err, l)
	}
}

// GetLocation through the official gRPC client (CloudSchedulerClient's
// location methods) and the REST client: every listed location reads back
// as ListLocations gave it; an unknown one is NOT_FOUND.
func TestSchedulerGetLocation(t *testing.T) {
	e := start(t)
	c, svc := schedulerClients(t, e)

	var listed []*locationpb.Location
	it := c.ListLocations(e.ctx, &locationpb.ListLocationsRequest{Name: "projects/acme"})
	for {
		l, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, l)
	}
	if len(listed) == 0 || listed[0].GetName() != parent || listed[0].GetLocationId() != "us-central1" {
		t.Fatalf("listed: %v", listed)
	}
	for _, l := range listed {
		got, err := c.GetLocation(e.ctx, &locationpb.GetLocationRequest{Name: l.GetName()})
		if err != nil {
			t.Fatalf("get %s: %v", l.GetName(), err)
		}
		if !proto.Equal(got, l) {
			t.Fatalf("get %s: %v, listed %v", l.GetName(), got, l)
		}
		r, err := svc.Projects.Locations.Get(l.GetName()).Do()
		if err != nil {
			t.Fatalf("REST get %s: %v", l.GetName(), err)
		}
		if r.Name != l.GetName() || r.LocationId != l.GetLocationId() || r.DisplayName != l.GetDisplayName() ||
			r.Labels["cloud.googleapis.com/region"] != l.GetLocationId() {
			t.Fatalf("REST get %s: %+v, listed %v", l.GetName(), r, l)
		}
	}
	// The REST list agrees with the gRPC one.
	rl, err := svc.Projects.Locations.List("projects/acme").PageSize(1000).Do()
	if err != nil || len(rl.Locations) != len(listed) {
		t.Fatalf("REST list: %v %+v", err, rl)
	}
	for i, l := range rl.Locations {
		if l.Name != listed[i].GetName() || l.LocationId != listed[i].GetLocationId() {
			t.Fatalf("REST list[%d]: %+v, gRPC %v", i, l, listed[i])
		}
	}

	const mars = "projects/acme/locations/mars-north1"
	_, err = c.GetLocation(e.ctx, &locationpb.GetLocationRequest{Name: mars})
	grpcErr(t, err, codes.NotFound, "Location projects/acme/locations/mars-north1 not found.")
	_, err = svc.Projects.Locations.Get(mars).Do()
	restStatus(t, err, 404, "NOT_FOUND", "Location projects/acme/locations/mars-north1 not found.")
}
