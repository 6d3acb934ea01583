package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/clock"
	sched "github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/server"
)

// schedNow is the fake clock's time in the scheduler tests: every time the
// server prints is derived from it, so outputs compare byte for byte.
var schedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// schedRequest is one request a command sent.
type schedRequest struct {
	Method, Path, Query, Body string
}

func (r schedRequest) String() string {
	s := r.Method + " " + r.Path
	if r.Query != "" {
		s += "?" + r.Query
	}
	return s
}

// schedRecorder is a RoundTripper that keeps every request (path, query
// and body) on its way to the server.
type schedRecorder struct {
	mu   sync.Mutex
	reqs []schedRequest
}

func (rec *schedRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = b
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, schedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)})
	rec.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests recorded since the last call, without the
// client libraries' own query parameters (alt=json, prettyPrint=false).
func (rec *schedRecorder) take() []schedRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	for i := range out {
		var keep []string
		for _, kv := range strings.Split(out[i].Query, "&") {
			if kv != "" && kv != "alt=json" && kv != "prettyPrint=false" {
				keep = append(keep, kv)
			}
		}
		out[i].Query = strings.Join(keep, "&")
	}
	return out
}

// schedEnv is a server with a fake clock and the engine's signals, and a
// way to run commands whose requests are recorded.
type schedEnv struct {
	*env
	clk *clock.Fake
	sig *sched.TestSignals
	rec *schedRecorder
}

func startSched(t *testing.T) *schedEnv {
	t.Helper()
	clk := clock.NewFake(schedNow)
	sig := sched.NewTestSignals(16)
	e := start(t, func(c *server.Config) { c.Clock = clk; c.SchedulerSignals = sig })
	return &schedEnv{env: e, clk: clk, sig: sig, rec: &schedRecorder{}}
}

// run is env.run with the recording client; OIDCRON_PROJECT is acme.
func (e *schedEnv) run(stdin string, args ...string) result {
	e.t.Helper()
	return e.runAs(false, stdin, args...)
}

