package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/server"
)

// doctorWorld is one project set up as a user would, with the CLI: a
// function "hello" in us-central1 fronting an upstream, and the account
// scheduler-invoker.
type doctorWorld struct {
	e                  *env
	p, sa, url, up, fn string
}

func doctorStart(t *testing.T) *env {
	fake := clock.NewFake(time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)) // a Monday
	return start(t, func(c *server.Config) { c.Clock = fake })
}

func doctorUpstream(t *testing.T) string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	return up.URL
}

func newDoctorWorld(e *env, p, up string, gen2 bool) *doctorWorld {
	w := &doctorWorld{e: e, p: p, up: up, sa: "scheduler-invoker@" + p + ".iam.gserviceaccount.com",
		url: "https://us-central1-" + p + ".cloudfunctions.net/hello"}
	deploy := []string{"functions", "deploy", "hello", "--region=us-central1", "--upstream=" + up, "--project=" + p}
	if gen2 {
		deploy = append(deploy, "--gen2")
	}
	e.ok(deploy...)
	e.ok("iam", "service-accounts", "create", "scheduler-invoker", "--display-name=Scheduler Invoker", "--project="+p)
	return w
}

func (w *doctorWorld) job(flags ...string) {
	w.e.ok(append([]string{"scheduler", "jobs", "create", "http", "j", "--location=us-central1", "--project=" + w.p,
		"--schedule=*/5 * * * *", "--http-method=GET"}, flags...)...)
}

func (w *doctorWorld) agent() string {
	num := strings.TrimSpace(w.e.ok("projects", "describe", w.p, "--format=value(projectNumber)"))
	return "service-" + num + "@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
}

func (w *doctorWorld) grantInvoker() {
	w.e.ok("functions", "add-invoker-policy-binding", "hello", "--region=us-central1", "--member=serviceAccount:"+w.sa, "--project="+w.p)
}

func (w *doctorWorld) doctor(extra ...string) string {
	return w.e.ok(append([]string{"doctor", "job", "j", "--location=us-central1", "--project=" + w.p}, extra...)...)
}

func (w *doctorWorld) report(extra ...string) *doctor.Report {
	w.e.t.Helper()
	var r doctor.Report
	out := w.doctor(append([]string{"--format=json"}, extra...)...)
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		w.e.t.Fatalf("doctor --format json: %v\n%s", err, out)
	}
	return &r
}

// doctorLines returns the ids of the checks printed with result res.
func doctorLines(out, res string) []string {
	var ids []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, res+"  "); ok {
			ids = append(ids, strings.Fields(rest)[0])
		}
	}
	return ids
}

// doctorFixes returns the printed fix commands, in order, without repeats.
func doctorFixes(out string) []string {
	var fixes []string
	for _, l := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "$ "); ok && !slices.Contains(fixes, c) {
			fixes = append(fixes, c)
		}
	}
	return fixes
}

// shellWords splits a command line as sh does for plain words and single
// quotes (all the doctor prints).
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, c := range s {
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("\"\\$`*?[]&;|<>()", c):
			t.Fatalf("fix command needs a real shell: %s", s)
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote: %s", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

type doctorCase struct {
	name      string
	gen2      bool
	setup     func(w *doctorWorld)
	fail      []string
	warn      []string
	predicted string // prefix of the Predicted line
	account   string // the account id the fixes give the job, when they give one
}

// setAccount rewrites the job's token as stored: the API refuses an account
// of another project (as Google does), but a job from before the rule has
// one.
func (w *doctorWorld) setAccount(oauth bool, email string) {
	w.e.t.Helper()
	ctx := context.Background()
	name := "projects/" + w.p + "/locations/us-central1/jobs/j"
	rec, err := w.e.s.Store.GetJob(ctx, name)
	if err != nil {
		w.e.t.Fatal(err)
	}
	t := rec.Job.GetHttpTarget()
	if oauth {
		t.AuthorizationHeader = &schedulerpb.HttpTarget_OauthToken{OauthToken: &schedulerpb.OAuthToken{ServiceAccountEmail: email}}
	} else {
		t.AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: email, Audience: t.GetOidcToken().GetAudience()}}
	}
	if err := w.e.s.Store.UpdateJob(ctx, rec, rec.Version); err != nil {
		w.e.t.Fatal(err)
	}
}

