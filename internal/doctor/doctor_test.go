package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"golang.org/x/oauth2"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	csv1 "google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
	runv2 "google.golang.org/api/run/v2"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/server"
)

// env is one real oidcron on loopback, driven through the official REST
// clients, with an upstream standing in for every function's code. Its
// requests carry token as a bearer ("" sends none: dev mode).
type env struct {
	t     *testing.T
	ctx   context.Context
	s     *server.Server
	api   string
	up    *httptest.Server
	token string
	cf    *cfv2.Service
	cf1   *cfv1.Service
	iam   *iamv1.Service
	crm   *crmv1.Service
	sch   *csv1.Service
	run   *runv2.Service
	creds *iamcredentials.Service
	seen  int
}

func start(t *testing.T, opts ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	e := &env{t: t, ctx: context.Background(), s: s, api: "http://" + s.Addrs.API, up: up}
	return e.as("")
}

// as returns the env acting with token.
func (e *env) as(token string) *env {
	c := &env{t: e.t, ctx: e.ctx, s: e.s, api: e.api, up: e.up, token: token}
	opts := []option.ClientOption{option.WithEndpoint(e.api + "/")}
	if token == "" {
		opts = append(opts, option.WithoutAuthentication())
	} else {
		opts = append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	}
	c.cf, _ = cfv2.NewService(e.ctx, opts...)
	c.cf1, _ = cfv1.NewService(e.ctx, opts...)
	c.iam, _ = iamv1.NewService(e.ctx, opts...)
	c.crm, _ = crmv1.NewService(e.ctx, opts...)
	c.sch, _ = csv1.NewService(e.ctx, opts...)
	c.run, _ = runv2.NewService(e.ctx, opts...)
	c.creds, _ = iamcredentials.NewService(e.ctx, opts...)
	return c
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// project is one case's world: a project with a function and an account.
type project struct {
	*env
	id, fn, url, sa string
}

func (e *env) project(id, gen string) *project {
	e.t.Helper()
	p := &project{env: e, id: id}
	op, err := e.cf.Projects.Locations.Functions.Create("projects/"+id+"/locations/us-central1", &cfv2.Function{
		Environment:   gen,
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": e.up.URL}},
	}).FunctionId("hello").Do()
	e.must(err)
	if !op.Done {
		e.t.Fatalf("deploy not done: %+v", op)
	}
	p.fn = "projects/" + id + "/locations/us-central1/functions/hello"
	p.url = "https://us-central1-" + id + ".cloudfunctions.net/hello"
	sa, err := e.iam.Projects.ServiceAccounts.Create("projects/"+id, &iamv1.CreateServiceAccountRequest{AccountId: "scheduler-invoker"}).Do()
	e.must(err)
	p.sa = sa.Email
	return p
}

func (p *project) function(name, gen string) string {
	op, err := p.cf.Projects.Locations.Functions.Create("projects/"+p.id+"/locations/us-central1", &cfv2.Function{
		Environment:   gen,
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": p.up.URL}},
	}).FunctionId(name).Do()
	p.must(err)
	if !op.Done {
		p.t.Fatalf("deploy not done: %+v", op)
	}
	return "https://us-central1-" + p.id + ".cloudfunctions.net/" + name
}

// grantInvoker grants the function's invoker role where its generation
// checks it.
func (p *project) grantInvoker(member string, gen2 bool) {
	p.t.Helper()
	if gen2 {
		svc := "projects/" + p.id + "/locations/us-central1/services/hello"
		pol, err := p.run.Projects.Locations.Services.GetIamPolicy(svc).Do()
		p.must(err)
		pol.Bindings = append(pol.Bindings, &runv2.GoogleIamV1Binding{Role: "roles/run.invoker", Members: []string{member}})
		_, err = p.run.Projects.Locations.Services.SetIamPolicy(svc, &runv2.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do()
		p.must(err)
		return
	}
	p.bindFunction("roles/cloudfunctions.invoker", member)
}

func (p *project) bindFunction(role, member string) {
	p.t.Helper()
	pol, err := p.cf1.Projects.Locations.Functions.GetIamPolicy(p.fn).Do()
	p.must(err)
	pol.Bindings = append(pol.Bindings, &cfv1.Binding{Role: role, Members: []string{member}})
	_, err = p.cf1.Projects.Locations.Functions.SetIamPolicy(p.fn, &cfv1.SetIamPolicyRequest{Policy: pol}).Do()
	p.must(err)
}

// agent is the project's Cloud Scheduler service agent.
func (p *project) agent() string {
	p.t.Helper()
	pr, err := p.crm.Projects.Get(p.id).Do()
	p.must(err)
	return fmt.Sprintf("service-%d@gcp-sa-cloudscheduler.iam.gserviceaccount.com", pr.ProjectNumber)
}

func (p *project) dropProjectRole(role string) {
	p.t.Helper()
	pol, err := p.crm.Projects.GetIamPolicy(p.id, &crmv1.GetIamPolicyRequest{}).Do()
	p.must(err)
	pol.Bindings = slices.DeleteFunc(pol.Bindings, func(b *crmv1.Binding) bool { return b.Role == role })
	_, err = p.crm.Projects.SetIamPolicy(p.id, &crmv1.SetIamPolicyRequest{Policy: pol}).Do()
	p.must(err)
}

// job creates job "j" with the target as given.
func (p *project) job(t *csv1.HttpTarget) string {
	p.t.Helper()
	t.HttpMethod = "GET"
	j, err := p.sch.Projects.Locations.Jobs.Create("projects/"+p.id+"/locations/us-central1", &csv1.Job{
		Name: "projects/" + p.id + "/locations/us-central1/jobs/j", Schedule: "*/5 * * * *", HttpTarget: t,
	}).Do()
	p.must(err)
	return j.Name
}

// call sends method to the doctor's endpoint for job with query, as e.
func (e *env) call(method, job, query string) (int, []byte) {
	e.t.Helper()
	u := e.api + "/oidcron/v1/" + job + ":diagnose"
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(method, u, nil)
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	e.must(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	e.must(err)
	return resp.StatusCode, b
}

func (e *env) diagnose(job string, probe bool) *doctor.Report {
	e.t.Helper()
	code, b := e.call("GET", job, "")
	if probe {
		code, b = e.call("POST", job, "probe=true")
	}
	if code != 200 {
		e.t.Fatalf("diagnose %s: %d %s", job, code, b)
	}
	var r doctor.Report
	e.must(json.Unmarshal(b, &r))
	return &r
}

func ids(r *doctor.Report, res doctor.Result) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Result == res {
			out = append(out, c.ID)
		}
	}
	return out
}

func text(r *doctor.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

type cause struct {
	name    string
	gen     string
	setup   func(p *project) string // returns the job name
	fail    []string
	warn    []string
	outcome string
	status  int
	want    map[string]string // check id -> text its detail contains
	fixes   []string          // substrings of the fix commands, in order
}

// Every cause the doctor knows, each built through the public API, each
// predicted, and each prediction checked against a real attempt (probe).
func TestDoctorCauses(t *testing.T) {
	e := start(t)
	for i, c := range doctorCauses {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			p := e.project(fmt.Sprintf("case-%02d", i), c.gen)
			job := c.setup(p)
			r := e.diagnose(job, true)
			out := text(r)
			if got := ids(r, doctor.Fail); !slices.Equal(got, c.fail) {
				t.Errorf("FAIL checks %q, want %q\n%s", got, c.fail, out)
			}
			if got := ids(r, doctor.Warn); !slices.Equal(got, c.warn) {
				t.Errorf("WARN checks %q, want %q\n%s", got, c.warn, out)
			}
			if r.Prediction.Outcome != c.outcome || r.Prediction.HTTPStatus != c.status {
				t.Errorf("prediction %+v, want %s %d\n%s", r.Prediction, c.outcome, c.status, out)
			}
			for id, s := range c.want {
				if ch := r.Check(id); ch == nil || !strings.Contains(ch.Detail, s) {
					t.Errorf("check %s: want %q in its detail\n%s", id, s, out)
				}
			}
			fixes := r.Fixes()
			if len(fixes) != len(c.fixes) {
				t.Errorf("fixes %q, want %d like %q", fixes, len(c.fixes), c.fixes)
			} else {
				for k, s := range c.fixes {
					if !strings.Contains(fixes[k], s) {
						t.Errorf("fix %d %q, want it to contain %q", k, fixes[k], s)
					}
				}
			}
			want := doctor.Match
			if c.outcome == doctor.Unknown {
				want = doctor.NoPrediction
			}
			if r.Probe == nil || r.Probe.Agreement != want {
				t.Errorf("probe %+v, want %s\n%s", r.Probe, want, out)
			}
		})
	}
}