// runAs runs a command, on a terminal (prompts are asked) if interactive.
func (e *schedEnv) runAs(interactive bool, stdin string, args ...string) result {
	e.t.Helper()
	g := cli.NewGlobals()
	g.Endpoint = e.api
	g.Project = "acme"
	g.AccessToken = ""
	g.Interactive = interactive
	g.HTTPClient = &http.Client{Transport: e.rec}
	var out, errb bytes.Buffer
	g.In, g.Out, g.Err = strings.NewReader(stdin), &out, &errb
	root := &cobra.Command{Use: "oidcron", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(root)
	root.AddCommand(cli.Commands(g)...)
	root.SetOut(&out)
	root.SetErr(&errb)
	_, err := cli.Execute(context.Background(), root, args)
	return result{out: out.String(), err: errb.String(), code: err}
}

func (e *schedEnv) ok(args ...string) result {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != nil {
		e.t.Fatalf("oidcron %s: %v\nstderr: %s", strings.Join(args, " "), r.code, r.err)
	}
	return r
}

// fails runs a command that must fail with exactly msg.
func (e *schedEnv) fails(msg string, args ...string) {
	e.t.Helper()
	r := e.run("", args...)
	if r.code == nil {
		e.t.Fatalf("oidcron %s succeeded; want error %q\nstdout: %s", strings.Join(args, " "), msg, r.out)
	}
	if r.code.Error() != msg {
		e.t.Fatalf("oidcron %s:\n got error %q\nwant error %q", strings.Join(args, " "), r.code.Error(), msg)
	}
}

// serviceAccount creates acme's account NAME through the IAM API.
func (e *schedEnv) serviceAccount(name string) string {
	e.t.Helper()
	svc, err := iam.NewService(context.Background(), option.WithEndpoint(e.api+"/"), option.WithoutAuthentication())
	if err != nil {
		e.t.Fatal(err)
	}
	sa, err := svc.Projects.ServiceAccounts.Create("projects/acme", &iam.CreateServiceAccountRequest{AccountId: name}).Do()
	if err != nil {
		e.t.Fatal(err)
	}
	return sa.Email
}

// jobJSON describes a job and decodes its JSON.
func (e *schedEnv) jobJSON(id string) map[string]any {
	e.t.Helper()
	r := e.ok("scheduler", "jobs", "describe", id, "--location", "us-central1", "--format", "json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.out), &m); err != nil {
		e.t.Fatalf("describe --format json: %v\n%s", err, r.out)
	}
	e.rec.take()
	return m
}

func schedSameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func schedSameRequests(t *testing.T, got []schedRequest, want ...string) {
	t.Helper()
	var g []string
	for _, r := range got {
		g = append(g, r.String())
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("requests:\n got %q\nwant %q", g, want)
	}
}

const schedFnURL = "https://us-central1-acme.cloudfunctions.net/hello"

// The create request is byte for byte gcloud's (gcloud-wire.md), and the
// command prints the created job as YAML after gcloud's status line.
func TestSchedulerCreateHTTP(t *testing.T) {
	e := startSched(t)
	r := e.ok("scheduler", "jobs", "create", "http", "j1", "--location", "us-central1",
		"--schedule", "*/5 * * * *", "--uri", schedFnURL, "--http-method", "GET")
	reqs := e.rec.take()
	schedSameRequests(t, reqs, "POST /v1/projects/acme/locations/us-central1/jobs")
	schedSameJSON(t, "create body", reqs[0].Body, `{"httpTarget":{"httpMethod":"GET","uri":"`+schedFnURL+`"},`+
		`"name":"projects/acme/locations/us-central1/jobs/j1",`+
		`"retryConfig":{"maxBackoffDuration":"3600s","maxDoublings":5,"minBackoffDuration":"5s","retryCount":0},`+
		`"schedule":"*/5 * * * *","timeZone":"Etc/UTC"}`)
	if r.err != "" {
		t.Errorf("stderr %q", r.err)
	}
	want := `attemptDeadline: 180s
httpTarget:
  headers:
    User-Agent: Google-Cloud-Scheduler
  httpMethod: GET
  uri: https://us-central1-acme.cloudfunctions.net/hello
name: projects/acme/locations/us-central1/jobs/j1
retryConfig:
  maxBackoffDuration: 3600s
  maxDoublings: 5
  maxRetryDuration: 0s
  minBackoffDuration: 5s
schedule: '*/5 * * * *'
scheduleTime: '2026-03-01T12:05:00Z'
state: ENABLED
timeZone: Etc/UTC
userUpdateTime: '2026-03-01T12:00:00Z'
`
	if r.out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.out, want)
	}

	// Every other flag, as gcloud sends them.
	sa := e.serviceAccount("invoker")
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("scheduler", "jobs", "create", "http", "projects/acme/locations/us-central1/jobs/j2",
		"--schedule", "0 9 * * 1", "--uri", "http://127.0.0.1:9/x", "--http-method", "put",
		"--headers", "Content-Type=application/json,X-Trace=1", "--message-body-from-file", body,
		"--oidc-service-account-email", sa, "--oidc-token-audience", "https://aud.example",
		"--time-zone", "Europe/Berlin", "--description", "weekly", "--attempt-deadline", "1m",
		"--max-retry-attempts", "3", "--max-retry-duration", "1h", "--min-backoff", "10s", "--max-backoff", "300s",
		"--max-doublings", "0")
	reqs = e.rec.take()
	schedSameRequests(t, reqs, "POST /v1/projects/acme/locations/us-central1/jobs")
	schedSameJSON(t, "create body", reqs[0].Body, `{"attemptDeadline":"60s","description":"weekly",`+
		`"httpTarget":{"body":"eyJhIjoxfQ==","headers":{"Content-Type":"application/json","X-Trace":"1"},"httpMethod":"PUT",`+
		`"oidcToken":{"audience":"https://aud.example","serviceAccountEmail":"`+sa+`"},"uri":"http://127.0.0.1:9/x"},`+
		`"name":"projects/acme/locations/us-central1/jobs/j2",`+
		`"retryConfig":{"maxBackoffDuration":"300s","maxDoublings":0,"maxRetryDuration":"3600s","minBackoffDuration":"10s","retryCount":3},`+
		`"schedule":"0 9 * * 1","timeZone":"Europe/Berlin"}`)
	e.ok("scheduler", "jobs", "create", "http", "j3", "--location", "us-central1", "--schedule", "* * * * *",
		"--uri", "http://127.0.0.1:9/y", "--oauth-service-account-email", sa, "--message-body", "hi")
	reqs = e.rec.take()
	schedSameJSON(t, "create body", reqs[0].Body, `{"httpTarget":{"body":"aGk=","httpMethod":"POST",`+
		`"oauthToken":{"serviceAccountEmail":"`+sa+`"},"uri":"http://127.0.0.1:9/y"},`+
		`"name":"projects/acme/locations/us-central1/jobs/j3",`+
		`"retryConfig":{"maxBackoffDuration":"3600s","maxDoublings":5,"minBackoffDuration":"5s","retryCount":0},`+
		`"schedule":"* * * * *","timeZone":"Etc/UTC"}`)
	// FileContents reads standard input for "-".
	if r := e.run("from stdin", "scheduler", "jobs", "create", "http", "j4", "--location", "us-central1", "--schedule", "* * * * *",
		"--uri", "http://127.0.0.1:9/y", "--message-body-from-file", "-"); r.code != nil {
		t.Fatalf("--message-body-from-file -: %v", r.code)
	}
	reqs = e.rec.take()
	schedSameJSON(t, "create body", reqs[0].Body, `{"httpTarget":{"body":"ZnJvbSBzdGRpbg==","httpMethod":"POST","uri":"http://127.0.0.1:9/y"},`+
		`"name":"projects/acme/locations/us-central1/jobs/j4",`+
		`"retryConfig":{"maxBackoffDuration":"3600s","maxDoublings":5,"minBackoffDuration":"5s","retryCount":0},`+
		`"schedule":"* * * * *","timeZone":"Etc/UTC"}`)

	// The server's error, as gcloud prints it.
	e.fails("ALREADY_EXISTS: Job projects/acme/locations/us-central1/jobs/j1 already exists.",
		"scheduler", "jobs", "create", "http", "j1", "--location", "us-central1", "--schedule", "* * * * *", "--uri", schedFnURL)
}

