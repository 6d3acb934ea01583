package scheduler

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
)

type seen struct {
	method, path, host string
	header             http.Header
	body               string
}

// recorder is a target that records each request and answers status.
func recorder(t *testing.T, status int) (*httptest.Server, chan seen) {
	ch := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- seen{r.Method, r.URL.RequestURI(), r.Host, r.Header.Clone(), string(b)}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

type staticCreds struct {
	value string
	err   error
}

func (c staticCreds) Authorization(context.Context, *schedulerpb.Job) (string, error) {
	return c.value, c.err
}

func target(name, uri string, m schedulerpb.HttpMethod, headers map[string]string, body string) *schedulerpb.Job {
	return &schedulerpb.Job{Name: name, Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
		Uri: uri, HttpMethod: m, Headers: headers, Body: []byte(body)}}}
}

func TestDispatcherSendsGooglesRequest(t *testing.T) {
	srv, reqs := recorder(t, http.StatusOK)
	st := time.Date(2026, 10, 16, 12, 0, 0, 0, time.FixedZone("PDT", -7*3600))
	job := target("projects/p/locations/us-central1/jobs/nightly", srv.URL+"/run?x=1", schedulerpb.HttpMethod_HTTP_METHOD_UNSPECIFIED,
		map[string]string{
			"User-Agent":               "curl",
			"Host":                     "evil.example",
			"Authorization":            "Basic job-secret",
			"X-Google-Thing":           "internal",
			"X-AppEngine-Country":      "ZZ",
			"X-CloudScheduler-JobName": "forged",
			"x-custom":                 "a, b",
		}, `{"k":1}`)
	d := &Dispatcher{Credentials: staticCreds{value: "Bearer tok"}, Clock: clock.NewFake(st)}
	out := d.Send(context.Background(), job, st)
	if out.Code != codes.OK || out.HTTPStatus != 200 || out.URL != srv.URL+"/run?x=1" {
		t.Fatalf("outcome %+v", out)
	}
	r := <-reqs
	want := map[string]string{
		"User-Agent":                    "Google-Cloud-Scheduler",
		"X-Cloudscheduler":              "true",
		"X-Cloudscheduler-Jobname":      "nightly",
		"X-Cloudscheduler-Scheduletime": "2026-10-16T19:00:00Z",
		"Content-Type":                  "application/octet-stream",
		"Authorization":                 "Bearer tok",
		"X-Custom":                      "a, b",
		"Content-Length":                "7",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"X-Google-Thing", "X-Appengine-Country"} {
		if r.header.Get(k) != "" {
			t.Errorf("%s was forwarded", k)
		}
	}
	if r.method != "POST" || r.path != "/run?x=1" || r.body != `{"k":1}` || r.host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("request %s %s host %s body %q", r.method, r.path, r.host, r.body)
	}
}

func TestDispatcherKeepsJobHeadersWithoutToken(t *testing.T) {
	srv, reqs := recorder(t, http.StatusNoContent)
	job := target("projects/p/locations/l/jobs/j", srv.URL, schedulerpb.HttpMethod_PUT,
		map[string]string{"Authorization": "Basic abc", "Content-Type": "application/json"}, `{}`)
	out := (&Dispatcher{Credentials: staticCreds{}}).Send(context.Background(), job, time.Unix(0, 0))
	r := <-reqs
	if out.Code != codes.OK || r.method != "PUT" || r.header.Get("Authorization") != "Basic abc" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%+v %s %v", out, r.method, r.header)
	}

	get := target("projects/p/locations/l/jobs/j", srv.URL, schedulerpb.HttpMethod_GET, nil, "")
	(&Dispatcher{}).Send(context.Background(), get, time.Unix(0, 0))
	r = <-reqs
	if r.method != "GET" || r.header.Get("Content-Type") != "" || r.header.Get("Authorization") != "" {
		t.Fatalf("GET: %s %v", r.method, r.header)
	}
}

