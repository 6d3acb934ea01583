package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/googleapi"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

const parent = "projects/p1/locations/us-central1"

// discoveryOpts are the options of the google.golang.org/api clients: the
// endpoint is a base URL with a trailing slash.
func discoveryOpts(f *fixture, extra ...option.ClientOption) []option.ClientOption {
	return append([]option.ClientOption{option.WithEndpoint(f.ts.URL + "/")}, extra...)
}

func schedulerService(t *testing.T, f *fixture) *cloudscheduler.Service {
	t.Helper()
	svc, err := cloudscheduler.NewService(context.Background(), discoveryOpts(f, option.WithoutAuthentication())...)
	must(t, err)
	return svc
}

func googleErr(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	return ge
}

func TestDiscoverySchedulerClient(t *testing.T) {
	f := newFixture(t)
	svc := schedulerService(t, f)
	jobs := svc.Projects.Locations.Jobs

	// Create: the body is the Job itself (body: "job").
	for _, id := range []string{"j1", "j2", "j3"} {
		got, err := jobs.Create(parent, &cloudscheduler.Job{
			Name:            parent + "/jobs/" + id,
			Schedule:        "*/5 * * * *",
			TimeZone:        "Etc/UTC",
			AttemptDeadline: "30s",
			HttpTarget: &cloudscheduler.HttpTarget{
				Uri: "http://127.0.0.1:9/hook", HttpMethod: "POST", Body: "aGVsbG8=",
				OidcToken: &cloudscheduler.OidcToken{ServiceAccountEmail: "sa@p1.iam.gserviceaccount.com"},
			},
		}).Do()
		must(t, err)
		if got.State != "ENABLED" || got.AttemptDeadline != "30s" || got.HttpTarget.HttpMethod != "POST" || got.HttpTarget.Body != "aGVsbG8=" {
			t.Fatalf("create returned %+v / %+v", got, got.HttpTarget)
		}
	}
	if c := f.lastCall(t); c.fullMethod != "/google.cloud.scheduler.v1.CloudScheduler/CreateJob" || c.streamMethod != c.fullMethod || !c.fromREST {
		t.Fatalf("interceptor saw %+v", c)
	}

	// Get.
	j, err := jobs.Get(parent + "/jobs/j2").Do()
	must(t, err)
	if j.Name != parent+"/jobs/j2" || j.HttpTarget.OidcToken.ServiceAccountEmail != "sa@p1.iam.gserviceaccount.com" {
		t.Fatalf("get returned %+v", j)
	}

	// List with pageSize/pageToken.
	page1, err := jobs.List(parent).PageSize(2).Do()
	must(t, err)
	if len(page1.Jobs) != 2 || page1.NextPageToken == "" {
		t.Fatalf("page 1: %d jobs, token %q", len(page1.Jobs), page1.NextPageToken)
	}
	page2, err := jobs.List(parent).PageSize(2).PageToken(page1.NextPageToken).Do()
	must(t, err)
	if len(page2.Jobs) != 1 || page2.Jobs[0].Name != parent+"/jobs/j3" || page2.NextPageToken != "" {
		t.Fatalf("page 2: %+v", page2)
	}
	var all []string
	must(t, jobs.List(parent).PageSize(1).Pages(context.Background(), func(r *cloudscheduler.ListJobsResponse) error {
		for _, j := range r.Jobs {
			all = append(all, j.Name)
		}
		return nil
	}))
	if len(all) != 3 {
		t.Fatalf("Pages saw %v", all)
	}

	// Patch with an updateMask in lowerCamelCase, as gcloud sends it; the
	// server must receive snake_case paths.
	patched, err := jobs.Patch(parent+"/jobs/j1", &cloudscheduler.Job{
		Schedule:   "0 * * * *",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: "http://127.0.0.1:9/other", HttpMethod: "GET"},
	}).UpdateMask("httpTarget.httpMethod,httpTarget.uri,schedule").Do()
	must(t, err)
	if want := []string{"http_target.http_method", "http_target.uri", "schedule"}; !reflect.DeepEqual(f.sched.lastMask, want) {
		t.Fatalf("server got mask %v, want %v", f.sched.lastMask, want)
	}
	if patched.Schedule != "0 * * * *" || patched.HttpTarget.Uri != "http://127.0.0.1:9/other" || patched.HttpTarget.HttpMethod != "GET" {
		t.Fatalf("patch returned %+v / %+v", patched, patched.HttpTarget)
	}

	// :pause and :run (verb suffix, body "*").
	p, err := jobs.Pause(parent+"/jobs/j1", &cloudscheduler.PauseJobRequest{}).Do()
	must(t, err)
	if p.State != "PAUSED" {
		t.Fatalf("pause: state %q", p.State)
	}
	_, err = jobs.Run(parent+"/jobs/j2", &cloudscheduler.RunJobRequest{}).Do()
	must(t, err)
	if got := f.sched.runs; len(got) != 1 || got[0] != parent+"/jobs/j2" {
		t.Fatalf("runs %v", got)
	}

	// Delete, then the 404 arrives as *googleapi.Error with the message.
	_, err = jobs.Delete(parent + "/jobs/j3").Do()
	must(t, err)
	_, err = jobs.Get(parent + "/jobs/j3").Do()
	ge := googleErr(t, err)
	if ge.Code != 404 || ge.Message != "Job not found: "+parent+"/jobs/j3." {
		t.Fatalf("404: code %d message %q", ge.Code, ge.Message)
	}

	// A method the server does not implement: 501 UNIMPLEMENTED.
	_, err = jobs.Resume(parent+"/jobs/j1", &cloudscheduler.ResumeJobRequest{}).Do()
	if ge := googleErr(t, err); ge.Code != 501 {
		t.Fatalf("resume: %v", err)
	}
}

