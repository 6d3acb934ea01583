package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJobWithTokenDeniedByGateway holds the gateway's two refusals of a
// job's OIDC token with the real binary: an account without the invoker
// role gets 403 PERMISSION_DENIED, a token for another audience gets 401
// UNAUTHENTICATED, and neither reaches the function; the right audience
// with the role gets 200 and reaches it once. Each attempt's recorded
// status carries the gateway's own denial reason.
func TestJobWithTokenDeniedByGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p, up, sh := startStory(t)

	const (
		fn       = "https://us-central1-demo-project.cloudfunctions.net/hello"
		resource = "projects/demo-project/locations/us-central1/functions/hello"
		sa       = "scheduler-invoker@demo-project.iam.gserviceaccount.com"
		loc      = "--location=us-central1"
		// Once a year: no scheduled run comes between the manual ones.
		schedule = "--schedule=0 0 1 1 *"
		wrongAud = fn + "/other"
	)
	// The audiences the gateway accepts for the function: its URL and the
	// path form on the gateway.
	gwPath := strings.TrimSuffix(p.gw, "/") + "/demo-project/us-central1/hello"

	out, _ := sh.ok("functions", "deploy", "hello", "--region=us-central1", "--upstream="+up.URL)
	wantContains(t, "deploy stdout", out, "url: "+fn+"\n")
	_, errOut := sh.ok("iam", "service-accounts", "create", "scheduler-invoker", "--display-name", "Scheduler Invoker")
	if errOut != "Created service account [scheduler-invoker].\n" {
		t.Errorf("service-accounts create stderr: %q", errOut)
	}
	out, _ = sh.ok("scheduler", "jobs", "create", "http", "hello-job", loc, schedule, "--uri="+fn, "--http-method=GET",
		"--oidc-service-account-email="+sa, "--oidc-token-audience="+fn)
	wantContains(t, "create stdout", out, "  oidcToken:\n    audience: "+fn+"\n    serviceAccountEmail: "+sa+"\n")

	// runJob runs the job and waits for the server's log of its n-th attempt.
	runJob := func(n int) {
		t.Helper()
		sh.ok("scheduler", "jobs", "run", "hello-job", loc)
		sh.waitAttempts(n)
	}

	// No invoker role: the gateway refuses the verified caller, 403.
	runJob(1)
	sh.wantStatus("without the invoker role", "403\tPERMISSION_DENIED", 7)
	denied := "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403. Denial reason: " +
		"serviceAccount:" + sa + ` lacks permission "cloudfunctions.functions.invoke" on ` + resource +
		": roles/owner on projects/demo-project contains it, but serviceAccount:" + sa + " is not among the binding's members"
	wantMessage(t, sh, "without the invoker role", denied, denied)
	wantGatewayLog(t, p, "without the invoker role", `status=403 outcome=denied subject=serviceAccount:`+sa+` `)
	if n := up.count(); n != 0 {
		t.Fatalf("without the invoker role, the function was called %d time(s)", n)
	}

	// The role, but a token for another audience: the token is refused, 401.
	out, _ = sh.ok("functions", "add-iam-policy-binding", "hello", "--region=us-central1",
		"--member=serviceAccount:"+sa, "--role=roles/cloudfunctions.invoker")
	wantContains(t, "functions add-iam-policy-binding", out, "  - serviceAccount:"+sa+"\n  role: roles/cloudfunctions.invoker\n")
	out, _ = sh.ok("scheduler", "jobs", "update", "http", "hello-job", loc, "--oidc-service-account-email="+sa, "--oidc-token-audience="+wrongAud)
	wantContains(t, "update stdout", out, "  oidcToken:\n    audience: "+wrongAud+"\n    serviceAccountEmail: "+sa+"\n")
	runJob(2)
	sh.wantStatus("with a wrong audience", "401\tUNAUTHENTICATED", 16)
	refused := "URL_ERROR-ERROR_OTHER. Original HTTP response code number = 401. Denial reason: " +
		`token rejected: identity: token refused (audience): aud "` + wrongAud + `" is not one of ["` + fn + `","` + gwPath + `"]`
	wantMessage(t, sh, "with a wrong audience", refused, refused)
	wantGatewayLog(t, p, "with a wrong audience", `status=401 outcome=invalid_token `)
	if n := up.count(); n != 0 {
		t.Fatalf("with a wrong audience, the function was called %d time(s)", n)
	}

	// The right audience: 200, and the function is called once.
	out, _ = sh.ok("scheduler", "jobs", "update", "http", "hello-job", loc, "--oidc-service-account-email="+sa, "--oidc-token-audience="+fn)
	wantContains(t, "update stdout", out, "  oidcToken:\n    audience: "+fn+"\n    serviceAccountEmail: "+sa+"\n")
	runJob(3)
	sh.wantStatus("with the role and the right audience", "200\tOK", 0)
	wantMessage(t, sh, "with the role and the right audience", "Original HTTP response code number = 200", "")
	if n := up.count(); n != 1 {
		t.Fatalf("with the role and the right audience, the function was called %d time(s), want 1", n)
	}
	if auth := up.lastAuth(); !strings.HasPrefix(auth, "Bearer ") {
		t.Errorf("the function's Authorization header: %q", auth)
	}
}

// wantMessage checks the message of the job's newest recorded attempt (the
// history's REASON column) and that of the status `describe` shows.
func wantMessage(t *testing.T, sh *story, when, attempt, status string) {
	t.Helper()
	out, _ := sh.ok("scheduler", "jobs", "executions", "hello-job", "--location=us-central1", "--limit=1", "--format=json")
	var as []struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &as); err != nil || len(as) != 1 {
		t.Fatalf("%s: executions: %v\n%s", when, err, out)
	}
	if as[0].Message != attempt {
		t.Errorf("%s: the newest attempt's message is\n%q\nwant\n%q", when, as[0].Message, attempt)
	}
	out, _ = sh.ok("scheduler", "jobs", "describe", "hello-job", "--location=us-central1", "--format=json")
	var job struct {
		Status *struct {
			Message string `json:"message"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &job); err != nil || job.Status == nil {
		t.Fatalf("%s: describe: %v\n%s", when, err, out)
	}
	if job.Status.Message != status {
		t.Errorf("%s: describe's status message is\n%q\nwant\n%q", when, job.Status.Message, status)
	}
}

// wantGatewayLog checks that the server's newest "gateway denied" line,
// logged before the attempt's AttemptFinished, contains want.
func wantGatewayLog(t *testing.T, p *proc, when, want string) {
	t.Helper()
	var last string
	for l := range strings.Lines(p.logText(0)) {
		if strings.Contains(l, `msg="gateway denied"`) {
			last = l
		}
	}
	if !strings.Contains(last, want) {
		t.Errorf("%s: the gateway's newest denial line %q lacks %q", when, last, want)
	}
}