// Bad flags fail before any request, naming the flag.
func TestSchedulerHTTPFlagErrors(t *testing.T) {
	e := startSched(t)
	create := []string{"scheduler", "jobs", "create", "http", "j", "--location", "us-central1"}
	ok := append(create[:len(create):len(create)], "--schedule", "* * * * *", "--uri", schedFnURL)
	with := func(base []string, more ...string) []string { return append(base[:len(base):len(base)], more...) }
	update := []string{"scheduler", "jobs", "update", "http", "j", "--location", "us-central1"}
	cases := []struct {
		msg  string
		args []string
	}{
		{"argument --schedule --uri: Must be specified.", create},
		{"argument --uri: Must be specified.", with(create, "--schedule", "* * * * *")},
		{"argument (JOB : --location=LOCATION): Must be specified.", []string{"scheduler", "jobs", "create", "http", "--schedule", "* * * * *", "--uri", schedFnURL}},
		{"argument --location: JOB must be specified.", []string{"scheduler", "jobs", "create", "http", "--location", "us-central1"}},
		{"argument (JOB : --location=LOCATION) --schedule --uri: Must be specified.", []string{"scheduler", "jobs", "create", "http"}},
		{unrecognizedOne("extra"), with(ok, "extra")},
		{"argument --uri: Bad value [ftp://x]: Must be a valid HTTP or HTTPS URL.", with(create, "--schedule", "* * * * *", "--uri", "ftp://x")},
		{"argument --http-method: Invalid choice: 'patch'.\n\nValid choices are [delete, get, head, post, put].", with(ok, "--http-method", "patch")},
		// gcloud names the first given alternative in its (sorted) order.
		{"argument --message-body: At most one of --message-body | --message-body-from-file can be specified.",
			with(ok, "--message-body-from-file", "/etc/hostname", "--message-body", "x")},
		{"argument [--oauth-service-account-email : --oauth-token-scope]: At most one of [--oauth-service-account-email : --oauth-token-scope] | [--oidc-service-account-email : --oidc-token-audience] can be specified.",
			with(ok, "--oidc-service-account-email", "a@acme.iam.gserviceaccount.com", "--oauth-service-account-email", "a@acme.iam.gserviceaccount.com")},
		{"argument --oidc-token-audience: --oidc-service-account-email must be specified.", with(ok, "--oidc-token-audience", "https://a")},
		{"argument --oauth-token-scope: --oauth-service-account-email must be specified.", with(ok, "--oauth-token-scope", "s")},
		{"argument --max-doublings: invalid int value: 'many'", with(ok, "--max-doublings", "many")},
		// A bad value fails as the command line is read, before the groups.
		{"argument --max-doublings: invalid int value: 'many'", with(ok, "--message-body", "x", "--message-body-from-file", "/etc/hostname", "--max-doublings", "many")},
		{"argument --headers: Bad syntax for dict arg: [nope]. Please see `gcloud topic flags-file` or `gcloud topic escaping` for information on providing list or dictionary flag values with special characters.", with(ok, "--headers", "nope")},
		{"argument --headers: Invalid flag value [=1]", with(ok, "--headers", "=1")},
		{"argument --message-body-from-file: Unable to read file [/does/not/exist]: [Errno 2] No such file or directory: '/does/not/exist'", with(ok, "--message-body-from-file", "/does/not/exist")},
		{"argument --clear-headers: At most one of --clear-headers | --remove-headers --update-headers can be specified.",
			with(update, "--update-headers", "A=1", "--clear-headers")},
		{"argument --clear-auth-token: At most one of --clear-auth-token | [--oauth-service-account-email : --oauth-token-scope] | [--oidc-service-account-email : --oidc-token-audience] can be specified.",
			with(update, "--oidc-service-account-email", "a@b", "--clear-auth-token")},
		// The pair's own check comes before the group's.
		{"argument --oidc-token-audience: --oidc-service-account-email must be specified.", with(update, "--oidc-token-audience", "a", "--clear-auth-token")},
		{"argument --clear-message-body: At most one of --clear-message-body | --message-body | --message-body-from-file can be specified.",
			with(update, "--message-body", "x", "--clear-message-body")},
		{"argument --clear-time-zone: At most one of --clear-time-zone | --time-zone can be specified.",
			with(update, "--time-zone", "UTC", "--clear-time-zone")},
		{"argument --clear-message-body: At most one of --clear-message-body | --message-body | --message-body-from-file can be specified.",
			with(update, "--time-zone", "UTC", "--clear-time-zone", "--message-body", "x", "--clear-message-body")},
		{"argument --uri: Bad value [example.com]: Must be a valid HTTP or HTTPS URL.", with(update, "--uri", "example.com")},
		{"argument --location: JOB must be specified.", []string{"scheduler", "jobs", "describe", "--location", "us-central1"}},
		{"argument (JOB : --location=LOCATION): Must be specified.", []string{"scheduler", "jobs", "describe"}},
	}
	for _, c := range cases {
		e.fails(c.msg, c.args...)
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Fatalf("bad flags sent requests: %v", reqs)
	}
}