func oidc(email, aud string) *csv1.OidcToken {
	return &csv1.OidcToken{ServiceAccountEmail: email, Audience: aud}
}

var doctorCauses = []cause{
	{
		name: "healthy",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
		},
		outcome: doctor.Allowed,
	},
	{
		name:    "no token on a private function",
		setup:   func(p *project) string { return p.job(&csv1.HttpTarget{Uri: p.url}) },
		fail:    []string{"token", "gateway"},
		outcome: doctor.Denied, status: 403,
		want:  map[string]string{"token": "sends no token", "gateway": "carries no Authorization header"},
		fixes: []string{"functions add-invoker-policy-binding hello --region=us-central1 --member=serviceAccount:scheduler-invoker@case-01.iam.gserviceaccount.com --project=case-01", "scheduler jobs update http j --location=us-central1 --project=case-01 --oidc-service-account-email=scheduler-invoker@case-01.iam.gserviceaccount.com --oidc-token-audience=https://us-central1-case-01.cloudfunctions.net/hello"},
	},
	{
		name: "invoker granted to the service agent",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.agent(), false)
			return p.job(&csv1.HttpTarget{Uri: p.url})
		},
		fail: []string{"token", "gateway"}, warn: []string{"agent-invoker"},
		outcome: doctor.Denied, status: 403,
		want:  map[string]string{"token": "does not change this", "agent-invoker": "helps nothing"},
		fixes: []string{"functions add-invoker-policy-binding", "scheduler jobs update http", "functions remove-iam-policy-binding hello --region=us-central1 --member=serviceAccount:service-"},
	},
	{
		name: "OAuth token sent to a function",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url, OauthToken: &csv1.OAuthToken{ServiceAccountEmail: p.sa}})
		},
		fail:    []string{"token", "gateway"},
		outcome: doctor.Denied, status: 401,
		want:  map[string]string{"token": "OAuth access token", "gateway": "not an ID token"},
		fixes: []string{"--oidc-service-account-email=scheduler-invoker@case-03.iam.gserviceaccount.com --oidc-token-audience=https://us-central1-case-03.cloudfunctions.net/hello"},
	},
	{
		name: "audience is the host only",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, "https://us-central1-"+p.id+".cloudfunctions.net")})
		},
		fail: []string{"audience", "gateway"}, outcome: doctor.Denied, status: 401,
		want:  map[string]string{"audience": "host only", "gateway": "aud"},
		fixes: []string{"--oidc-token-audience=https://us-central1-case-04.cloudfunctions.net/hello"},
	},
	{
		name: "audience defaulted to a uri with a query string",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url + "?full=1", OidcToken: oidc(p.sa, "")})
		},
		fail: []string{"audience", "gateway"}, outcome: doctor.Denied, status: 401,
		want:  map[string]string{"audience": "query string"},
		fixes: []string{"--oidc-token-audience=https://us-central1-case-05.cloudfunctions.net/hello"},
	},
	{
		name: "audience with a trailing slash",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url + "/", OidcToken: oidc(p.sa, "")})
		},
		fail: []string{"audience", "gateway"}, outcome: doctor.Denied, status: 401,
		want:  map[string]string{"audience": "trailing slash"},
		fixes: []string{"--oidc-token-audience=https://us-central1-case-06.cloudfunctions.net/hello"},
	},
	{
		name: "audience is another function's URL",
		setup: func(p *project) string {
			other := p.function("other", "")
			p.grantInvoker("serviceAccount:"+p.sa, false)
			return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, other)})
		},
		fail: []string{"audience", "gateway"}, outcome: doctor.Denied, status: 401,
		want:  map[string]string{"audience": "another function, other"},
		fixes: []string{"--oidc-token-audience=https://us-central1-case-07.cloudfunctions.net/hello"},
	},
	{
		name:  "account lacks the invoker role",
		setup: func(p *project) string { return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)}) },
		fail:  []string{"invoker", "gateway"}, outcome: doctor.Denied, status: 403,
		want:  map[string]string{"invoker": `lacks permission "cloudfunctions.functions.invoke"`},
		fixes: []string{"functions add-invoker-policy-binding hello --region=us-central1 --member=serviceAccount:scheduler-invoker@case-08.iam.gserviceaccount.com --project=case-08"},
	},
	{
		name: "cloudfunctions.invoker on a 2nd gen function",
		gen:  "GEN_2",
		setup: func(p *project) string {
			p.bindFunction("roles/cloudfunctions.invoker", "serviceAccount:"+p.sa)
			return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
		},
		fail: []string{"invoker", "gateway"}, outcome: doctor.Denied, status: 403,
		want:  map[string]string{"invoker": "a 2nd gen function checks run.routes.invoke"},
		fixes: []string{"functions add-invoker-policy-binding hello"},
	},
	{
		name: "disabled account",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			j := p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
			_, err := p.iam.Projects.ServiceAccounts.Disable("projects/"+p.id+"/serviceAccounts/"+p.sa, &iamv1.DisableServiceAccountRequest{}).Do()
			p.must(err)
			return j
		},
		fail: []string{"service-account"}, outcome: doctor.NotSent,
		want:  map[string]string{"service-account": "is disabled"},
		fixes: []string{"iam service-accounts enable scheduler-invoker@case-10.iam.gserviceaccount.com --project=case-10"},
	},
	{
		name: "deleted account",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			j := p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
			_, err := p.iam.Projects.ServiceAccounts.Delete("projects/" + p.id + "/serviceAccounts/" + p.sa).Do()
			p.must(err)
			return j
		},
		fail: []string{"service-account"}, outcome: doctor.NotSent,
		want:  map[string]string{"service-account": "was deleted", "invoker": "comes back with the undelete"},
		fixes: []string{"iam service-accounts undelete "},
	},
	{
		name: "service agent without its role",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			p.dropProjectRole("roles/cloudscheduler.serviceAgent")
			return p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
		},
		fail: []string{"service-agent"}, outcome: doctor.NotSent,
		want:  map[string]string{"service-agent": "cannot mint"},
		fixes: []string{"projects add-iam-policy-binding case-12 --member=serviceAccount:service-"},
	},
	{
		name: "paused job",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, false)
			j := p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
			_, err := p.sch.Projects.Locations.Jobs.Pause(j, &csv1.PauseJobRequest{}).Do()
			p.must(err)
			return j
		},
		warn: []string{"job"}, outcome: doctor.Allowed,
		fixes: []string{"scheduler jobs resume j --location=us-central1 --project=case-13"},
	},
	{
		name: "uri that is no function hosted here",
		setup: func(p *project) string {
			return p.job(&csv1.HttpTarget{Uri: p.up.URL + "/ping", OidcToken: oidc(p.sa, "")})
		},
		outcome: doctor.Unknown,
		want:    map[string]string{"target": "is not a function hosted by oidcron"},
	},
	{
		name: "public function without a token",
		setup: func(p *project) string {
			p.grantInvoker("allUsers", false)
			return p.job(&csv1.HttpTarget{Uri: p.url})
		},
		outcome: doctor.Allowed,
		want:    map[string]string{"access": "public"},
	},
	{
		name: "2nd gen function by the gateway's path form",
		gen:  "GEN_2",
		setup: func(p *project) string {
			p.grantInvoker("serviceAccount:"+p.sa, true)
			u := p.s.Addrs.GatewayURL + "/" + p.id + "/us-central1/hello"
			return p.job(&csv1.HttpTarget{Uri: u, OidcToken: oidc(p.sa, "")})
		},
		outcome: doctor.Allowed,
		want:    map[string]string{"target": "the gateway's path form"},
	},
}

