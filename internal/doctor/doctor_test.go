package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	csv1 "google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	runv2 "google.golang.org/api/run/v2"

	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/server"
)

// env is one real oidcron on loopback, driven through the official REST
// clients, with an upstream standing in for every function's code.
type env struct {
	t    *testing.T
	ctx  context.Context
	s    *server.Server
	api  string
	up   *httptest.Server
	cf   *cfv2.Service
	cf1  *cfv1.Service
	iam  *iamv1.Service
	crm  *crmv1.Service
	sch  *csv1.Service
	run  *runv2.Service
	seen int
}

func start(t *testing.T) *env {
	t.Helper()
	s, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
	opts := []option.ClientOption{option.WithEndpoint(e.api + "/"), option.WithoutAuthentication()}
	e.cf, _ = cfv2.NewService(e.ctx, opts...)
	e.cf1, _ = cfv1.NewService(e.ctx, opts...)
	e.iam, _ = iamv1.NewService(e.ctx, opts...)
	e.crm, _ = crmv1.NewService(e.ctx, opts...)
	e.sch, _ = csv1.NewService(e.ctx, opts...)
	e.run, _ = runv2.NewService(e.ctx, opts...)
	return e
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

func (e *env) diagnose(job string, probe bool) *doctor.Report {
	e.t.Helper()
	u := e.api + "/oidcron/v1/" + job + ":diagnose"
	method := "GET"
	if probe {
		u, method = u+"?probe=true", "POST"
	}
	req, _ := http.NewRequest(method, u, nil)
	resp, err := http.DefaultClient.Do(req)
	e.must(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("diagnose %s: %d %s", job, resp.StatusCode, b)
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
	} {
		_, err := p.sch.Projects.Locations.Jobs.Patch(p.job0(), &csv1.Job{Schedule: c.schedule, TimeZone: c.zone}).UpdateMask("schedule,timeZone").Do()
		p.must(err)
		r := e.diagnose(p.job0(), false)
		ch := r.Check("schedule")
		if ch == nil || ch.Result != doctor.Warn || !strings.Contains(ch.Detail, c.want) || len(r.NextFires) != 5 {
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

// An account from another project cannot be set through the API (Google
// refuses it too); a job stored with one, from before the rule, is caught.
func TestDoctorAccountFromAnotherProject(t *testing.T) {
	e := start(t)
	p := e.project("home", "")
	q := e.project("away", "")
	p.grantInvoker("serviceAccount:"+q.sa, false)
	name := p.job(&csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, p.url)})
	rec, err := e.s.Store.GetJob(e.ctx, name)
	p.must(err)
	rec.Job.GetHttpTarget().GetOidcToken().ServiceAccountEmail = q.sa
	p.must(e.s.Store.UpdateJob(e.ctx, rec, rec.Version))
	r := e.diagnose(name, false)
	if ch := r.Check("service-account"); ch == nil || ch.Result != doctor.Fail || !strings.Contains(ch.Detail, "belongs to project away") {
		t.Fatalf("service-account: %+v\n%s", ch, text(r))
	}
	// The home project's agent has no role in the away project.
	if r.Check("service-agent").Result != doctor.Fail || r.Prediction.Outcome != doctor.NotSent {
		t.Fatalf("%s", text(r))
	}
}

// The endpoint needs cloudscheduler.jobs.get, and a job that does not exist
// is NOT_FOUND.
func TestDoctorEndpointErrors(t *testing.T) {
	e := start(t)
	e.project("acme", "")
	resp, err := http.Get(e.api + "/oidcron/v1/projects/acme/locations/us-central1/jobs/nope:diagnose")
	e.must(err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "Job not found.") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", e.api+"/oidcron/v1/projects/acme/locations/us-central1/jobs/nope:diagnose", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err = http.DefaultClient.Do(req)
	e.must(err)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
}
