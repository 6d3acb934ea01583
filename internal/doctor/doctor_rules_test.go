package doctor_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	cfv2 "google.golang.org/api/cloudfunctions/v2"
	csv1 "google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/server"
	"github.com/oidcron/oidcron/internal/store"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// rulesEnv is a dev-mode server on a fake clock that is never advanced:
// no job fires on its schedule, so no request leaves the machine.
func rulesEnv(t *testing.T) *env {
	t.Helper()
	fake := clock.NewFake(time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC))
	return start(t, func(c *server.Config) { c.Clock = fake })
}

// namedJob creates job id in p with the target as given.
func (p *project) namedJob(id string, t *csv1.HttpTarget) string {
	p.t.Helper()
	t.HttpMethod = "GET"
	j, err := p.sch.Projects.Locations.Jobs.Create("projects/"+p.id+"/locations/us-central1", &csv1.Job{
		Name: "projects/" + p.id + "/locations/us-central1/jobs/" + id, Schedule: "*/5 * * * *", HttpTarget: t,
	}).Do()
	p.must(err)
	return j.Name
}

// Reference §8, row 2: an OAuth access token sent to a Cloud Run service or
// a Cloud Function gets 401, and so does an OIDC token sent to a
// *.googleapis.com API. For a target not hosted here the doctor judges the
// token kind by the uri's host: WARN, with the update that switches the
// job to the other kind.
func TestTokenKindMatchesTargetHost(t *testing.T) {
	e := rulesEnv(t)
	p := e.project("tokkind", "")
	for _, c := range []struct {
		id  string
		tgt *csv1.HttpTarget
		fix string // the flags of the update that switches the kind
	}{
		{"oauth-run", &csv1.HttpTarget{Uri: "https://report-abc123xyz-uc.a.run.app/",
			OauthToken: &csv1.OAuthToken{ServiceAccountEmail: p.sa}},
			"--oidc-service-account-email=" + p.sa + " --oidc-token-audience=https://report-abc123xyz-uc.a.run.app"},
		{"oauth-cf", &csv1.HttpTarget{Uri: "https://us-central1-tokkind.cloudfunctions.net/not-here",
			OauthToken: &csv1.OAuthToken{ServiceAccountEmail: p.sa}},
			"--oidc-service-account-email=" + p.sa + " --oidc-token-audience=https://us-central1-tokkind.cloudfunctions.net/not-here"},
		{"oidc-api", &csv1.HttpTarget{Uri: "https://run.googleapis.com/v2/projects/tokkind/locations/us-central1/jobs/etl:run",
			OidcToken: oidc(p.sa, "")}, "--oauth-service-account-email=" + p.sa},
	} {
		t.Run(c.id, func(t *testing.T) {
			e.t = t
			r := e.diagnose(p.namedJob(c.id, c.tgt), false)
			ch := r.Check("token")
			if ch == nil || ch.Result != doctor.Warn {
				t.Fatalf("%s to %s: token is %+v; Google answers 401 to this token kind at this host (reference §8)\n%s",
					c.id, c.tgt.Uri, ch, text(r))
			}
			if want := "oidcron scheduler jobs update http " + c.id + " --location=us-central1 --project=tokkind " + c.fix; !slices.Equal(ch.Fix, []string{want}) {
				t.Errorf("%s: fix %q, want [%s]", c.id, ch.Fix, want)
			}
		})
	}
}

// Only a gateway denial contradicts a prediction that the gateway lets the
// request through: a 401 or 403 recorded without the gateway's denial
// reason is the function's own status, which the prediction ("2xx ... the
// status is then the function's own") leaves to the function.
func TestProbeFunctionOwnDenialMatchesAllowed(t *testing.T) {
	r := &doctor.Report{Prediction: doctor.Prediction{Outcome: doctor.Allowed,
		Summary: "2xx (the request is allowed through the gateway; the status is then the function's own)"}}
	r.Compare(store.Attempt{
		Manual: true, Number: 1, HTTPStatus: 401, Code: 16,
		// What the dispatcher records for a 401 without the gateway's
		// X-Oidcron-Denial-Reason: the function itself refused.
		Message: "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 401",
	})
	if r.Probe.Agreement != doctor.Match {
		t.Errorf("the function's own 401 after the gateway allowed the request: agreement %s (%s)", r.Probe.Agreement, r.Probe.Summary)
	}
	// The same status with the gateway's denial reason is the gateway's.
	r.Compare(store.Attempt{
		Manual: true, Number: 1, HTTPStatus: 401, Code: 16,
		Message: "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 401. Denial reason: token rejected",
	})
	if r.Probe.Agreement != doctor.Mismatch {
		t.Errorf("the gateway's own 401 against a prediction of ALLOWED: agreement %s (%s)", r.Probe.Agreement, r.Probe.Summary)
	}
}