// A schedule that does not fire when one thinks: the day-of-month and
// day-of-week OR rule, and a DST gap, each with the next five fire times.
func TestDoctorSchedule(t *testing.T) {
	e := start(t)
	p := e.project("sched", "")
	for _, c := range []struct{ schedule, zone, want string }{
		{"0 9 1 * MON", "Etc/UTC", "fires on every day matching EITHER one"},
		{"30 2 * * *", "America/New_York", "does not exist"},
		{"30 1 * * *", "America/New_York", "occurs twice"},
		{"*/10 2 * * *", "America/New_York", "does not exist"},
		{"0 1-3 * * *", "America/New_York", "does not exist"},
		{"every day 02:30", "America/New_York", "does not exist"},
		// Schedules that fire every hour or every few hours run through a
		// DST change as the clock does: nothing to warn about.
		{"*/5 * * * *", "America/New_York", ""},
		{"0 * * * *", "Europe/Berlin", ""},
		{"15 */2 * * *", "America/New_York", ""},
		{"0 0-23 * * *", "America/New_York", ""},
		{"every 5 minutes", "America/New_York", ""},
		{"every 2 hours from 01:00 to 05:00", "America/New_York", ""},
	} {
		_, err := p.sch.Projects.Locations.Jobs.Patch(p.job0(), &csv1.Job{Schedule: c.schedule, TimeZone: c.zone}).UpdateMask("schedule,timeZone").Do()
		p.must(err)
		r := e.diagnose(p.job0(), false)
		ch := r.Check("schedule")
		want := doctor.Warn
		if c.want == "" {
			want = doctor.Pass
		}
		if ch == nil || ch.Result != want || !strings.Contains(ch.Detail, c.want) || len(r.NextFires) != 5 || strings.Count(ch.Detail, ", ") < 4 {
			t.Errorf("%s in %s: %+v (next %v)", c.schedule, c.zone, ch, r.NextFires)
		}
	}
}