// away sets up a second project beside w's, with its own scheduler-invoker,
// and returns that account's email.
func (w *doctorWorld) away() string {
	a := newDoctorWorld(w.e, w.p+"-away", w.up, false)
	return a.sa
}

var doctorCases = []doctorCase{
	{
		name:      "no token on a private function",
		setup:     func(w *doctorWorld) { w.job("--uri=" + w.url) },
		fail:      []string{"token", "gateway"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
	},
	{
		name: "invoker granted to the service agent instead of the job's account",
		setup: func(w *doctorWorld) {
			w.e.ok("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--project="+w.p,
				"--member=serviceAccount:"+w.agent(), "--role=roles/cloudfunctions.invoker")
			w.job("--uri=" + w.url)
		},
		fail:      []string{"token", "gateway"},
		warn:      []string{"agent-invoker"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
	},
	{
		name: "OAuth token sent to a function",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oauth-service-account-email="+w.sa)
		},
		fail:      []string{"token", "gateway"},
		predicted: "Predicted: 401 UNAUTHENTICATED",
	},
	{
		name: "audience is the host only",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience=https://us-central1-"+w.p+".cloudfunctions.net")
		},
		fail:      []string{"audience", "gateway"},
		predicted: "Predicted: 401 UNAUTHENTICATED",
	},
	{
		name: "audience defaulted to a uri with a query string",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url+"?verbose=1", "--oidc-service-account-email="+w.sa)
		},
		fail:      []string{"audience", "gateway"},
		predicted: "Predicted: 401 UNAUTHENTICATED",
	},
	{
		name: "audience with a trailing slash",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url+"/")
		},
		fail:      []string{"audience", "gateway"},
		predicted: "Predicted: 401 UNAUTHENTICATED",
	},
	{
		name: "audience is another function's URL",
		setup: func(w *doctorWorld) {
			w.e.ok("functions", "deploy", "other", "--region=us-central1", "--upstream="+w.up, "--project="+w.p)
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience=https://us-central1-"+w.p+".cloudfunctions.net/other")
		},
		fail:      []string{"audience", "gateway"},
		predicted: "Predicted: 401 UNAUTHENTICATED",
	},
	{
		name: "the job's account lacks the invoke permission",
		setup: func(w *doctorWorld) {
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
		},
		fail:      []string{"invoker", "gateway"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
	},
	{
		name: "roles/cloudfunctions.invoker on a 2nd gen function",
		gen2: true,
		setup: func(w *doctorWorld) {
			// Without a terminal, gcloud's add-iam-policy-binding also grants
			// roles/run.invoker on the service (its prompt's default); take
			// that back to leave the classic mistake alone.
			w.e.ok("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--project="+w.p,
				"--member=serviceAccount:"+w.sa, "--role=roles/cloudfunctions.invoker")
			w.e.ok("functions", "remove-invoker-policy-binding", "hello", "--region=us-central1", "--project="+w.p, "--member=serviceAccount:"+w.sa)
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
		},
		fail:      []string{"invoker", "gateway"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
	},
	{
		name: "disabled account",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.e.ok("iam", "service-accounts", "disable", w.sa, "--project="+w.p)
		},
		fail:      []string{"service-account"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
	},
	{
		name: "deleted account",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.e.ok("iam", "service-accounts", "delete", w.sa, "--project="+w.p, "--quiet")
		},
		fail:      []string{"service-account"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
	},
	{
		name: "the service agent without its role",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.e.ok("projects", "remove-iam-policy-binding", w.p, "--member=serviceAccount:"+w.agent(), "--role=roles/cloudscheduler.serviceAgent")
		},
		fail:      []string{"service-agent"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
	},
	{
		name: "an account holding invoke through a broad role is not the one suggested",
		setup: func(w *doctorWorld) {
			w.e.ok("iam", "service-accounts", "create", "deployer", "--project="+w.p)
			w.e.ok("projects", "add-iam-policy-binding", w.p, "--member=serviceAccount:deployer@"+w.p+".iam.gserviceaccount.com", "--role=roles/editor")
			w.job("--uri=" + w.url)
		},
		fail:      []string{"token", "gateway"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
		account:   "scheduler-invoker",
	},
	{
		name: "an account granted the invoker role is the one suggested",
		setup: func(w *doctorWorld) {
			w.e.ok("iam", "service-accounts", "create", "runner", "--project="+w.p)
			w.e.ok("functions", "add-invoker-policy-binding", "hello", "--region=us-central1", "--member=serviceAccount:runner@"+w.p+".iam.gserviceaccount.com", "--project="+w.p)
			w.job("--uri=" + w.url)
		},
		fail:      []string{"token", "gateway"},
		predicted: "Predicted: 403 PERMISSION_DENIED",
		account:   "runner",
	},
	{
		name: "an account from another project",
		setup: func(w *doctorWorld) {
			other := w.away()
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.setAccount(false, other)
		},
		fail:      []string{"service-account", "service-agent"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
		account:   "scheduler-invoker",
	},
	{
		name: "an OAuth token of an account from another project",
		setup: func(w *doctorWorld) {
			other := w.away()
			w.job("--uri="+w.url, "--oauth-service-account-email="+w.sa)
			w.setAccount(true, other)
		},
		fail:      []string{"token", "service-account", "service-agent"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
		account:   "scheduler-invoker",
	},
	{
		name: "an account that is no service account",
		setup: func(w *doctorWorld) {
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.setAccount(false, "someone@example.com")
		},
		fail:      []string{"service-account"},
		predicted: "Predicted: PERMISSION_DENIED, no request sent",
		account:   "scheduler-invoker",
	},
	{
		name: "paused job",
		setup: func(w *doctorWorld) {
			w.grantInvoker()
			w.job("--uri="+w.url, "--oidc-service-account-email="+w.sa, "--oidc-token-audience="+w.url)
			w.e.ok("scheduler", "jobs", "pause", "j", "--location=us-central1", "--project="+w.p)
		},
		warn:      []string{"job"},
		predicted: "Predicted: 2xx",
	},
}

// Each broken link, set up with the CLI: the doctor names it and predicts
// the outcome; running exactly the commands it prints repairs the chain,
// and the doctor then passes every link.
func TestDoctorFixCommandsRepair(t *testing.T) {
	e := doctorStart(t)
	up := doctorUpstream(t)
	for i, c := range doctorCases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			w := newDoctorWorld(e, fmt.Sprintf("doctor-%02d", i), up, c.gen2)
			c.setup(w)
			out := w.doctor()
			if got := doctorLines(out, "FAIL"); !slices.Equal(got, c.fail) {
				t.Errorf("FAIL lines %q, want %q\n%s", got, c.fail, out)
			}
			if got := doctorLines(out, "WARN"); !slices.Equal(got, c.warn) {
				t.Errorf("WARN lines %q, want %q\n%s", got, c.warn, out)
			}
			if !strings.Contains(out, "\n"+c.predicted) {
				t.Errorf("want %q\n%s", c.predicted, out)
			}
			fixes := doctorFixes(out)
			if len(fixes) == 0 {
				t.Fatalf("no fix printed\n%s", out)
			}
			if c.account != "" {
				for _, f := range fixes {
					if a, ok := strings.CutPrefix(f, "oidcron scheduler jobs update http j "); ok &&
						!strings.Contains(a, "-service-account-email="+c.account+"@"+w.p+".iam.gserviceaccount.com") {
						t.Errorf("the fix gives the job another account than %s: %s", c.account, f)
					}
					if strings.Contains(f, "--role=roles/cloudscheduler.serviceAgent") && !strings.Contains(f, "add-iam-policy-binding "+w.p+" ") {
						t.Errorf("a grant to the service agent in another project: %s", f)
					}
				}
			}
			for _, f := range fixes {
				words := shellWords(t, f)
				if words[0] != "oidcron" {
					t.Fatalf("fix %q", f)
				}
				if r := e.run("", words[1:]...); r.code != nil {
					t.Fatalf("fix %q: %v\n%s\ndiagnosis:\n%s", f, r.code, r.err, out)
				}
			}
			r := w.report()
			for _, ch := range r.Checks {
				if ch.Result == doctor.Fail || ch.Result == doctor.Warn {
					t.Errorf("after the fixes %q: %s %s: %s", fixes, ch.Result, ch.ID, ch.Detail)
				}
			}
			if r.Prediction.Outcome != doctor.Allowed {
				t.Errorf("after the fixes: predicted %+v", r.Prediction)
			}
		})
	}
}

// The human output of the classic case, byte for byte.
func TestDoctorOutput(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "shop", doctorUpstream(t), false)
	w.job("--uri=" + w.url)
	agent := w.agent()
	want := strings.NewReplacer("{AGENT}", agent, "{SA}", w.sa, "{URL}", w.url).Replace(`Diagnosis of projects/shop/locations/us-central1/jobs/j (the target is not called)
PASS  job              projects/shop/locations/us-central1/jobs/j is ENABLED
PASS  schedule         "*/5 * * * *" in Etc/UTC; next fires: Mon 2025-01-06 09:05 UTC, Mon 2025-01-06 09:10 UTC, Mon 2025-01-06 09:15 UTC, Mon 2025-01-06 09:20 UTC, Mon 2025-01-06 09:25 UTC
PASS  target           {URL} is function hello (1st gen) in us-central1 of project shop, by its canonical URL; it is served through oidcron's gateway
PASS  access           the function requires authentication: allUsers lacks cloudfunctions.functions.invoke on projects/shop/locations/us-central1/functions/hello, so a request needs an ID token of an account that holds it
FAIL  token            the job sends no token (it has no --oidc-service-account-email), and the function is private: a request without an Authorization header gets 403
        $ oidcron functions add-invoker-policy-binding hello --region=us-central1 --member=serviceAccount:{SA} --project=shop
        $ oidcron scheduler jobs update http j --location=us-central1 --project=shop --oidc-service-account-email={SA} --oidc-token-audience={URL}
SKIP  service-account  the job sends no token, so no account is involved
PASS  service-agent    the Cloud Scheduler service agent {AGENT} could mint tokens in shop (granted by roles/cloudscheduler.serviceAgent to serviceAccount:{AGENT} on projects/shop); this job asks for none
SKIP  audience         only an OIDC token has an audience
SKIP  invoker          the job sends no token, so there is no account whose permission could count (see token)
FAIL  gateway          the gateway answers 403: the request carries no Authorization header and projects/shop/locations/us-central1/functions/hello is not public (allUsers lacks cloudfunctions.functions.invoke)
Predicted: 403 PERMISSION_DENIED (the request carries no Authorization header and projects/shop/locations/us-central1/functions/hello is not public (allUsers lacks cloudfunctions.functions.invoke))
`)
	if got := w.doctor(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// --probe runs the job and reads its recorded attempt: 403 as predicted,
// then, after the printed fix, 200 as predicted.
func TestDoctorProbe(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "probe", doctorUpstream(t), false)
	w.job("--uri=" + w.url)
	out := w.doctor("--probe")
	if !strings.Contains(out, "\nPredicted: 403 PERMISSION_DENIED") ||
		!strings.Contains(out, "\nProbe: ran the job at 2025-01-06T09:00:00Z; its first attempt got 403 PERMISSION_DENIED; as predicted. Recorded: URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403.") {
		t.Fatalf("first probe:\n%s", out)
	}
	for _, f := range doctorFixes(out) {
		e.ok(shellWords(t, f)[1:]...)
	}
	r := w.report("--probe")
	if r.Prediction.Outcome != doctor.Allowed || r.Probe == nil || r.Probe.HTTPStatus != 200 || r.Probe.Code != "OK" || r.Probe.Agreement != doctor.Match {
		t.Fatalf("second probe: %+v %+v", r.Prediction, r.Probe)
	}
	// The history holds both runs.
	hist := e.ok("scheduler", "jobs", "executions", "j", "--location=us-central1", "--project=probe", "--format=value(httpStatus)")
	if hist != "200\n403\n" {
		t.Fatalf("executions: %q", hist)
	}
}

// A uri that is no function hosted here: the doctor says what it cannot
// judge and predicts nothing.
func TestDoctorExternalTarget(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "ext", doctorUpstream(t), false)
	w.job("--uri="+w.up+"/hook", "--oidc-service-account-email="+w.sa)
	out := w.doctor()
	if !strings.Contains(out, "\nSKIP  target           "+w.up+"/hook is not a function hosted by oidcron: only the minting of the job's token is checked, and nothing is predicted about the response\n") ||
		!strings.Contains(out, "\nPASS  service-agent ") ||
		!strings.Contains(out, "\nPredicted: unknown (the target is not hosted by oidcron; the job's token can be minted, and its answer is the target's own)\n") {
		t.Fatalf("%s", out)
	}
}

