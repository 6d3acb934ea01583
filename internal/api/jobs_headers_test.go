package api_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/oidcron/oidcron/internal/server"
)

// startServer runs a real oidcron on loopback.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

const hdrParent = "projects/acme/locations/us-central1"

func sameHeaders(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%s: headers %v, want %v", what, got, want)
	}
}

// The header updates gcloud's `scheduler jobs update http` sends, through
// the REST client: only the changed headers under httpTarget.headers, a
// null value for a removed one, and the bare mask to clear them.
func TestUpdateJobHeadersREST(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	svc, err := cloudscheduler.NewService(ctx, option.WithEndpoint("http://"+s.Addrs.API+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	jobs := svc.Projects.Locations.Jobs
	name := hdrParent + "/jobs/h"
	if _, err := jobs.Create(hdrParent, &cloudscheduler.Job{
		Name: name, Schedule: "*/5 * * * *",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: "http://127.0.0.1:9/x", HttpMethod: "POST", Body: "e30=",
			Headers: map[string]string{"A": "1", "B": "2"}},
	}).Do(); err != nil {
		t.Fatal(err)
	}
	patch := func(ht *cloudscheduler.HttpTarget) map[string]string {
		t.Helper()
		out, err := jobs.Patch(name, &cloudscheduler.Job{HttpTarget: ht}).UpdateMask("httpTarget.headers").Do()
		if err != nil {
			t.Fatal(err)
		}
		return out.HttpTarget.Headers
	}
	defaults := map[string]string{"User-Agent": "Google-Cloud-Scheduler", "Content-Type": "application/octet-stream"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(defaults)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// --update-headers C=3: A and B stay.
	sameHeaders(t, "update", patch(&cloudscheduler.HttpTarget{Headers: map[string]string{"C": "3"}}), with("A", "1", "B", "2", "C", "3"))
	// A name differing only in case replaces the header.
	sameHeaders(t, "update b", patch(&cloudscheduler.HttpTarget{Headers: map[string]string{"b": "20"}}), with("A", "1", "b", "20", "C", "3"))
	// --remove-headers A --update-headers D=4: {"A": null, "D": "4"}.
	sameHeaders(t, "remove", patch(&cloudscheduler.HttpTarget{Headers: map[string]string{"D": "4"}, NullFields: []string{"Headers.a"}}),
		with("b", "20", "C", "3", "D", "4"))
	// --remove-headers C alone: {"C": null}, nothing else.
	sameHeaders(t, "remove only", patch(&cloudscheduler.HttpTarget{ForceSendFields: []string{"Headers"}, NullFields: []string{"Headers.C"}}),
		with("b", "20", "D", "4"))
	// Removing the server's User-Agent brings it back, as on create.
	sameHeaders(t, "remove user agent", patch(&cloudscheduler.HttpTarget{ForceSendFields: []string{"Headers"}, NullFields: []string{"Headers.User-Agent"}}),
		with("b", "20", "D", "4"))
	// --clear-headers: the mask and no headers.
	sameHeaders(t, "clear", patch(&cloudscheduler.HttpTarget{}), defaults)

	// Other paths leave the headers alone, null values included.
	out, err := jobs.Patch(name, &cloudscheduler.Job{Schedule: "0 * * * *", HttpTarget: &cloudscheduler.HttpTarget{
		Headers: map[string]string{"X": "1"}, NullFields: []string{"Headers.User-Agent"}}}).UpdateMask("schedule").Do()
	if err != nil {
		t.Fatal(err)
	}
	sameHeaders(t, "other mask", out.HttpTarget.Headers, defaults)

	// gcloud's own bytes for `--remove-headers Content-Type`.
	req, _ := http.NewRequest(http.MethodPatch, "http://"+s.Addrs.API+"/v1/"+name+"?alt=json&updateMask=httpTarget.headers",
		strings.NewReader(`{"httpTarget": {"headers": {"Content-Type": null, "E": "5"}}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("raw PATCH: %s", resp.Status)
	}
	got, err := jobs.Get(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	sameHeaders(t, "raw", got.HttpTarget.Headers, with("E", "5")) // a body brings Content-Type back
}

// Over gRPC a map value cannot be null: the map given is merged, an empty
// one clears.
func TestUpdateJobHeadersGRPC(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c, err := scheduler.NewCloudSchedulerClient(ctx, option.WithEndpoint(s.Addrs.API), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name := hdrParent + "/jobs/g"
	if _, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: hdrParent, Job: &schedulerpb.Job{
		Name: name, Schedule: "*/5 * * * *",
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://127.0.0.1:9/x", HttpMethod: schedulerpb.HttpMethod_GET,
			Headers: map[string]string{"A": "1", "B": "2"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	update := func(h map[string]string) map[string]string {
		t.Helper()
		j, err := c.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{
			Job:        &schedulerpb.Job{Name: name, Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Headers: h}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.headers"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return j.GetHttpTarget().GetHeaders()
	}
	ua := "Google-Cloud-Scheduler"
	sameHeaders(t, "merge", update(map[string]string{"C": "3", "a": "10"}), map[string]string{"User-Agent": ua, "a": "10", "B": "2", "C": "3"})
	sameHeaders(t, "clear", update(nil), map[string]string{"User-Agent": ua})
}