func (p *project) job0() string {
	name := "projects/" + p.id + "/locations/us-central1/jobs/j"
	if _, err := p.sch.Projects.Locations.Jobs.Get(name).Do(); err != nil {
		p.job(&csv1.HttpTarget{Uri: p.url})
	}
	return name
}

// setAccount rewrites the job's token as stored (the API refuses an account
// of another project, as Google does; a job from before the rule has one).
func (e *env) setAccount(name string, oauth bool, email string) {
	e.t.Helper()
	rec, err := e.s.Store.GetJob(e.ctx, name)
	e.must(err)
	t := rec.Job.GetHttpTarget()
	if oauth {
		t.AuthorizationHeader = &schedulerpb.HttpTarget_OauthToken{OauthToken: &schedulerpb.OAuthToken{ServiceAccountEmail: email}}
	} else {
		t.AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: email, Audience: t.GetOidcToken().GetAudience()}}
	}
	e.must(e.s.Store.UpdateJob(e.ctx, rec, rec.Version))
}

// An account from another project cannot be set through the API (Google
// refuses it too); a job stored with one, from before the rule, is caught.
// The fix is an account of the job's project, never a grant to the service
// agent in the other project; an OAuth token or an account that is no
// service account gets a fix too.
func TestDoctorAccountFromAnotherProject(t *testing.T) {
	e := start(t)
	p := e.project("home", "")
	q := e.project("away", "")
	p.grantInvoker("serviceAccount:"+q.sa, false)
	name := p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
	local := []string{
		"functions add-invoker-policy-binding hello --region=us-central1 --member=serviceAccount:scheduler-invoker@home.iam.gserviceaccount.com --project=home",
		"scheduler jobs update http j --location=us-central1 --project=home --oidc-service-account-email=scheduler-invoker@home.iam.gserviceaccount.com --oidc-token-audience=https://us-central1-home.cloudfunctions.net/hello",
	}
	for _, c := range []struct {
		name   string
		oauth  bool
		email  string
		detail string
		fail   []string
		fixes  []string
	}{
		{"OIDC", false, q.sa, "belongs to project away", []string{"service-account", "service-agent"}, local},
		{"OAuth", true, q.sa, "belongs to project away", []string{"token", "service-account", "service-agent"}, local},
		{"not a service account", false, "someone@example.com", "is not a service account's email", []string{"service-account"}, local},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.setAccount(name, c.oauth, c.email)
			r := e.diagnose(name, false)
			out := text(r)
			if ch := r.Check("service-account"); ch == nil || ch.Result != doctor.Fail || !strings.Contains(ch.Detail, c.detail) {
				t.Fatalf("service-account: %+v\n%s", ch, out)
			}
			if got := ids(r, doctor.Fail); !slices.Equal(got, c.fail) {
				t.Errorf("FAIL checks %q, want %q\n%s", got, c.fail, out)
			}
			if r.Prediction.Outcome != doctor.NotSent {
				t.Errorf("prediction %+v\n%s", r.Prediction, out)
			}
			if fixes := r.Fixes(); !slices.EqualFunc(fixes, c.fixes, func(f, want string) bool { return f == "oidcron "+want }) {
				t.Errorf("fixes %q, want %q\n%s", fixes, c.fixes, out)
			}
			if strings.Contains(out, "--role=roles/cloudscheduler.serviceAgent") {
				t.Errorf("a grant to the service agent in another project is offered:\n%s", out)
			}
		})
	}
}