func TestGapicRESTSchedulerClient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := scheduler.NewCloudSchedulerRESTClient(ctx, option.WithEndpoint(f.ts.URL), option.WithoutAuthentication())
	must(t, err)
	defer c.Close()

	for _, id := range []string{"a", "b", "c", "d", "e"} {
		_, err := c.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: &schedulerpb.Job{
			Name: parent + "/jobs/" + id, Schedule: "* * * * *",
			// HttpMethod goes on the wire as the number 2.
			Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://x", HttpMethod: schedulerpb.HttpMethod_POST}},
		}})
		must(t, err)
	}
	if got := f.sched.jobs[parent+"/jobs/a"].GetHttpTarget().GetHttpMethod(); got != schedulerpb.HttpMethod_POST {
		t.Fatalf("enum sent as a number decoded to %v", got)
	}
	if c := f.lastCall(t); c.md.Get("x-goog-request-params")[0] != "parent=projects%2Fp1%2Flocations%2Fus-central1" ||
		!strings.Contains(c.md.Get("x-goog-api-client")[0], "gapic/") {
		t.Fatalf("metadata %v", c.md)
	}

	j, err := c.GetJob(ctx, &schedulerpb.GetJobRequest{Name: parent + "/jobs/c"})
	must(t, err)
	if j.GetState() != schedulerpb.Job_ENABLED || j.GetHttpTarget().GetHttpMethod() != schedulerpb.HttpMethod_POST {
		t.Fatalf("get: %v", j)
	}

	it := c.ListJobs(ctx, &schedulerpb.ListJobsRequest{Parent: parent, PageSize: 2})
	var names []string
	for {
		j, err := it.Next()
		if err == iterator.Done {
			break
		}
		must(t, err)
		names = append(names, j.GetName())
	}
	if len(names) != 5 {
		t.Fatalf("listed %v", names)
	}

	up, err := c.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{
		Job:        &schedulerpb.Job{Name: parent + "/jobs/a", Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{HttpMethod: schedulerpb.HttpMethod_PUT}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.http_method"}},
	})
	must(t, err)
	if up.GetHttpTarget().GetHttpMethod() != schedulerpb.HttpMethod_PUT || !reflect.DeepEqual(f.sched.lastMask, []string{"http_target.http_method"}) {
		t.Fatalf("update: %v, mask %v", up, f.sched.lastMask)
	}

	must(t, c.DeleteJob(ctx, &schedulerpb.DeleteJobRequest{Name: parent + "/jobs/e"}))
	_, err = c.GetJob(ctx, &schedulerpb.GetJobRequest{Name: parent + "/jobs/e"})
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.GRPCStatus().Code() != codes.NotFound || ae.HTTPCode() != 404 {
		t.Fatalf("missing job: %v (%T)", err, err)
	}
	if status.Code(err) != codes.NotFound || ae.GRPCStatus().Message() != "Job not found: "+parent+"/jobs/e." {
		t.Fatalf("status %v", ae.GRPCStatus())
	}
	_, err = c.ResumeJob(ctx, &schedulerpb.ResumeJobRequest{Name: parent + "/jobs/a"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("resume: %v", err)
	}
}

