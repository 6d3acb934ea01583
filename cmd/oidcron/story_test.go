package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestWalkthroughStory lives the README's walkthrough with the real binary:
// each command a subprocess of the built oidcron against a started `serve`,
// an in-test HTTP server as the function's code. It checks each command's
// key output and the job's recorded status after each run: 403 without a
// token, still 403 once the scheduler's service agent holds the invoker
// role, 200 once the job carries an invoker account's OIDC token.
func TestWalkthroughStory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p, up, sh := startStory(t)

	const (
		fn  = "https://us-central1-demo-project.cloudfunctions.net/hello"
		sa  = "scheduler-invoker@demo-project.iam.gserviceaccount.com"
		loc = "--location=us-central1"
		// gcloud's notice when update and run find the location themselves.
		locWarning = `WARNING: We are using the App Engine app location (us-central1) as the default location. Please use the "--location" flag if you want to use a different location.`
	)

	// A function in front of the upstream, and a job calling it without a token.
	out, errOut := sh.ok("functions", "deploy", "hello", "--region=us-central1", "--upstream="+up.URL)
	wantContains(t, "deploy stdout", out, "url: "+fn+"\n", "OIDCRON_UPSTREAM: "+up.URL+"\n", "status: ACTIVE\n")
	wantContains(t, "deploy stderr", errOut, "WARNING: Function created with limited-access IAM policy.")
	out, errOut = sh.ok("scheduler", "jobs", "create", "http", "hello-job", loc, "--schedule=*/5 * * * *", "--uri="+fn, "--http-method=GET")
	if errOut != "" {
		t.Errorf("create stderr: %q", errOut)
	}
	wantContains(t, "create stdout", out, "uri: "+fn+"\n", "schedule: '*/5 * * * *'\n", "state: ENABLED\n")
	if strings.Contains(out, "oidcToken") {
		t.Errorf("the job has a token:\n%s", out)
	}
	if got := sh.latest(); got != "" {
		t.Fatalf("a new job has recorded attempts: %q", got)
	}

	// The doctor runs the job (--probe): 403, the broken link and its fix.
	out, _ = sh.ok("doctor", "job", "hello-job", loc, "--probe")
	wantLines(t, "doctor", out, `^FAIL  token `, `^        \$ oidcron iam service-accounts create scheduler-invoker `,
		`^        \$ oidcron scheduler jobs update http hello-job .*--oidc-service-account-email=`+regexp.QuoteMeta(sa),
		`^FAIL  gateway `, `^Predicted: 403 PERMISSION_DENIED`, `^Probe: .* got 403 PERMISSION_DENIED; as predicted`)
	sh.waitAttempts(1) // the probe's
	sh.wantStatus("after the doctor's probe", "403\tPERMISSION_DENIED", 7)
	if n := up.count(); n != 0 {
		t.Fatalf("the function was called %d time(s) without a token", n)
	}

	// The usual advice: the service agent and the invoker role.
	out, _ = sh.ok("projects", "describe", "demo-project", "--format=value(projectNumber)")
	num := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9]{12}$`).MatchString(num) {
		t.Fatalf("projectNumber: %q", out)
	}
	agent := "service-" + num + "@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
	out, _ = sh.ok("projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members", "--format=table(bindings.role, bindings.members)")
	if first, _, _ := strings.Cut(out, "\n"); !slices.Equal(strings.Fields(first), []string{"ROLE", "MEMBERS"}) {
		t.Errorf("policy table header: %q", first)
	}
	var grep []string // | grep cloudscheduler
	for l := range strings.Lines(out) {
		if strings.Contains(l, "cloudscheduler") {
			grep = append(grep, strings.Join(strings.Fields(l), " "))
		}
	}
	if want := []string{"roles/cloudscheduler.serviceAgent serviceAccount:" + agent}; !slices.Equal(grep, want) {
		t.Errorf("| grep cloudscheduler: %q, want %q", grep, want)
	}
	out, _ = sh.ok("functions", "add-iam-policy-binding", "hello", "--region=us-central1",
		"--member=serviceAccount:"+agent, "--role=roles/cloudfunctions.invoker")
	wantContains(t, "functions add-iam-policy-binding", out, "  - serviceAccount:"+agent+"\n  role: roles/cloudfunctions.invoker\n")

	// ... changes nothing: the job sends no token at all.
	_, errOut = sh.ok("scheduler", "jobs", "run", "hello-job")
	wantContains(t, "run stderr", errOut, locWarning)
	sh.waitAttempts(2)
	sh.wantStatus("after granting the service agent the invoker role", "403\tPERMISSION_DENIED", 7)
	if n := up.count(); n != 0 {
		t.Fatalf("the function was called %d time(s) without a token", n)
	}

	// What does fix it.
	_, errOut = sh.ok("iam", "service-accounts", "create", "scheduler-invoker", "--display-name", "Scheduler Invoker")
	if errOut != "Created service account [scheduler-invoker].\n" {
		t.Errorf("service-accounts create stderr: %q", errOut)
	}
	out, errOut = sh.ok("projects", "add-iam-policy-binding", "demo-project", "--member=serviceAccount:"+sa, "--role=roles/cloudfunctions.invoker")
	wantContains(t, "projects add-iam-policy-binding stderr", errOut, "Updated IAM policy for project [demo-project].")
	wantContains(t, "projects add-iam-policy-binding", out, "  - serviceAccount:"+sa+"\n  role: roles/cloudfunctions.invoker\n")
	out, errOut = sh.ok("scheduler", "jobs", "update", "http", "hello-job", "--schedule=*/5 * * * *", "--uri="+fn, "--http-method=GET",
		"--oidc-service-account-email="+sa, "--oidc-token-audience="+fn)
	if errOut != locWarning+"\n" && errOut != locWarning {
		t.Errorf("update stderr: %q", errOut)
	}
	wantContains(t, "update stdout", out, "  oidcToken:\n    audience: "+fn+"\n    serviceAccountEmail: "+sa+"\n")
	_, errOut = sh.ok("scheduler", "jobs", "run", "hello-job")
	wantContains(t, "run stderr", errOut, locWarning)
	sh.waitAttempts(3)
	sh.wantStatus("after the fix", "200\tOK", 0)

	// The function got the job's token: an ID token go-oidc verifies
	// through the issuer's discovery document.
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.api)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: fn})
	auth := up.lastAuth()
	idt, err := verifier.Verify(ctx, strings.TrimPrefix(auth, "Bearer "))
	if err != nil {
		t.Fatalf("the function's token (%q): %v", auth, err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != sa || !claims.EmailVerified || idt.Subject == "" {
		t.Fatalf("the function's token: %v %+v sub %q", err, claims, idt.Subject)
	}

	out, _ = sh.ok("doctor", "job", "hello-job", loc, "--probe")
	wantLines(t, "doctor after the fix", out, `^PASS  invoker `, `^WARN  agent-invoker `, `^PASS  gateway `,
		`^Predicted: 2xx`, `^Probe: .* got 200 OK; as predicted`)
	if regexp.MustCompile(`(?m)^FAIL`).MatchString(out) {
		t.Errorf("the doctor still fails a link after the fix:\n%s", out)
	}
	sh.waitAttempts(4)
	sh.wantStatus("after the doctor's second probe", "200\tOK", 0)

	out, _ = sh.ok("scheduler", "jobs", "executions", "hello-job", loc)
	rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(rows) < 5 || !slices.Equal(strings.Fields(rows[0]), []string{"SCHEDULE_TIME", "ATTEMPT", "START_TIME", "END_TIME", "HTTP_STATUS", "STATUS", "REASON"}) {
		t.Fatalf("executions:\n%s", out)
	}
	var statuses []string // newest first
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		statuses = append(statuses, f[4]+" "+f[5])
	}
	// Two 200s after two 403s (the schedule, every five minutes, may have
	// added a run with the outcome of its time).
	n200, n403 := 0, 0
	for _, st := range statuses {
		switch st {
		case "200 OK":
			n200++
		case "403 PERMISSION_DENIED":
			n403++
		}
	}
	if n200 < 2 || n403 < 2 || !slices.Equal(slices.Compact(slices.Clone(statuses)), []string{"200 OK", "403 PERMISSION_DENIED"}) {
		t.Errorf("executions, newest first: %q, want two 200 OK after two 403 PERMISSION_DENIED", statuses)
	}

	// The token is an ordinary OIDC token: mint one with Token Creator.
	_, errOut = sh.ok("iam", "service-accounts", "add-iam-policy-binding", sa, "--member=user:dev@oidcron.local", "--role=roles/iam.serviceAccountTokenCreator")
	wantContains(t, "service-accounts add-iam-policy-binding stderr", errOut, "Updated IAM policy for serviceAccount ["+sa+"].")
	out, _ = sh.ok("auth", "print-identity-token", "--impersonate-service-account="+sa, "--audiences="+fn)
	if idt, err := verifier.Verify(ctx, strings.TrimSpace(out)); err != nil || idt.Issuer != p.api {
		t.Fatalf("print-identity-token: %v %+v", err, idt)
	}
	resp, err := http.Get(p.api + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&disc); err != nil || disc.Issuer != p.api || disc.JWKSURI == "" {
		t.Fatalf("discovery: %v %+v", err, disc)
	}
}

// story runs client commands of the built binary against one server, as
// the walkthrough's second terminal does.
// startStory builds and starts the binary on a fresh data folder, with an
// upstream for a function and a story that follows hello-job's attempts
// in the server's log.
func startStory(t *testing.T) (*proc, *upstream, *story) {
	t.Helper()
	bin := buildBinary(t)
	attempts := make(chan string, 64) // the server's AttemptFinished log lines
	p := startServer(t, bin, filepath.Join(t.TempDir(), "data"), nil, func(line string) {
		if strings.Contains(line, "msg=AttemptFinished") && strings.Contains(line, "/jobs/hello-job") {
			attempts <- line
		}
	})
	return p, newUpstream(t), &story{t: t, bin: bin, api: p.api, attempts: attempts}
}

type story struct {
	t        *testing.T
	bin, api string
	attempts <-chan string
	seen     int
}

// run runs `oidcron ARGS...` with OIDCRON_ENDPOINT and OIDCRON_PROJECT
// set as in the walkthrough (and no other OIDCRON_ variable).
func (s *story) run(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound on a hang
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDCRON_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OIDCRON_ENDPOINT="+s.api, "OIDCRON_PROJECT=demo-project")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// ok runs a command that must succeed.
func (s *story) ok(args ...string) (stdout, stderr string) {
	s.t.Helper()
	o, e, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("oidcron %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, o, e)
	}
	return o, e
}

// waitAttempts waits until the server has logged at least n attempts of
// the job in all (its AttemptFinished entry follows the attempt's record,
// so the history has it from then on).
func (s *story) waitAttempts(n int) {
	s.t.Helper()
	deadline := time.After(20 * time.Second) // a bound on a hang
	for s.seen < n {
		select {
		case <-s.attempts:
			s.seen++
		case <-deadline:
			s.t.Fatalf("the server logged %d attempt(s) of the job, want %d", s.seen, n)
		}
	}
}

// latest is the newest recorded attempt's "HTTP_STATUS\tSTATUS" ("" for
// none), from `scheduler jobs executions`.
func (s *story) latest() string {
	s.t.Helper()
	out, _ := s.ok("scheduler", "jobs", "executions", "hello-job", "--location=us-central1", "--limit=1", "--format=value(httpStatus,status)")
	return strings.TrimSpace(out)
}

// wantStatus checks the job's recorded outcome: the newest attempt of its
// history and the status `describe` shows (code 0 for OK).
func (s *story) wantStatus(when, attempt string, code int) {
	s.t.Helper()
	if got := s.latest(); got != attempt {
		s.t.Fatalf("%s: the newest attempt is %q, want %q", when, got, attempt)
	}
	out, _ := s.ok("scheduler", "jobs", "describe", "hello-job", "--location=us-central1", "--format=json")
	var job struct {
		Status *struct {
			Code int `json:"code"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &job); err != nil || job.Status == nil || job.Status.Code != code {
		s.t.Fatalf("%s: describe's status: %v\n%s", when, err, out)
	}
}

// upstream is the function's code: it answers every request 200 and keeps
// the Authorization header it got.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		u.mu.Unlock()
		_, _ = w.Write([]byte("hello"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.auths)
}

func (u *upstream) lastAuth() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.auths) == 0 {
		return ""
	}
	return u.auths[len(u.auths)-1]
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// wantLines checks that each pattern matches some line of got.
func wantLines(t *testing.T, what, got string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(got) {
			t.Errorf("%s has no line matching %s:\n%s", what, p, got)
		}
	}
}