// The account suggested for a tokenless job is one granted an invoker role
// directly, never one that holds the invoke permission through a broad role
// such as editor.
func TestDoctorSuggestsInvokerAccounts(t *testing.T) {
	e := start(t)
	p := e.project("suggest", "")
	deployer, err := e.iam.Projects.ServiceAccounts.Create("projects/suggest", &iamv1.CreateServiceAccountRequest{AccountId: "deployer"}).Do()
	p.must(err)
	p.bindProject("roles/editor", "serviceAccount:"+deployer.Email)
	name := p.job(&csv1.HttpTarget{Uri: p.url})
	r := e.diagnose(name, false)
	want := []string{
		"oidcron functions add-invoker-policy-binding hello --region=us-central1 --member=serviceAccount:scheduler-invoker@suggest.iam.gserviceaccount.com --project=suggest",
		"oidcron scheduler jobs update http j --location=us-central1 --project=suggest --oidc-service-account-email=scheduler-invoker@suggest.iam.gserviceaccount.com --oidc-token-audience=https://us-central1-suggest.cloudfunctions.net/hello",
	}
	if got := r.Check("token").Fix; !slices.Equal(got, want) {
		t.Errorf("with an editor account: fix %q, want %q", got, want)
	}
	// An account granted roles/cloudfunctions.invoker on the function is
	// the one to use, as it is.
	runner, err := e.iam.Projects.ServiceAccounts.Create("projects/suggest", &iamv1.CreateServiceAccountRequest{AccountId: "runner"}).Do()
	p.must(err)
	p.grantInvoker("serviceAccount:"+runner.Email, false)
	r = e.diagnose(name, false)
	want = []string{"oidcron scheduler jobs update http j --location=us-central1 --project=suggest --oidc-service-account-email=" + runner.Email + " --oidc-token-audience=https://us-central1-suggest.cloudfunctions.net/hello"}
	if got := r.Check("token").Fix; !slices.Equal(got, want) {
		t.Errorf("with an invoker account: fix %q, want %q", got, want)
	}
}