// A prediction that the gateway denies the request holds only for the
// gateway's own 401/403, which carries its reason (the gateway gives it to
// the dispatcher in every mode): the same status without one is the
// function's, the gateway having let the request through.
func TestProbeDeniedNeedsTheGatewaysReason(t *testing.T) {
	r := &doctor.Report{Prediction: doctor.Prediction{Outcome: doctor.Denied, HTTPStatus: 403,
		Summary: "403 PERMISSION_DENIED (the gateway refuses the request)"}}
	r.Compare(store.Attempt{
		Manual: true, Number: 1, HTTPStatus: 403, Code: 7,
		Message: "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403. Denial reason: no cloudfunctions.functions.invoke",
	})
	if r.Probe.Agreement != doctor.Match {
		t.Errorf("the gateway's 403: agreement %s (%s)", r.Probe.Agreement, r.Probe.Summary)
	}
	r.Compare(store.Attempt{
		Manual: true, Number: 1, HTTPStatus: 403, Code: 7,
		Message: "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403",
	})
	if r.Probe.Agreement != doctor.Mismatch || !strings.Contains(r.Probe.Summary, "the function itself answered 403") {
		t.Errorf("the function's own 403 against a prediction of DENIED: agreement %s (%s)", r.Probe.Agreement, r.Probe.Summary)
	}
}

// The doctor names the function a uri reaches after cleaning its path as
// the gateway does (gateway.CleanPath: "//hello" and "/x/../hello" reach
// hello), so the caller (here dev mode's owner, who may read everything) is
// asked for cloudfunctions.functions.get on that function, and the doctor
// predicts what the attempt gets: 401, its audience (defaulted to the uri)
// not being the function's URL.
func TestTargetPathCleanedAsGatewayResolves(t *testing.T) {
	e := rulesEnv(t)
	p := e.project("unclean", "")
	p.grantInvoker("serviceAccount:"+p.sa, false)
	for i, uri := range []string{
		"https://us-central1-unclean.cloudfunctions.net//hello",
		"https://us-central1-unclean.cloudfunctions.net/x/../hello",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e.t = t
			// probe: the job really runs (to the gateway on loopback), and its
			// recorded attempt shows what the gateway answers.
			r := e.diagnose(p.namedJob(fmt.Sprintf("u%d", i), &csv1.HttpTarget{Uri: uri, OidcToken: oidc(p.sa, "")}), true)
			out := text(r)
			if r.Probe == nil || r.Probe.HTTPStatus != 401 {
				t.Fatalf("setup: the attempt did not get the gateway's 401: %+v\n%s", r.Probe, out)
			}
			if strings.Contains(out, "cannot judge: you lack") {
				t.Errorf("%s: the owner is told it lacks a permission it holds:\n%s", uri, out)
			}
			if r.Prediction.Outcome != doctor.Denied || r.Prediction.HTTPStatus != 401 {
				t.Errorf("%s: prediction %+v; the gateway routes it to hello and answers 401 (audience)\n%s", uri, r.Prediction, out)
			}
		})
	}
}

// An audience the gateway routes to the function itself is explained by
// what differs from the function's URL: "a path after the function's name"
// only when it has one, else the scheme, the host or the path as written
// (the audience is compared as a string).
func TestAudienceProblemNamesTheDifference(t *testing.T) {
	e := rulesEnv(t)
	p := e.project("audname", "")
	p.grantInvoker("serviceAccount:"+p.sa, false)
	aud := "http://us-central1-audname.cloudfunctions.net/hello"
	r := e.diagnose(p.namedJob("scheme", &csv1.HttpTarget{Uri: p.url, OidcToken: oidc(p.sa, aud)}), false)
	ch := r.Check("audience")
	if ch == nil || ch.Result != doctor.Fail {
		t.Fatalf("audience %q: %+v\n%s", aud, ch, text(r))
	}
	if strings.Contains(ch.Detail, "path after the function's name") {
		t.Errorf("audience %q has no path after the function's name, yet: %s", aud, ch.Detail)
	}
	if !strings.Contains(ch.Detail, "its scheme is http, not https") {
		t.Errorf("audience %q: the scheme is not named: %s", aud, ch.Detail)
	}
}