func TestIAMCredentialsGenerateIdToken(t *testing.T) {
	f := newFixture(t)
	svc, err := iamcredentials.NewService(context.Background(), discoveryOpts(f, option.WithoutAuthentication())...)
	must(t, err)
	name := "projects/-/serviceAccounts/sa@p1.iam.gserviceaccount.com"
	resp, err := svc.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{
		Audience: "https://fn.example", IncludeEmail: true,
		Delegates: []string{"projects/-/serviceAccounts/d@p1.iam.gserviceaccount.com"},
	}).Do()
	must(t, err)
	if resp.Token != "tok|"+name+"|https://fn.example|true" {
		t.Fatalf("token %q", resp.Token)
	}
	if got := f.creds.last.GetDelegates(); len(got) != 1 || got[0] != "projects/-/serviceAccounts/d@p1.iam.gserviceaccount.com" {
		t.Fatalf("delegates %v", got)
	}
	if c := f.lastCall(t); c.fullMethod != "/google.iam.credentials.v1.IAMCredentials/GenerateIdToken" {
		t.Fatalf("routed to %s", c.fullMethod)
	}

	// The same call with the email percent-encoded, as some clients send it.
	req, _ := http.NewRequest("POST", f.ts.URL+"/v1/projects/-/serviceAccounts/sa%40p1.iam.gserviceaccount.com:generateIdToken", strings.NewReader(`{"audience":"aud2"}`))
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	must(t, googleapi.CheckResponse(res))
	res.Body.Close()
	if f.creds.last.GetName() != name || f.creds.last.GetAudience() != "aud2" {
		t.Fatalf("got %v", f.creds.last)
	}
}

func TestIAMServiceAccountGetIamPolicy(t *testing.T) {
	f := newFixture(t)
	svc, err := iamv1.NewService(context.Background(), discoveryOpts(f, option.WithoutAuthentication())...)
	must(t, err)
	res := "projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com"
	pol, err := svc.Projects.ServiceAccounts.GetIamPolicy(res).OptionsRequestedPolicyVersion(3).Do()
	must(t, err)
	if f.iam.last.GetResource() != res || f.iam.last.GetOptions().GetRequestedPolicyVersion() != 3 {
		t.Fatalf("server got %v", f.iam.last)
	}
	if pol.Version != 3 || pol.Etag != "djE=" || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/iam.serviceAccountUser" {
		t.Fatalf("policy %+v", pol)
	}
}

// TestAddRuleAlias drives the Resource Manager v1 client, as gcloud's
// `projects get-iam-policy` does, against the alias onto v3.
func TestAddRuleAlias(t *testing.T) {
	f := newFixture(t)
	svc, err := cloudresourcemanager.NewService(context.Background(), discoveryOpts(f, option.WithoutAuthentication())...)
	must(t, err)
	// Resource Manager v1 names a project by its id: /v1/projects/p1:getIamPolicy.
	pol, err := svc.Projects.GetIamPolicy("p1", &cloudresourcemanager.GetIamPolicyRequest{
		Options: &cloudresourcemanager.GetPolicyOptions{RequestedPolicyVersion: 3},
	}).Do()
	must(t, err)
	if f.projects.last.GetResource() != "projects/p1" || f.projects.last.GetOptions().GetRequestedPolicyVersion() != 3 {
		t.Fatalf("server got %v", f.projects.last)
	}
	if pol.Version != 3 || pol.Etag != "cDE=" || pol.Bindings[0].Members[0] != "user:owner@example.com" {
		t.Fatalf("policy %+v", pol)
	}
	if c := f.lastCall(t); c.fullMethod != "/google.cloud.resourcemanager.v3.Projects/GetIamPolicy" {
		t.Fatalf("routed to %s", c.fullMethod)
	}

	if err := f.tr.AddRule("/google.cloud.resourcemanager.v3.Projects/NoSuch", nil); err == nil {
		t.Fatal("AddRule accepted a nil rule")
	}
	if err := f.tr.AddRule("/no.Such/Method", ruleGet("/v1/x")); err == nil {
		t.Fatal("AddRule accepted an unregistered method")
	}
	if err := f.tr.AddRule("/google.cloud.resourcemanager.v3.Projects/GetProject", ruleGet("/v1/{nosuch=projects/*}")); err == nil {
		t.Fatal("AddRule accepted a variable naming no field")
	}
}