func (p *project) bindProject(role, member string) {
	p.t.Helper()
	pol, err := p.crm.Projects.GetIamPolicy(p.id, &crmv1.GetIamPolicyRequest{}).Do()
	p.must(err)
	pol.Bindings = append(pol.Bindings, &crmv1.Binding{Role: role, Members: []string{member}})
	_, err = p.crm.Projects.SetIamPolicy(p.id, &crmv1.SetIamPolicyRequest{Policy: pol}).Do()
	p.must(err)
}

// adminEnv starts a server with --require-auth and returns it acting as
// the installation's admin.
func adminEnv(t *testing.T) *env {
	t.Helper()
	fake := clock.NewFake(time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC))
	e := start(t, func(c *server.Config) { c.RequireAuth = true; c.Clock = fake })
	b, err := os.ReadFile(e.s.Addrs.AdminToken)
	e.must(err)
	return e.as(string(b))
}

// createProject creates a project as e (with --require-auth nothing is
// created on first reference).
func (e *env) createProject(id string) {
	e.t.Helper()
	_, err := e.crm.Projects.Create(&crmv1.Project{ProjectId: id}).Do()
	e.must(err)
}

// caller creates account id in p, gives it roles, and returns an env acting
// as it (with an ID token for the API, minted by the admin e).
func (e *env) caller(p *project, id string, roles ...string) *env {
	e.t.Helper()
	sa, err := e.iam.Projects.ServiceAccounts.Create("projects/"+p.id, &iamv1.CreateServiceAccountRequest{AccountId: id}).Do()
	e.must(err)
	p.bindProject("roles/iam.serviceAccountTokenCreator", "user:admin@oidcron.local")
	for _, r := range roles {
		p.bindProject(r, "serviceAccount:"+sa.Email)
	}
	tok, err := e.creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: e.s.Addrs.Issuer}).Do()
	e.must(err)
	return e.as(tok.Token)
}