// The update mask holds exactly the flags given, sorted, in gcloud's
// camelCase; --clear-* flags clear; header edits keep the other headers.
func TestSchedulerUpdateHTTPMask(t *testing.T) {
	e := startSched(t)
	sa := e.serviceAccount("invoker")
	e.ok("scheduler", "jobs", "create", "http", "j", "--location", "us-central1", "--schedule", "* * * * *",
		"--uri", "http://127.0.0.1:9/x", "--headers", "X-A=1,X-B=2,X-C=3", "--message-body", "hi",
		"--oidc-service-account-email", sa, "--time-zone", "Europe/Berlin", "--max-doublings", "3", "--description", "d")
	e.rec.take()
	update := func(args ...string) []schedRequest {
		t.Helper()
		r := e.ok(append([]string{"scheduler", "jobs", "update", "http", "j", "--location", "us-central1"}, args...)...)
		if r.err != "" {
			t.Fatalf("stderr %q", r.err)
		}
		if !strings.Contains(r.out, "name: projects/acme/locations/us-central1/jobs/j\n") {
			t.Fatalf("stdout is not the job:\n%s", r.out)
		}
		return e.rec.take()
	}
	const patch = "PATCH /v1/projects/acme/locations/us-central1/jobs/j?updateMask="
	reqs := update("--max-retry-attempts=2")
	schedSameRequests(t, reqs, patch+"retryConfig.retryCount")
	schedSameJSON(t, "patch body", reqs[0].Body, `{"httpTarget":{},"name":"projects/acme/locations/us-central1/jobs/j","retryConfig":{"retryCount":2}}`)

	reqs = update("--clear-time-zone", "--clear-max-doublings", "--description=weekly", "--min-backoff=1m", "--attempt-deadline=20s")
	schedSameRequests(t, reqs, patch+"attemptDeadline%2Cdescription%2CretryConfig.maxDoublings%2CretryConfig.minBackoffDuration%2CtimeZone")
	j := e.jobJSON("j")
	rc := j["retryConfig"].(map[string]any)
	if _, tz := j["timeZone"]; tz || j["description"] != "weekly" || j["attemptDeadline"] != "20s" || rc["minBackoffDuration"] != "60s" || rc["maxDoublings"] != 5.0 {
		t.Fatalf("after update: %v", j)
	}

	// Headers: what gcloud sends, only the changes and a null for each
	// removed header; the server merges them into the job's.
	reqs = update("--update-headers", "X-A=10,X-D=4", "--remove-headers", "X-B")
	schedSameRequests(t, reqs, patch+"httpTarget.headers")
	schedSameJSON(t, "headers body", reqs[0].Body, `{"httpTarget":{"headers":{"X-A":"10","X-B":null,"X-D":"4"}},"name":"projects/acme/locations/us-central1/jobs/j"}`)
	headers := func() map[string]any {
		return e.jobJSON("j")["httpTarget"].(map[string]any)["headers"].(map[string]any)
	}
	want := map[string]any{"X-A": "10", "X-C": "3", "X-D": "4", "User-Agent": "Google-Cloud-Scheduler", "Content-Type": "application/octet-stream"}
	if h := headers(); !reflect.DeepEqual(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	reqs = update("--remove-headers", "x-c,Content-Type")
	schedSameJSON(t, "remove body", reqs[0].Body, `{"httpTarget":{"headers":{"Content-Type":null,"x-c":null}},"name":"projects/acme/locations/us-central1/jobs/j"}`)
	delete(want, "X-C")
	if h := headers(); !reflect.DeepEqual(h, want) { // the body keeps its default Content-Type
		t.Fatalf("headers %v, want %v", h, want)
	}
	reqs = update("--clear-headers", "--clear-message-body", "--http-method=get")
	schedSameRequests(t, reqs, patch+"httpTarget.body%2ChttpTarget.headers%2ChttpTarget.httpMethod")
	schedSameJSON(t, "clear body", reqs[0].Body, `{"httpTarget":{"httpMethod":"GET"},"name":"projects/acme/locations/us-central1/jobs/j"}`)
	if h := headers(); !reflect.DeepEqual(h, map[string]any{"User-Agent": "Google-Cloud-Scheduler"}) {
		t.Fatalf("headers after --clear-headers: %v", h)
	}
}

// The story's commands, verbatim: update without --location finds the
// location as gcloud does (App Engine app, then ListLocations), and run
// prints nothing.
func TestSchedulerStoryCommands(t *testing.T) {
	e := startSched(t)
	sa := e.serviceAccount("scheduler-invoker")
	if sa != "scheduler-invoker@acme.iam.gserviceaccount.com" {
		t.Fatalf("account %s", sa)
	}
	e.ok("scheduler", "jobs", "create", "http", "YOUR_JOB_NAME", "--location", "us-central1", "--schedule", "0 * * * *", "--uri", "http://127.0.0.1:9/x")
	e.rec.take()
	const warning = "WARNING: We are using the App Engine app location (us-central1) as the default location. " +
		"Please use the \"--location\" flag if you want to use a different location.\n"
	r := e.ok("scheduler", "jobs", "update", "http", "YOUR_JOB_NAME", "--schedule=*/5 * * * *",
		"--uri=https://us-central1-acme.cloudfunctions.net/hello", "--http-method=GET",
		"--oidc-service-account-email=scheduler-invoker@acme.iam.gserviceaccount.com",
		"--oidc-token-audience=https://us-central1-acme.cloudfunctions.net/hello")
	reqs := e.rec.take()
	schedSameRequests(t, reqs, "GET /v1/apps/acme", "GET /v1/projects/acme/locations?pageSize=2",
		"PATCH /v1/projects/acme/locations/us-central1/jobs/YOUR_JOB_NAME?updateMask="+
			"httpTarget.httpMethod%2ChttpTarget.oidcToken.audience%2ChttpTarget.oidcToken.serviceAccountEmail%2ChttpTarget.uri%2Cschedule")
	schedSameJSON(t, "patch body", reqs[2].Body, `{"httpTarget":{"httpMethod":"GET",`+
		`"oidcToken":{"audience":"https://us-central1-acme.cloudfunctions.net/hello","serviceAccountEmail":"scheduler-invoker@acme.iam.gserviceaccount.com"},`+
		`"uri":"https://us-central1-acme.cloudfunctions.net/hello"},"name":"projects/acme/locations/us-central1/jobs/YOUR_JOB_NAME","schedule":"*/5 * * * *"}`)
	if r.err != warning {
		t.Fatalf("stderr %q", r.err)
	}
	want := `attemptDeadline: 180s
httpTarget:
  headers:
    User-Agent: Google-Cloud-Scheduler
  httpMethod: GET
  oidcToken:
    audience: https://us-central1-acme.cloudfunctions.net/hello
    serviceAccountEmail: scheduler-invoker@acme.iam.gserviceaccount.com
  uri: https://us-central1-acme.cloudfunctions.net/hello
name: projects/acme/locations/us-central1/jobs/YOUR_JOB_NAME
retryConfig:
  maxBackoffDuration: 3600s
  maxDoublings: 5
  maxRetryDuration: 0s
  minBackoffDuration: 5s
schedule: '*/5 * * * *'
scheduleTime: '2026-03-01T12:05:00Z'
state: ENABLED
timeZone: Etc/UTC
userUpdateTime: '2026-03-01T12:00:00Z'
`
	if r.out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.out, want)
	}

	// --clear-auth-token masks all four token fields and removes the token.
	r = e.ok("scheduler", "jobs", "update", "http", "YOUR_JOB_NAME", "--clear-auth-token")
	schedSameRequests(t, e.rec.take(), "GET /v1/apps/acme", "GET /v1/projects/acme/locations?pageSize=2",
		"PATCH /v1/projects/acme/locations/us-central1/jobs/YOUR_JOB_NAME?updateMask="+
			"httpTarget.oauthToken.scope%2ChttpTarget.oauthToken.serviceAccountEmail%2ChttpTarget.oidcToken.audience%2ChttpTarget.oidcToken.serviceAccountEmail")
	if strings.Contains(r.out, "oidcToken") || strings.Contains(r.out, "oauthToken") {
		t.Fatalf("token kept:\n%s", r.out)
	}
}

