package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/oidcron/oidcron/internal/server"
)

func jobsClient(t *testing.T) (*server.Server, *scheduler.CloudSchedulerClient) {
	t.Helper()
	s := startServer(t)
	c, err := scheduler.NewCloudSchedulerClient(context.Background(), option.WithEndpoint(s.Addrs.API), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func headerJob(id string, headers map[string]string) *schedulerpb.Job {
	return &schedulerpb.Job{Name: hdrParent + "/jobs/" + id, Schedule: "*/5 * * * *",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://127.0.0.1:9/x", Headers: headers}}}
}

// Reference §1.4: X-Google-* and X-AppEngine-* are among the headers that
// are "ignored or replaced" (the dispatcher drops them); a job setting one
// is not an invalid job.
func TestGoogleInternalHeadersAreIgnoredNotRefused(t *testing.T) {
	_, c := jobsClient(t)
	ctx := context.Background()
	for i, h := range []string{"X-Google-Foo", "X-AppEngine-Country"} {
		got, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent,
			Job: headerJob("internal-"+string(rune('a'+i)), map[string]string{h: "1", "X-Mine": "2"})})
		if err != nil {
			t.Errorf("header %s: %v, want the job created (the header ignored)", h, err)
			continue
		}
		// Dropped when stored, as Host and Content-Length are.
		if hs := got.GetHttpTarget().GetHeaders(); hs[h] != "" || hs["X-Mine"] != "2" {
			t.Errorf("header %s: stored headers %v, want it dropped and X-Mine kept", h, hs)
		}
	}
}

// A malformed Duration (seconds and nanos of different signs) sent over
// gRPC as attempt_deadline is stored as it is; every REST read of the job,
// and ListJobs of its whole location, then fails with 500.
func TestMalformedAttemptDeadlineIsRefused(t *testing.T) {
	s, c := jobsClient(t)
	ctx := context.Background()
	j := headerJob("deadline", nil)
	j.AttemptDeadline = &durationpb.Duration{Seconds: 20, Nanos: -1}
	_, cerr := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent, Job: j})
	resp, err := http.Get("http://" + s.Addrs.API + "/v1/" + hdrParent + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if status.Code(cerr) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(cerr).Message(), "attempt_deadline: ") || resp.StatusCode != http.StatusOK {
		t.Fatalf("create: %v (want INVALID_ARGUMENT naming attempt_deadline); REST ListJobs then: %d %s",
			cerr, resp.StatusCode, strings.Join(strings.Fields(string(b)), " "))
	}
}

// Reference §1.4: "Repeated headers are not supported". Two keys naming
// one header (HTTP names are case-insensitive, as UpdateJob's header merge
// treats them) are stored side by side, and the dispatcher sends whichever
// the map iteration visits last: a different value from attempt to attempt.
func TestSameHeaderTwiceIsNotStoredTwice(t *testing.T) {
	_, c := jobsClient(t)
	ctx := context.Background()
	_, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent,
		Job: headerJob("dup", map[string]string{"X-Foo": "1", "x-foo": "2"})})
	want := `http_target.headers: "X-Foo" and "x-foo" are the same header; repeated headers are not supported.`
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != want {
		t.Fatalf("create: %v, want INVALID_ARGUMENT %q", err, want)
	}
	if _, err := c.GetJob(ctx, &schedulerpb.GetJobRequest{Name: hdrParent + "/jobs/dup"}); status.Code(err) != codes.NotFound {
		t.Fatalf("the refused job: %v, want NOT_FOUND", err)
	}
	// An update that would make the pair is refused too, and changes nothing.
	if _, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent,
		Job: headerJob("dup", map[string]string{"X-Foo": "1"})}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{Job: headerJob("dup", map[string]string{"X-Foo": "1", "x-foo": "2"})})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != want {
		t.Fatalf("update: %v, want INVALID_ARGUMENT %q", err, want)
	}
	got, err := c.GetJob(ctx, &schedulerpb.GetJobRequest{Name: hdrParent + "/jobs/dup"})
	if err != nil || got.GetHttpTarget().GetHeaders()["X-Foo"] != "1" || got.GetHttpTarget().GetHeaders()["x-foo"] != "" {
		t.Fatalf("after the refused update: %v, %v", got.GetHttpTarget().GetHeaders(), err)
	}
}