// With --require-auth the diagnosis shows a caller only what it could read
// through the APIs. A caller holding only roles/cloudscheduler.viewer sees
// the job, not the function its uri names (here one of another project),
// not the account, not the policies, not a deleted account's unique id; and
// a function that does not exist reads exactly like one it may not see.
func TestDoctorRequireAuth(t *testing.T) {
	admin := adminEnv(t)
	admin.createProject("demo-project")
	admin.createProject("other-proj")
	demo := admin.project("demo-project", "")
	other := admin.project("other-proj", "")
	other.grantInvoker("serviceAccount:"+other.sa, false)
	gone, err := admin.iam.Projects.ServiceAccounts.Create("projects/demo-project", &iamv1.CreateServiceAccountRequest{AccountId: "gone-account"}).Do()
	admin.must(err)
	demo.grantInvoker("serviceAccount:"+gone.Email, false)

	jobs := "projects/demo-project/locations/us-central1/jobs/"
	create := func(id string, tgt *csv1.HttpTarget) {
		t.Helper()
		tgt.HttpMethod = "GET"
		_, err := admin.sch.Projects.Locations.Jobs.Create("projects/demo-project/locations/us-central1",
			&csv1.Job{Name: jobs + id, Schedule: "*/5 * * * *", HttpTarget: tgt}).Do()
		admin.must(err)
	}
	create("cross", &csv1.HttpTarget{Uri: other.url, OidcToken: oidc(demo.sa, other.url)})
	nope := "https://us-central1-other-proj.cloudfunctions.net/nope"
	create("crossnone", &csv1.HttpTarget{Uri: nope, OidcToken: oidc(demo.sa, nope)})
	create("local", &csv1.HttpTarget{Uri: demo.url})
	create("gone", &csv1.HttpTarget{Uri: demo.url, OidcToken: oidc(gone.Email, demo.url)})
	_, err = admin.iam.Projects.ServiceAccounts.Delete("projects/demo-project/serviceAccounts/" + gone.Email).Do()
	admin.must(err)

	// The admin sees everything: the setup holds what must not leak.
	if r := admin.diagnose(jobs+"cross", false); r.Target.Function != other.fn || r.Check("invoker").Result != doctor.Fail {
		t.Fatalf("admin, cross:\n%s", text(r))
	}
	if r := admin.diagnose(jobs+"gone", false); !strings.Contains(r.Check("service-account").Detail, "unique id") {
		t.Fatalf("admin, gone:\n%s", text(r))
	}

	viewer := admin.caller(demo, "viewer", "roles/cloudscheduler.viewer")
	viewer.t = t
	body := func(job string) string {
		t.Helper()
		code, b := viewer.call("GET", jobs+job, "")
		if code != 200 {
			t.Fatalf("viewer, %s: %d %s", job, code, b)
		}
		return string(b)
	}
	report := func(b string) *doctor.Report {
		var r doctor.Report
		viewer.must(json.Unmarshal([]byte(b), &r))
		return &r
	}
	leaks := []string{"GEN_1", "other-proj.iam.gserviceaccount.com", "allUsers", "granted by", "lacks permission", "roles/", "unique id", "uid", "add-invoker-policy-binding"}
	noLeak := func(job, b string, except ...string) {
		t.Helper()
		for _, l := range leaks {
			if slices.Contains(except, l) {
				continue
			}
			if strings.Contains(b, l) {
				t.Errorf("viewer, %s: the report shows %q:\n%s", job, l, b)
			}
		}
	}

	cross := body("cross")
	noLeak("cross", cross)
	r := report(cross)
	fnGet := "cannot judge: you lack cloudfunctions.functions.get on " + other.fn
	saGet := "cannot judge: you lack iam.serviceAccounts.get on projects/demo-project/serviceAccounts/" + demo.sa
	want := map[string]string{"target": fnGet, "access": fnGet, "service-account": saGet, "audience": fnGet, "invoker": fnGet, "gateway": saGet}
	for id, s := range want {
		if ch := r.Check(id); ch == nil || ch.Result != doctor.Skip || !strings.Contains(ch.Detail, s) {
			t.Errorf("viewer, cross: check %s: want SKIP with %q\n%s", id, s, text(r))
		}
	}
	if r.Target.Kind != doctor.TargetUnknown || r.Target.Function != "" || r.Prediction.Outcome != doctor.Unknown {
		t.Errorf("viewer, cross: target %+v, prediction %+v", r.Target, r.Prediction)
	}
	// A function that does not exist reads as one the caller may not see.
	none := body("crossnone")
	if strings.ReplaceAll(strings.ReplaceAll(none, "crossnone", "cross"), "/nope", "/hello") != cross {
		t.Errorf("viewer: a missing function reads unlike a hidden one:\n%s\n%s", none, cross)
	}

	g := body("gone")
	noLeak("gone", g)
	if ch := report(g).Check("service-account"); ch.Result != doctor.Skip || !strings.Contains(ch.Detail, "cannot judge: you lack iam.serviceAccounts.get on projects/demo-project/serviceAccounts/"+gone.Email) {
		t.Errorf("viewer, gone: %+v", ch)
	}

	l := body("local")
	noLeak("local", l)
	r = report(l)
	if ch := r.Check("token"); ch.Result != doctor.Skip || r.Prediction.Outcome != doctor.Unknown {
		t.Errorf("viewer, local:\n%s", text(r))
	}

	// With roles/cloudfunctions.viewer too, the function shows, its policy
	// does not.
	demo.bindProject("roles/cloudfunctions.viewer", "serviceAccount:viewer@demo-project.iam.gserviceaccount.com")
	l = body("local")
	noLeak("local", l, "GEN_1")
	r = report(l)
	pol := "cannot judge: you lack cloudfunctions.functions.getIamPolicy on " + demo.fn
	if r.Check("target").Result != doctor.Pass || r.Target.Function != demo.fn ||
		r.Check("access").Result != doctor.Skip || !strings.Contains(r.Check("access").Detail, pol) ||
		r.Check("token").Result != doctor.Skip || !strings.Contains(r.Check("token").Detail, pol) ||
		r.Prediction.Outcome != doctor.Unknown || r.Prediction.Reason != pol {
		t.Errorf("viewer with functions viewer, local:\n%s", text(r))
	}
}