// run without --location, then the attempt it made in the history.
func TestSchedulerRunAndExecutions(t *testing.T) {
	e := startSched(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusServiceUnavailable)
	}))
	defer up.Close()
	e.ok("scheduler", "jobs", "create", "http", "j", "--location", "us-central1", "--schedule", "0 * * * *", "--uri", up.URL+"/hook")
	e.rec.take()
	r := e.ok("scheduler", "jobs", "run", "j")
	schedSameRequests(t, e.rec.take(), "GET /v1/apps/acme", "GET /v1/projects/acme/locations?pageSize=2",
		"POST /v1/projects/acme/locations/us-central1/jobs/j:run")
	if r.out != "" || !strings.HasPrefix(r.err, "WARNING: We are using the App Engine app location (us-central1)") {
		t.Fatalf("run printed %q, stderr %q", r.out, r.err)
	}
	<-e.sig.ExecutionDone
	if err := e.s.Engine.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = e.ok("scheduler", "jobs", "executions", "projects/acme/locations/us-central1/jobs/j", "--limit", "5")
	schedSameRequests(t, e.rec.take(), "GET /oidcron/v1/projects/acme/locations/us-central1/jobs/j/attempts?pageSize=5")
	want := "SCHEDULE_TIME         ATTEMPT  START_TIME            END_TIME              HTTP_STATUS  STATUS       REASON\n" +
		"2026-03-01T12:00:00Z  1        2026-03-01T12:00:00Z  2026-03-01T12:00:00Z  503          UNAVAILABLE  URL_UNREACHABLE-UNREACHABLE_5xx. Original HTTP response code number = 503\n"
	if r.out != want {
		t.Errorf("executions:\n%q\nwant\n%q", r.out, want)
	}
	r = e.ok("scheduler", "jobs", "executions", "j", "--location", "us-central1", "--format", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got) != 1 || got[0]["httpStatus"] != 503.0 || got[0]["manual"] != true {
		t.Fatalf("executions json: %v\n%s", err, r.out)
	}
	e.fails("NOT_FOUND: Job not found.", "scheduler", "jobs", "executions", "nope", "--location", "us-central1")
	e.ok("scheduler", "jobs", "create", "http", "idle", "--location", "us-central1", "--schedule", "0 * * * *", "--uri", up.URL)
	r = e.ok("scheduler", "jobs", "executions", "idle", "--location", "us-central1")
	if r.out != "" || r.err != "Listed 0 items.\n" {
		t.Fatalf("no attempts: %q %q", r.out, r.err)
	}

	// A project without an App Engine app: gcloud's advice.
	e.fails("Please use the location flag to manually specify a location.", "scheduler", "jobs", "run", "j", "--project", "elsewhere")
}