// UpdateJobRequest has no "name": the job's name is job.name, as the same
// RPC's "job.name: required." says.
func TestUpdateJobBadNameNamesJobName(t *testing.T) {
	_, c := jobsClient(t)
	_, err := c.UpdateJob(context.Background(), &schedulerpb.UpdateJobRequest{
		Job:        &schedulerpb.Job{Name: hdrParent + "/jobs/bad.id", Description: "x"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
	if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "job.name:") {
		t.Fatalf("%v, want INVALID_ARGUMENT naming job.name", err)
	}
}

// A time_zone that is a file of the host's zoneinfo but not a tz database
// name is refused as an invalid zone is.
func TestHostZoneFileIsNotATimeZone(t *testing.T) {
	_, c := jobsClient(t)
	for i, tz := range []string{"localtime", "right/Europe/Berlin", "./UTC"} {
		j := headerJob("zone-"+string(rune('a'+i)), nil)
		j.TimeZone = tz
		_, err := c.CreateJob(context.Background(), &schedulerpb.CreateJobRequest{Parent: hdrParent, Job: j})
		if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "Schedule or time zone is invalid." {
			t.Errorf("time_zone %q: %v, want INVALID_ARGUMENT Schedule or time zone is invalid.", tz, err)
		}
	}
}

// README: two keys naming one header in different case are
// INVALID_ARGUMENT ("repeated headers are not supported"). Under the mask
// http_target.headers (what gcloud's --update-headers sends) the pair is
// merged one key after the other, the second dropping the first, so the
// update succeeds and which value is stored is chance.
func TestSameHeaderTwiceUnderHeadersMask(t *testing.T) {
	_, c := jobsClient(t)
	ctx := context.Background()
	if _, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent,
		Job: headerJob("dupmask", map[string]string{"X-Mine": "1"})}); err != nil {
		t.Fatal(err)
	}
	got, err := c.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{
		Job:        headerJob("dupmask", map[string]string{"X-Foo": "1", "x-foo": "2"}),
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.headers"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("update: %v, stored headers %v; want INVALID_ARGUMENT (repeated headers)", err, got.GetHttpTarget().GetHeaders())
	}
}

// gRPC carries any number in an enum field: one that names no HttpMethod
// is INVALID_ARGUMENT naming the field, and nothing is stored.
func TestUnknownHttpMethodIsRefused(t *testing.T) {
	_, c := jobsClient(t)
	ctx := context.Background()
	j := headerJob("method99", nil)
	j.GetHttpTarget().HttpMethod = schedulerpb.HttpMethod(99)
	_, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent, Job: j})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "http_target.http_method: 99 is not an HttpMethod.") {
		t.Fatalf("create: %v, want INVALID_ARGUMENT naming http_target.http_method", err)
	}
	if _, err := c.GetJob(ctx, &schedulerpb.GetJobRequest{Name: j.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("get after a refused create: %v, want NOT_FOUND", err)
	}
	// The same on update.
	if _, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent, Job: headerJob("method99", nil)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{Job: j,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.http_method"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("update: %v, want INVALID_ARGUMENT", err)
	}
}

// A page token is the base64 of a key this server issued: one that decodes
// to bytes no key has (not UTF-8, or a NUL) is INVALID_ARGUMENT on every
// store, not INTERNAL from PostgreSQL or an empty page from SQLite.
func TestForeignPageTokenIsRefused(t *testing.T) {
	_, c := jobsClient(t)
	ctx := context.Background()
	for _, tok := range []string{"_w", "ww", "YQA"} { // 0xff; 0xc3 cut short; "a" NUL
		_, err := c.ListJobs(ctx, &schedulerpb.ListJobsRequest{Parent: hdrParent, PageToken: tok}).Next()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "is not a page token this server issued") {
			t.Errorf("page token %q: %v, want INVALID_ARGUMENT", tok, err)
		}
	}
}