// The endpoint needs cloudscheduler.jobs.get: a caller without it is denied
// alike whether the job exists or not; a job that does not exist is
// NOT_FOUND to one who has it. probe=true runs the job, so GET refuses it.
func TestDoctorEndpointErrors(t *testing.T) {
	admin := adminEnv(t)
	admin.createProject("acme-corp")
	p := admin.project("acme-corp", "")
	name := p.job(&csv1.HttpTarget{Uri: p.url})
	missing := "projects/acme-corp/locations/us-central1/jobs/nope"

	code, b := admin.as("").call("GET", name, "")
	if code != 401 {
		t.Fatalf("no token: %d %s", code, b)
	}
	code, _ = admin.as("not-a-token").call("GET", name, "")
	if code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	nobody := admin.caller(p, "nobody")
	nobody.t = t
	code, b = nobody.call("GET", name, "")
	code2, b2 := nobody.call("GET", missing, "")
	if code != 403 || !strings.Contains(string(b), "PERMISSION_DENIED") || code2 != 403 ||
		strings.ReplaceAll(string(b2), "/nope", "/j") != string(b) {
		t.Fatalf("without cloudscheduler.jobs.get: %d %s / %d %s", code, b, code2, b2)
	}
	code, b = admin.call("GET", missing, "")
	if code != 404 || !strings.Contains(string(b), "Job not found.") {
		t.Fatalf("missing job: %d %s", code, b)
	}

	// A viewer may diagnose, but not probe: that runs the job.
	viewer := admin.caller(p, "viewer", "roles/cloudscheduler.viewer")
	viewer.t = t
	if code, b = viewer.call("GET", name, ""); code != 200 {
		t.Fatalf("viewer: %d %s", code, b)
	}
	if code, b = viewer.call("POST", name, "probe=true"); code != 403 || !strings.Contains(string(b), "cloudscheduler.jobs.run") {
		t.Fatalf("viewer probe: %d %s", code, b)
	}

	for _, q := range []string{"probe=true", "probe=maybe"} {
		code, b = admin.call("GET", name, q)
		if code != 400 || !strings.Contains(string(b), "INVALID_ARGUMENT") || !strings.Contains(string(b), "probe") {
			t.Fatalf("GET ?%s: %d %s", q, code, b)
		}
	}
	if code, b = admin.call("GET", name, "probe=true"); !strings.Contains(string(b), "POST") {
		t.Fatalf("GET ?probe=true does not name the rule: %s", b)
	}
	// Nothing ran.
	at, err := http.NewRequest("GET", admin.api+"/oidcron/v1/"+name+"/attempts", nil)
	admin.must(err)
	at.Header.Set("Authorization", "Bearer "+admin.token)
	resp, err := http.DefaultClient.Do(at)
	admin.must(err)
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(hist), "scheduleTime") {
		t.Fatalf("attempts after a refused GET probe: %d %s", resp.StatusCode, hist)
	}
}