// describe, list, pause, resume, delete and locations list.
func TestSchedulerJobCommands(t *testing.T) {
	e := startSched(t)
	e.ok("scheduler", "jobs", "create", "http", "a", "--location", "us-central1", "--schedule", "0 * * * *", "--uri", "http://127.0.0.1:9/a")
	e.ok("scheduler", "jobs", "create", "http", "b", "--location", "us-central1", "--schedule", "*/5 * * * *", "--uri", "http://127.0.0.1:9/b", "--time-zone", "Europe/Berlin")
	e.ok("scheduler", "jobs", "create", "http", "c", "--location", "europe-west1", "--schedule", "0 0 * * *", "--uri", "http://127.0.0.1:9/c")
	e.rec.take()

	r := e.ok("scheduler", "jobs", "list", "--location", "us-central1")
	want := "ID  LOCATION     SCHEDULE (TZ)                TARGET_TYPE  STATE\n" +
		"a   us-central1  0 * * * * (Etc/UTC)          HTTP         ENABLED\n" +
		"b   us-central1  */5 * * * * (Europe/Berlin)  HTTP         ENABLED\n"
	if r.out != want {
		t.Errorf("list:\n%s\nwant:\n%s", r.out, want)
	}
	schedSameRequests(t, e.rec.take(), "GET /v1/projects/acme/locations/us-central1/jobs")
	// --page-size pages the API's answer and not the output; --limit
	// alone leaves the page size to the service, as gcloud's declarative
	// list commands do.
	if r := e.ok("scheduler", "jobs", "list", "--location", "us-central1", "--page-size", "1"); r.out != want {
		t.Errorf("list --page-size 1:\n%s\nwant:\n%s", r.out, want)
	}
	reqs := e.rec.take()
	if len(reqs) != 2 || reqs[0].Query != "pageSize=1" || !strings.HasPrefix(reqs[1].Query, "pageSize=1&pageToken=") {
		t.Errorf("list --page-size 1 sent %v, want two pages of one", reqs)
	}
	e.ok("scheduler", "jobs", "list", "--location", "us-central1", "--limit", "1")
	schedSameRequests(t, e.rec.take(), "GET /v1/projects/acme/locations/us-central1/jobs")
	e.fails("argument --page-size: Value must be greater than or equal to 1; received: 0", "scheduler", "jobs", "list", "--location", "us-central1", "--page-size", "0")

	r = e.ok("scheduler", "jobs", "pause", "b", "--location", "us-central1")
	if r.out != "" || r.err != "Job has been paused.\n" {
		t.Fatalf("pause: %q %q", r.out, r.err)
	}
	schedSameRequests(t, e.rec.take(), "POST /v1/projects/acme/locations/us-central1/jobs/b:pause")
	e.fails("FAILED_PRECONDITION: A job must be in ENABLED state to be paused.", "scheduler", "jobs", "pause", "b", "--location", "us-central1")
	r = e.ok("scheduler", "jobs", "list") // the default location, found as gcloud finds it
	if !strings.Contains(r.out, "b   us-central1  */5 * * * * (Europe/Berlin)  HTTP         PAUSED\n") {
		t.Fatalf("list after pause:\n%s", r.out)
	}
	r = e.ok("scheduler", "jobs", "resume", "projects/acme/locations/us-central1/jobs/b")
	if r.out != "" || r.err != "Job has been resumed.\n" {
		t.Fatalf("resume: %q %q", r.out, r.err)
	}
	e.rec.take()

	r = e.ok("scheduler", "jobs", "describe", "c", "--location", "europe-west1", "--format", "value(httpTarget.uri)")
	if r.out != "http://127.0.0.1:9/c\n" {
		t.Fatalf("describe: %q", r.out)
	}
	e.fails("NOT_FOUND: Job not found.", "scheduler", "jobs", "describe", "zz", "--location", "europe-west1")
	e.rec.take()

	// gcloud's delete prompt reads stdin, terminal or not; "no" aborts, and
	// a script that gives no answer must say --quiet.
	const prompt = "You are about to delete job [c]\n\nDo you want to continue (Y/n)?  "
	for _, c := range []struct {
		interactive bool
		stdin, err  string
		code        error
	}{
		{true, "n\n", prompt + "\n", cli.ErrAborted},                                    // a terminal
		{false, "n\n", prompt + "\n", cli.ErrAborted},                                   // echo n |
		{false, "maybe\nNo\n", prompt + "Please enter 'y' or 'n':  \n", cli.ErrAborted}, // asked again
		{false, "", prompt + "\n", cli.ErrUnattended},                                   // </dev/null
	} {
		r = e.runAs(c.interactive, c.stdin, "scheduler", "jobs", "delete", "c", "--location", "europe-west1")
		if !errors.Is(r.code, c.code) || r.err != c.err {
			t.Fatalf("delete with %q: %v %q, want %v %q", c.stdin, r.code, r.err, c.code, c.err)
		}
		if reqs := e.rec.take(); len(reqs) != 0 {
			t.Fatalf("declined delete sent %v", reqs)
		}
	}
	r = e.run("y\n", "scheduler", "jobs", "delete", "c", "--location", "europe-west1")
	if r.code != nil || r.out != "" || r.err != prompt+"\nDeleted job [c].\n" {
		t.Fatalf("delete: %v %q %q", r.code, r.out, r.err)
	}
	schedSameRequests(t, e.rec.take(), "DELETE /v1/projects/acme/locations/europe-west1/jobs/c")
	e.ok("scheduler", "jobs", "create", "http", "c", "--location", "europe-west1", "--schedule", "* * * * *", "--uri", "http://127.0.0.1:9/c")
	e.rec.take()
	r = e.ok("scheduler", "jobs", "delete", "c", "--location", "europe-west1", "--quiet")
	if r.out != "" || r.err != "Deleted job [c].\n" {
		t.Fatalf("delete --quiet: %q %q", r.out, r.err)
	}
	schedSameRequests(t, e.rec.take(), "DELETE /v1/projects/acme/locations/europe-west1/jobs/c")
	r = e.ok("scheduler", "jobs", "list", "--location", "europe-west1")
	if r.out != "" || r.err != "Listed 0 items.\n" {
		t.Fatalf("empty list: %q %q", r.out, r.err)
	}
	// As gcloud: the status line says no record was printed (a filter may
	// leave none), and only when no --format was given.
	r = e.ok("scheduler", "jobs", "list", "--location", "us-central1", "--filter=name:nomatch")
	if r.out != "" || r.err != "Listed 0 items.\n" {
		t.Fatalf("nothing matched: %q %q", r.out, r.err)
	}
	r = e.ok("scheduler", "jobs", "list", "--location", "europe-west1", "--format=json")
	if r.out != "[]\n" || r.err != "" {
		t.Fatalf("empty list as JSON: %q %q", r.out, r.err)
	}

	r = e.ok("scheduler", "locations", "list", "--limit", "2")
	want = "NAME         FULL_NAME\n" +
		"us-central1  projects/acme/locations/us-central1\n" +
		"us-east1     projects/acme/locations/us-east1\n"
	if r.out != want {
		t.Errorf("locations:\n%s\nwant:\n%s", r.out, want)
	}
}