// TestAuthorizationReachesInterceptor: the bearer token a client sends is
// incoming metadata, and the interceptor's verdict is the HTTP answer.
func TestAuthorizationReachesInterceptor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, err := cloudscheduler.NewService(ctx, discoveryOpts(f,
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok1"})))...)
	must(t, err)
	_, err = svc.Projects.Locations.Jobs.List(parent).Do()
	must(t, err)
	c := f.lastCall(t)
	if got := c.md.Get("authorization"); len(got) != 1 || got[0] != "Bearer tok1" {
		t.Fatalf("authorization metadata %v", got)
	}
	if ua := c.md.Get("user-agent"); len(ua) == 0 || !strings.Contains(ua[0], "google-api-go-client") {
		t.Fatalf("user-agent metadata %v", ua)
	}
	if xg := c.md.Get("x-goog-api-client"); len(xg) == 0 || !strings.Contains(xg[0], "gdcl/") {
		t.Fatalf("x-goog-api-client metadata %v", xg)
	}

	bad, err := cloudscheduler.NewService(ctx, discoveryOpts(f,
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bad"})))...)
	must(t, err)
	_, err = bad.Projects.Locations.Jobs.List(parent).Do()
	if ge := googleErr(t, err); ge.Code != 401 || ge.Message != "Request had invalid authentication credentials." {
		t.Fatalf("bad token: %v", err)
	}

	gc, err := scheduler.NewCloudSchedulerRESTClient(ctx, option.WithEndpoint(f.ts.URL),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bad"})))
	must(t, err)
	defer gc.Close()
	_, err = gc.GetJob(ctx, &schedulerpb.GetJobRequest{Name: parent + "/jobs/x"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gapic bad token: %v", err)
	}
}

func TestUnknownQueryParameter(t *testing.T) {
	f := newFixture(t)
	svc := schedulerService(t, f)
	_, err := svc.Projects.Locations.Jobs.List(parent).Do(googleapi.QueryParameter("bogus", "1"))
	ge := googleErr(t, err)
	want := `Invalid JSON payload received. Unknown name "bogus": Cannot bind query parameter. Field 'bogus' could not be found in request message.`
	if ge.Code != 400 || ge.Message != want {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
	if len(ge.Details) != 1 || !strings.Contains(ge.Body, `"@type":"type.googleapis.com/google.rpc.BadRequest"`) {
		t.Fatalf("details %v body %s", ge.Details, ge.Body)
	}
	// A bad value names the field and its type, as Google does.
	_, err = svc.Projects.Locations.Jobs.List(parent).Do(googleapi.QueryParameter("pageSize", "two"))
	if ge := googleErr(t, err); ge.Code != 400 || ge.Message != `Invalid value at 'page_size' (TYPE_INT32), "two"` {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
}

func TestUnknownJSONField(t *testing.T) {
	f := newFixture(t)
	post := func(path, body string) *googleapi.Error {
		t.Helper()
		res, err := http.Post(f.ts.URL+path, "application/json", strings.NewReader(body))
		must(t, err)
		defer res.Body.Close()
		return googleErr(t, googleapi.CheckResponse(res))
	}
	ge := post("/v1/"+parent+"/jobs", `{"name":"`+parent+`/jobs/x","bogus":1,"httpTarget":{"uri":"http://x","nope":true}}`)
	want := "Invalid JSON payload received. Unknown name \"bogus\" at 'job': Cannot find field.\n" +
		"Invalid JSON payload received. Unknown name \"nope\" at 'job.http_target': Cannot find field."
	if ge.Code != 400 || ge.Message != want {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
	// body "*": unknown names at the top have no "at".
	ge = post("/v1/"+parent+"/jobs/x:run", `{"bogus":1}`)
	if ge.Code != 400 || ge.Message != `Invalid JSON payload received. Unknown name "bogus": Cannot find field.` {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
	// A value of the wrong type names where it is.
	ge = post("/v1/"+parent+"/jobs", `{"name":"`+parent+`/jobs/x","httpTarget":{"httpMethod":"FETCH"}}`)
	if ge.Code != 400 || ge.Message != `Invalid value at 'job.http_target.http_method' (type.googleapis.com/google.cloud.scheduler.v1.HttpMethod), "FETCH"` {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
	ge = post("/v1/"+parent+"/jobs", `{"name": `)
	if ge.Code != 400 || !strings.HasPrefix(ge.Message, "Invalid JSON payload received.") {
		t.Fatalf("got %d %q", ge.Code, ge.Message)
	}
}

func TestPrettyPrintAndEnumEncoding(t *testing.T) {
	f := newFixture(t)
	svc := schedulerService(t, f)
	_, err := svc.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{Name: parent + "/jobs/p", Schedule: "* * * * *"}).Do()
	must(t, err)
	get := func(query string) (string, http.Header) {
		t.Helper()
		res, err := http.Get(f.ts.URL + "/v1/" + parent + "/jobs/p" + query)
		must(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		must(t, err)
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, b)
		}
		return string(b), res.Header
	}
	body, h := get("")
	want := "{\n  \"name\": \"" + parent + "/jobs/p\",\n  \"schedule\": \"* * * * *\",\n  \"state\": \"ENABLED\"\n}\n"
	if body != want {
		t.Fatalf("pretty body %q, want %q", body, want)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Fatalf("content type %q", ct)
	}
	body, _ = get("?prettyPrint=false&alt=json")
	if body != `{"name":"`+parent+`/jobs/p","schedule":"* * * * *","state":"ENABLED"}` {
		t.Fatalf("compact body %q", body)
	}
	body, _ = get("?%24alt=json%3Benum-encoding%3Dint&prettyPrint=false")
	if !strings.Contains(body, `"state":1`) {
		t.Fatalf("enum-encoding=int body %q", body)
	}
	// Errors are pretty-printed too.
	res, err := http.Get(f.ts.URL + "/v1/" + parent + "/jobs/none")
	must(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want = "{\n  \"error\": {\n    \"code\": 404,\n    \"message\": \"Job not found: " + parent + "/jobs/none.\",\n    \"status\": \"NOT_FOUND\"\n  }\n}\n"
	if res.StatusCode != 404 || string(b) != want {
		t.Fatalf("error body %d %q", res.StatusCode, b)
	}
}

func TestNoRoute(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/nothing/here"},
		{"GET", "/v1/" + parent + "/jobs/j:run"},    // known path, wrong method
		{"PUT", "/v1/" + parent + "/jobs/j"},        // no PUT rule
		{"POST", "/v1/" + parent + "/jobs/j:fetch"}, // unknown verb
		{"GET", "/v1/" + parent + "/jobs/"},         // "*" never matches an empty segment
	} {
		req, _ := http.NewRequest(tc.method, f.ts.URL+tc.path, nil)
		if f.tr.Match(req) {
			t.Errorf("%s %s: Match = true", tc.method, tc.path)
		}
		res, err := http.DefaultClient.Do(req)
		must(t, err)
		ge := googleErr(t, googleapi.CheckResponse(res))
		res.Body.Close()
		if ge.Code != 404 || ge.Message != "The requested URL "+tc.path+" was not found on this server." {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, ge.Code, ge.Message)
		}
	}
	req, _ := http.NewRequest("POST", f.ts.URL+"/v1/"+parent+"/jobs/j:run", nil)
	if !f.tr.Match(req) {
		t.Error("Match = false for a routed request")
	}
}