// A job calling an external target with the OAuth token of an account of
// another project: the fix swaps in an account of the job's project and
// keeps the token's kind.
func TestDoctorForeignAccountExternalTarget(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "extfor", doctorUpstream(t), false)
	w.job("--uri="+w.up+"/hook", "--oauth-service-account-email="+w.sa)
	w.setAccount(true, w.away())
	out := w.doctor()
	want := "oidcron scheduler jobs update http j --location=us-central1 --project=extfor --oauth-service-account-email=" + w.sa
	if got := doctorLines(out, "FAIL"); !slices.Equal(got, []string{"service-account", "service-agent"}) || !slices.Equal(doctorFixes(out), []string{want}) {
		t.Fatalf("FAIL %q, fixes %q, want [%s]\n%s", got, doctorFixes(out), want, out)
	}
	e.ok(shellWords(t, want)[1:]...)
	r := w.report()
	for _, ch := range r.Checks {
		if ch.Result == doctor.Fail || ch.Result == doctor.Warn {
			t.Errorf("after the fix: %s %s: %s", ch.Result, ch.ID, ch.Detail)
		}
	}
	if r.Prediction.Outcome != doctor.Unknown {
		t.Errorf("after the fix: predicted %+v", r.Prediction)
	}
}

// The doctor's GET never runs the job: ?probe=true is for POST (--probe).
func TestDoctorProbeNeedsPOST(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "getprobe", doctorUpstream(t), false)
	w.job("--uri=" + w.url)
	resp, err := http.Get(e.api + "/oidcron/v1/projects/getprobe/locations/us-central1/jobs/j:diagnose?probe=true")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "POST") {
		t.Fatalf("GET ?probe=true: %d %s", resp.StatusCode, b)
	}
	if hist := e.ok("scheduler", "jobs", "executions", "j", "--location=us-central1", "--project=getprobe", "--format=value(httpStatus)"); hist != "" {
		t.Fatalf("the job ran: %q", hist)
	}
}

func TestDoctorErrors(t *testing.T) {
	e := doctorStart(t)
	newDoctorWorld(e, "errs", doctorUpstream(t), false)
	r := e.run("", "doctor", "job", "nope", "--location=us-central1", "--project=errs")
	if r.code == nil || r.code.Error() != "NOT_FOUND: Job not found." {
		t.Fatalf("unknown job: %v", r.code)
	}
	r = e.run("", "doctor", "job", "--location=us-central1", "--project=errs")
	if r.code == nil || r.code.Error() != "argument --location: JOB must be specified." {
		t.Fatalf("no job: %v", r.code)
	}
}