func TestDispatcherStatusMapping(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if code == 403 {
			w.Header().Set(DenialReasonHeader, "no run.routes.invoke for sa@p.iam.gserviceaccount.com")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	for status, want := range map[int]codes.Code{
		200: codes.OK, 204: codes.OK, 400: codes.InvalidArgument, 401: codes.Unauthenticated,
		403: codes.PermissionDenied, 404: codes.NotFound, 409: codes.Aborted, 412: codes.FailedPrecondition,
		418: codes.FailedPrecondition, 429: codes.ResourceExhausted, 500: codes.Internal,
		501: codes.Unimplemented, 502: codes.Unavailable, 503: codes.Unavailable, 504: codes.Unavailable,
		505: codes.Internal, 304: codes.Unknown,
	} {
		job := target("projects/p/locations/l/jobs/j", srv.URL+"/?code="+strconv.Itoa(status), schedulerpb.HttpMethod_GET, nil, "")
		out := (&Dispatcher{}).Send(context.Background(), job, time.Unix(0, 0))
		if out.Code != want || out.HTTPStatus != int32(status) {
			t.Errorf("HTTP %d: %v (%d), want %v", status, out.Code, out.HTTPStatus, want)
		}
		if !strings.Contains(out.Message, "Original HTTP response code number = "+strconv.Itoa(status)) {
			t.Errorf("HTTP %d: message %q", status, out.Message)
		}
	}
	job := target("projects/p/locations/l/jobs/j", srv.URL+"/?code=403", schedulerpb.HttpMethod_GET, nil, "")
	out := (&Dispatcher{}).Send(context.Background(), job, time.Unix(0, 0))
	if want := "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403. Denial reason: no run.routes.invoke for sa@p.iam.gserviceaccount.com"; out.Message != want {
		t.Errorf("403 message %q", out.Message)
	}
}

func TestDispatcherFollowsRedirects(t *testing.T) {
	final, _ := recorder(t, http.StatusForbidden)
	ok, _ := recorder(t, http.StatusOK)
	for _, tc := range []struct {
		to   string
		want codes.Code
	}{{ok.URL, codes.OK}, {final.URL, codes.PermissionDenied}} {
		redir := httptest.NewServer(http.RedirectHandler(tc.to, http.StatusFound))
		out := (&Dispatcher{}).Send(context.Background(), target("projects/p/locations/l/jobs/j", redir.URL, schedulerpb.HttpMethod_POST, nil, ""), time.Unix(0, 0))
		redir.Close()
		if out.Code != tc.want {
			t.Errorf("redirect to %s: %+v", tc.to, out)
		}
	}
}

func TestDispatcherNoResponse(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	out := (&Dispatcher{}).Send(context.Background(), target("projects/p/locations/l/jobs/j", url, schedulerpb.HttpMethod_POST, nil, ""), time.Unix(0, 0))
	if out.Code != codes.Unavailable || out.HTTPStatus != 0 || !strings.HasPrefix(out.Message, "URL_UNREACHABLE") {
		t.Fatalf("%+v", out)
	}
}

func TestDispatcherCredentialsRefusalIsPermissionDenied(t *testing.T) {
	srv, reqs := recorder(t, http.StatusOK)
	d := &Dispatcher{Credentials: staticCreds{err: &Refusal{"The Cloud Scheduler service agent lacks iam.serviceAccounts.getOpenIdToken on sa@p.iam.gserviceaccount.com"}}}
	out := d.Send(context.Background(), target("projects/p/locations/l/jobs/j", srv.URL, schedulerpb.HttpMethod_POST, nil, ""), time.Unix(0, 0))
	if out.Code != codes.PermissionDenied || !strings.Contains(out.Message, "service agent") || !out.Sent.IsZero() {
		t.Fatalf("%+v", out)
	}
	if len(reqs) != 0 {
		t.Fatal("a request was sent without its token")
	}
}

// The attempt deadline runs on the injected clock: the target holds the
// request until the fake clock passes attempt_deadline.
func TestDispatcherAttemptDeadline(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer srv.Close()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	job := target("projects/p/locations/l/jobs/j", srv.URL, schedulerpb.HttpMethod_POST, nil, "")
	job.AttemptDeadline = durationpb.New(15 * time.Second)
	done := make(chan Outcome)
	go func() { done <- (&Dispatcher{Clock: clk}).Send(context.Background(), job, clk.Now()) }()
	<-arrived
	clk.Advance(14 * time.Second)
	select {
	case out := <-done:
		t.Fatalf("ended before the deadline: %+v", out)
	default:
	}
	clk.Advance(time.Second)
	out := <-done
	if out.Code != codes.DeadlineExceeded || !strings.Contains(out.Message, "15s") {
		t.Fatalf("%+v", out)
	}
}

// A denial header in Latin-1 (servers send what they like) must not make
// the outcome unstorable: the job's status is a protobuf string and
// PostgreSQL's text refuses invalid UTF-8, and an outcome the store refuses
// for good leaves its execution unfinished.
func TestDispatcherMessageIsValidText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[DenialReasonHeader] = []string{"caf\xe9 \xff"}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	job := target("projects/p/locations/l/jobs/j", srv.URL, schedulerpb.HttpMethod_GET, nil, "")
	out := (&Dispatcher{}).Send(context.Background(), job, time.Unix(0, 0))
	want := "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403. Denial reason: caf\uFFFD \uFFFD"
	if out.Message != want || !utf8.ValidString(out.Message) {
		t.Errorf("message %q, want %q", out.Message, want)
	}
	if got := cleanText("a\x00b\xc3"); got != "ab\uFFFD" {
		t.Errorf("cleanText = %q", got)
	}
}

// buildRequest fills the header map directly: every key must be in the
// canonical form Header.Set would give it, or Header.Get (the gateway,
// the transports) would not find it.
func TestBuildRequestHeaderKeysAreCanonical(t *testing.T) {
	job := target("projects/p/locations/l/jobs/j", "http://h.test/", schedulerpb.HttpMethod_POST,
		map[string]string{"x-custom": "1", "content-type": "text/plain", "X-CLOUDSCHEDULER-JOBNAME": "forged"}, "body")
	req, err := buildRequest(context.Background(), job, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for k := range req.Header {
		if k != http.CanonicalHeaderKey(k) {
			t.Errorf("header key %q is not canonical (%q)", k, http.CanonicalHeaderKey(k))
		}
	}
	for k, want := range map[string]string{"X-Custom": "1", "Content-Type": "text/plain", "X-CloudScheduler-JobName": "j",
		"X-CloudScheduler": "true", "User-Agent": "Google-Cloud-Scheduler", "X-CloudScheduler-ScheduleTime": "1970-01-01T00:00:00Z"} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	// A job's empty Content-Type is replaced, as Header.Get saw it before.
	job = target("projects/p/locations/l/jobs/j", "http://h.test/", schedulerpb.HttpMethod_POST, map[string]string{"Content-Type": ""}, "body")
	if req, err = buildRequest(context.Background(), job, time.Unix(0, 0)); err != nil || req.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("Content-Type %q (err %v), want application/octet-stream", req.Header.Get("Content-Type"), err)
	}
}