// What gcloud 528 does not check but sends: the server answers.
func TestSchedulerHTTPSentAsGcloud(t *testing.T) {
	e := startSched(t)
	ok := []string{"scheduler", "jobs", "create", "http", "j", "--location", "us-central1", "--schedule", "* * * * *", "--uri", schedFnURL}
	with := func(more ...string) []string { return append(ok[:len(ok):len(ok)], more...) }
	e.fails("INVALID_ARGUMENT: retry_config.retry_count: 6 is out of range: values greater than 5 and negative values are not allowed.", with("--max-retry-attempts", "6")...)
	e.fails("INVALID_ARGUMENT: retry_config.min_backoff_duration: must be a non-negative duration.", with("--min-backoff=-5s")...)
	e.fails("NOT_FOUND: The requested URL /v1/projects/acme/locations/us-central1/jobs/jobs/j was not found on this server.",
		"scheduler", "jobs", "describe", "jobs/j", "--location", "us-central1")
	e.rec.take()
	// Durations are gcloud's times.ParseDuration; its errors are raised
	// outside the command: "ERROR: (gcloud) ...", exit 1.
	for v, msg := range map[string]string{
		"5":   "Duration must end with time part character.",
		"1x":  "Unknown character 'X' in duration.",
		"abc": "Duration unit 'abc' must be preceded by a number.",
	} {
		r := e.run("", with("--min-backoff", v)...)
		if _, outside := errors.AsType[*cli.OutsideError](r.code); !outside || r.code.Error() != msg {
			t.Errorf("--min-backoff %s: %v (%T), want OutsideError %q", v, r.code, r.code, msg)
		}
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Fatalf("bad durations sent requests: %v", reqs)
	}
	e.ok(with("--min-backoff", "1.5s", "--max-backoff", "1h30m", "--attempt-deadline", "PT2M", "--max-retry-duration", "1d")...)
	reqs := e.rec.take()
	for _, want := range []string{`"minBackoffDuration":"1.5s"`, `"maxBackoffDuration":"5400s"`, `"attemptDeadline":"120s"`, `"maxRetryDuration":"86400s"`} {
		if !strings.Contains(reqs[0].Body, want) {
			t.Errorf("create body %s lacks %s", reqs[0].Body, want)
		}
	}
	// With no flag, gcloud 528 sends an empty updateMask.
	e.fails("INVALID_ARGUMENT: http_target.uri: required.", "scheduler", "jobs", "update", "http", "j", "--location", "us-central1")
	schedSameRequests(t, e.rec.take(), "PATCH /v1/projects/acme/locations/us-central1/jobs/j?updateMask=")
}