// The same, end to end: a function whose own code refuses with 403 (it
// checks something of its own), reached with a token the gateway accepts:
// the probe's recorded attempt is the function's answer, as predicted.
func TestProbeFunctionOwnDenialMatchesAllowedEndToEnd(t *testing.T) {
	e := rulesEnv(t)
	p := e.project("own403", "")
	strict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "not on my list")
	}))
	t.Cleanup(strict.Close)
	op, err := p.cf.Projects.Locations.Functions.Create("projects/own403/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": strict.URL}},
	}).FunctionId("strict").Do()
	p.must(err)
	if !op.Done {
		t.Fatalf("deploy not done: %+v", op)
	}
	p.fn = "projects/own403/locations/us-central1/functions/strict"
	p.grantInvoker("serviceAccount:"+p.sa, false)
	url := "https://us-central1-own403.cloudfunctions.net/strict"
	r := e.diagnose(p.namedJob("j", &csv1.HttpTarget{Uri: url, OidcToken: oidc(p.sa, url)}), true)
	if r.Prediction.Outcome != doctor.Allowed || r.Probe == nil || r.Probe.HTTPStatus != 403 {
		t.Fatalf("setup: prediction %+v probe %+v\n%s", r.Prediction, r.Probe, text(r))
	}
	if r.Probe.Agreement != doctor.Match {
		t.Errorf("the gateway let the request through and the function answered 403 itself, yet: %s\n%s", r.Probe.Agreement, text(r))
	}
}

// Reference §5.5 (1) and §8 ("Creator lacks iam.serviceAccounts.actAs"):
// giving a job a token needs actAs on its account. A printed update that
// gives the job an account's token is preceded, for a caller who lacks
// actAs on it (here one who manages scheduler jobs, functions and service
// accounts, but is not Owner/Editor), by the grant of
// roles/iam.serviceAccountUser on the account to that caller; run in order
// by that caller, the update is accepted.
func TestFixGrantsActAsFirst(t *testing.T) {
	admin := adminEnv(t)
	admin.createProject("ops-project")
	p := admin.project("ops-project", "")
	name := p.job(&csv1.HttpTarget{Uri: p.url})
	ops := admin.caller(p, "ops-person", "roles/viewer", "roles/cloudscheduler.admin", "roles/cloudfunctions.admin", "roles/iam.serviceAccountAdmin")
	ops.t = t
	code, b := ops.call("GET", name, "")
	if code != 200 {
		t.Fatalf("diagnose as ops: %d %s", code, b)
	}
	var r doctor.Report
	ops.must(jsonUnmarshal(b, &r))
	fixes := r.Fixes()
	i := slices.IndexFunc(fixes, func(f string) bool { return strings.Contains(f, "scheduler jobs update http j ") })
	member := "serviceAccount:ops-person@ops-project.iam.gserviceaccount.com"
	grant := "oidcron iam service-accounts add-iam-policy-binding " + p.sa + " --member=" + member + " --role=roles/iam.serviceAccountUser --project=ops-project"
	if i < 1 || fixes[i-1] != grant {
		t.Fatalf("the job update is not preceded by %s\nfixes %q\n%s", grant, fixes, text(&r))
	}
	// The printed update, as gcloud sends it, by the caller the doctor
	// diagnosed for: refused before the grant, accepted after it.
	update := func() error {
		_, err := ops.sch.Projects.Locations.Jobs.Patch(name, &csv1.Job{HttpTarget: &csv1.HttpTarget{OidcToken: oidc(p.sa, p.url)}}).
			UpdateMask("httpTarget.oidcToken.audience,httpTarget.oidcToken.serviceAccountEmail").Do()
		return err
	}
	if err := update(); err == nil {
		t.Fatalf("setup: the update is accepted without actAs")
	}
	resource := "projects/ops-project/serviceAccounts/" + p.sa
	pol, err := ops.iam.Projects.ServiceAccounts.GetIamPolicy(resource).Do()
	ops.must(err)
	pol.Bindings = append(pol.Bindings, &iamv1.Binding{Role: "roles/iam.serviceAccountUser", Members: []string{member}})
	_, err = ops.iam.Projects.ServiceAccounts.SetIamPolicy(resource, &iamv1.SetIamPolicyRequest{Policy: pol}).Do()
	ops.must(err)
	if err := update(); err != nil {
		t.Errorf("after the printed grant, the printed update %q is still refused: %v", fixes[i], err)
	}
}
