package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/oidcron/oidcron/internal/cli"
)

// fnEnv is a server, an upstream standing for the function's code, and a
// record of the requests the commands send.
type fnEnv struct {
	*env
	upstream string
	rec      *fnRecorder
}

func startFunctions(t *testing.T) *fnEnv {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	t.Cleanup(up.Close)
	return &fnEnv{env: start(t), upstream: up.URL, rec: &fnRecorder{}}
}

// fnRecorder keeps the method and path of every request a command sends,
// and the body of the writes.
type fnRecorder struct {
	mu   sync.Mutex
	reqs []string
	// before, when set, runs before each request is sent.
	before func(*http.Request)
}

func (rec *fnRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if rec.before != nil {
		rec.before(r)
	}
	line := r.Method + " " + r.URL.Path
	if q := r.URL.Query(); q.Get("functionId") != "" || q.Get("updateMask") != "" {
		q.Del("alt")
		q.Del("prettyPrint")
		line += "?" + q.Encode()
	}
	if r.Body != nil && r.Method != "GET" {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		line += " " + strings.TrimSpace(string(b))
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, line)
	rec.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (rec *fnRecorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	return out
}

// fn runs `oidcron ARGS...` with --project demo; interactive makes it
// behave as on a terminal, answering prompts from stdin.
func (e *fnEnv) fn(stdin string, interactive bool, args ...string) result {
	e.t.Helper()
	g := cli.NewGlobals()
	g.Endpoint = e.api
	g.Project = ""
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
	_, err := cli.Execute(context.Background(), root, append([]string{"--project", "demo"}, args...))
	return result{out: out.String(), err: errb.String(), code: err}
}

// must runs a command that must succeed.
func (e *fnEnv) must(args ...string) result {
	e.t.Helper()
	r := e.fn("", false, args...)
	if r.code != nil {
		e.t.Fatalf("oidcron %s: %v\nstderr: %s", strings.Join(args, " "), r.code, r.err)
	}
	return r
}

// fails runs a command that must fail with exactly msg.
func (e *fnEnv) fails(msg string, args ...string) result {
	e.t.Helper()
	r := e.fn("", false, args...)
	if r.code == nil || r.code.Error() != msg {
		e.t.Fatalf("oidcron %s: error %v, want %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, msg, r.out, r.err)
	}
	return r
}

func sameLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func sameText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

func (e *fnEnv) opts() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.api + "/"), option.WithoutAuthentication()}
}

// account creates a service account in demo and returns its email; the
// dev user gets Token Creator on the project to mint its tokens.
func (e *fnEnv) account(id string) string {
	e.t.Helper()
	ctx := context.Background()
	iamSvc, _ := iamv1.NewService(ctx, e.opts()...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/demo", &iamv1.CreateServiceAccountRequest{AccountId: id}).Do()
	if err != nil {
		e.t.Fatal(err)
	}
	crmSvc, _ := crm.NewService(ctx, e.opts()...)
	pol, err := crmSvc.Projects.GetIamPolicy("demo", &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		e.t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:dev@oidcron.local"}})
	if _, err := crmSvc.Projects.SetIamPolicy("demo", &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		e.t.Fatal(err)
	}
	return sa.Email
}

func (e *fnEnv) idToken(email, audience string) string {
	e.t.Helper()
	creds, _ := iamcredentials.NewService(context.Background(), e.opts()...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+email,
		&iamcredentials.GenerateIdTokenRequest{Audience: audience, IncludeEmail: true}).Do()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Token
}

// invoke calls a function through the gateway, with a token if given.
func (e *fnEnv) invoke(fn, token string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+e.s.Addrs.Gateway+"/demo/us-central1/"+fn, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

var etagLine = regexp.MustCompile(`(?m)^etag: (\S+)$`)

// policyYAML is gcloud's YAML of a policy with one binding (whose members
// the API keeps sorted).
func policyYAML(t *testing.T, out, role string, members ...string) {
	t.Helper()
	members = slices.Sorted(slices.Values(members))
	m := etagLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no etag in:\n%s", out)
	}
	want := "bindings:\n- members:\n"
	for _, mem := range members {
		want += "  - " + mem + "\n"
	}
	want += "  role: " + role + "\netag: " + m[1] + "\nversion: 1\n"
	sameText(t, "policy", out, want)
}

// The classic story on a 1st gen function: deploy in front of an upstream,
// the exact requests gcloud sends for add-iam-policy-binding, and the
// gateway's 403 turning into a 200 once the job's account holds the role.
func TestFunctionsStoryGen1(t *testing.T) {
	e := startFunctions(t)
	ctx := context.Background()

	r := e.must("functions", "deploy", "hello", "--region=us-central1", "--upstream="+e.upstream, "--trigger-http")
	sameText(t, "deploy stderr", r.err, "WARNING: Function created with limited-access IAM policy. To enable unauthorized access consider "+
		"`oidcron functions add-iam-policy-binding hello --region=us-central1 --member=allUsers --role=roles/cloudfunctions.invoker`\n")
	reqs := e.rec.take()
	sameLines(t, "deploy requests", reqs[:2],
		"GET /v2/projects/demo/locations/us-central1/functions/hello",
		`POST /v2/projects/demo/locations/us-central1/functions?functionId=hello {"environment":"GEN_1","name":"projects/demo/locations/us-central1/functions/hello","serviceConfig":{"environmentVariables":{"OIDCRON_UPSTREAM":"`+e.upstream+`"}}}`)
	sameLines(t, "deploy's last request", reqs[len(reqs)-1:], "GET /v1/projects/demo/locations/us-central1/functions/hello")
	for _, want := range []string{
		"name: projects/demo/locations/us-central1/functions/hello\n",
		"status: ACTIVE\n",
		"  url: https://us-central1-demo.cloudfunctions.net/hello\n",
		"  OIDCRON_UPSTREAM: " + e.upstream + "\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("deploy output lacks %q:\n%s", want, r.out)
		}
	}

	// describe reads the generation with v2, then the 1st gen function with v1.
	r = e.must("functions", "describe", "hello", "--region=us-central1", "--format=json")
	sameLines(t, "describe requests", e.rec.take(),
		"GET /v2/projects/demo/locations/us-central1/functions/hello",
		"GET /v1/projects/demo/locations/us-central1/functions/hello")
	if d := jsonOf(t, r.out); d["status"] != "ACTIVE" || d["httpsTrigger"].(map[string]any)["url"] != "https://us-central1-demo.cloudfunctions.net/hello" {
		t.Fatalf("describe: %s", r.out)
	}

	sa := e.account("scheduler-invoker")
	token := e.idToken(sa, "https://us-central1-demo.cloudfunctions.net/hello")
	if code, _ := e.invoke("hello", ""); code != 403 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := e.invoke("hello", token); code != 403 {
		t.Fatalf("token without the role: %d", code)
	}

	// The story's command, verbatim: the service agent gets the role (which
	// changes nothing for the job's account).
	crmSvc, _ := crm.NewService(ctx, e.opts()...)
	p, err := crmSvc.Projects.Get("demo").Do()
	if err != nil {
		t.Fatal(err)
	}
	agent := fmt.Sprintf("serviceAccount:service-%d@gcp-sa-cloudscheduler.iam.gserviceaccount.com", p.ProjectNumber)
	e.rec.take()
	r = e.must("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--member="+agent, "--role=roles/cloudfunctions.invoker")
	sameText(t, "add-iam-policy-binding stderr", r.err, "")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", agent)
	reqs = e.rec.take()
	if len(reqs) != 3 {
		t.Fatalf("requests: %q", reqs)
	}
	sameLines(t, "add-iam-policy-binding requests", reqs[:2],
		"GET /v2/projects/demo/locations/us-central1/functions/hello",
		"GET /v1/projects/demo/locations/us-central1/functions/hello:getIamPolicy")
	if !strings.HasPrefix(reqs[2], `POST /v1/projects/demo/locations/us-central1/functions/hello:setIamPolicy {"policy":{"bindings":[{"members":["`+agent+`"],"role":"roles/cloudfunctions.invoker"}]`) {
		t.Fatalf("setIamPolicy: %s", reqs[2])
	}
	if code, _ := e.invoke("hello", token); code != 403 {
		t.Fatalf("after granting the service agent: %d", code)
	}

	// The job's own account: 200, and the upstream answers.
	r = e.must("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--member=serviceAccount:"+sa, "--role=roles/cloudfunctions.invoker")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", agent, "serviceAccount:"+sa)
	if code, body := e.invoke("hello", token); code != 200 || body != "hello from /" {
		t.Fatalf("with the role: %d %q", code, body)
	}

	r = e.must("functions", "get-iam-policy", "hello", "--region=us-central1")
	sameText(t, "get-iam-policy stderr", r.err, "")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", agent, "serviceAccount:"+sa)
	r = e.must("functions", "get-iam-policy", "hello", "--region=us-central1", "--flatten=bindings[].members", "--format=value(bindings.members)")
	sameText(t, "flattened", r.out, "serviceAccount:"+sa+"\n"+agent+"\n")

	r = e.must("functions", "remove-iam-policy-binding", "hello", "--region=us-central1", "--member="+agent, "--role=roles/cloudfunctions.invoker")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", "serviceAccount:"+sa)
	e.fails("Policy binding with the specified principal, role, and condition not found!",
		"functions", "remove-iam-policy-binding", "hello", "--region=us-central1", "--member="+agent, "--role=roles/cloudfunctions.invoker")

	// add-invoker-policy-binding on 1st gen grants roles/cloudfunctions.invoker
	// on the function, as gcloud 578 does.
	r = e.must("functions", "add-invoker-policy-binding", "hello", "--region=us-central1", "--member=allUsers")
	if !strings.Contains(r.out, "  - allUsers\n") {
		t.Fatalf("add-invoker-policy-binding: %s", r.out)
	}
	if code, _ := e.invoke("hello", ""); code != 200 {
		t.Fatalf("public: %d", code)
	}
	e.must("functions", "remove-invoker-policy-binding", "hello", "--region=us-central1", "--member=allUsers")
	if code, _ := e.invoke("hello", ""); code != 403 {
		t.Fatalf("private again: %d", code)
	}
}

// A 2nd gen function: invocation is granted by roles/run.invoker on its
// Cloud Run service, and gcloud's caveats say so.
func TestFunctionsGen2(t *testing.T) {
	e := startFunctions(t)
	svc := "projects/demo/locations/us-central1/services/hello2"

	r := e.must("functions", "deploy", "hello2", "--region=us-central1", "--upstream="+e.upstream, "--gen2", "--allow-unauthenticated")
	sameText(t, "deploy stderr", r.err, "")
	sameLines(t, "deploy requests", e.rec.take(),
		"GET /v2/projects/demo/locations/us-central1/functions/hello2",
		`POST /v2/projects/demo/locations/us-central1/functions?functionId=hello2 {"environment":"GEN_2","name":"projects/demo/locations/us-central1/functions/hello2","serviceConfig":{"environmentVariables":{"OIDCRON_UPSTREAM":"`+e.upstream+`"}}}`,
		"GET /v2/projects/demo/locations/us-central1/functions/hello2",
		"GET /v2/"+svc+":getIamPolicy",
		`POST /v2/`+svc+`:setIamPolicy {"policy":{"bindings":[{"members":["allUsers"],"role":"roles/run.invoker"}],"etag":"ACAB","version":1}}`,
		"GET /v2/projects/demo/locations/us-central1/functions/hello2")
	for _, want := range []string{"environment: GEN_2\n", "state: ACTIVE\n", "url: https://us-central1-demo.cloudfunctions.net/hello2\n", "  service: " + svc + "\n"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("deploy output lacks %q:\n%s", want, r.out)
		}
	}
	if code, body := e.invoke("hello2", ""); code != 200 || body != "hello from /" {
		t.Fatalf("public 2nd gen: %d %q", code, body)
	}

	// --no-allow-unauthenticated on the existing function takes allUsers away.
	r = e.must("functions", "deploy", "hello2", "--region=us-central1", "--no-allow-unauthenticated")
	sameText(t, "redeploy stderr", r.err, "Nothing to update.\n")
	if code, _ := e.invoke("hello2", ""); code != 403 {
		t.Fatalf("private again: %d", code)
	}

	sa := e.account("scheduler-invoker")
	token := e.idToken(sa, "https://us-central1-demo.cloudfunctions.net/hello2")
	e.rec.take()
	r = e.must("functions", "add-iam-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa, "--role=roles/cloudfunctions.invoker")
	sameText(t, "gen2 caveat", r.err, "WARNING: The role [roles/cloudfunctions.invoker] was successfully bound to member [serviceAccount:"+sa+"] "+
		"but this does not grant the member permission to invoke 2nd gen function [hello2]. Instead, the role [roles/run.invoker] must be granted "+
		"on the underlying Cloud Run service. This can be done by running the `oidcron functions add-invoker-policy-binding` command.\n\n"+
		"Additional information on authenticating function calls can be found at:\n"+
		"https://cloud.google.com/functions/docs/securing/authenticating#authenticating_function_to_function_calls\n")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", "serviceAccount:"+sa)
	reqs := e.rec.take()
	sameLines(t, "gen2 binding requests", reqs[:2],
		"GET /v2/projects/demo/locations/us-central1/functions/hello2",
		"GET /v2/projects/demo/locations/us-central1/functions/hello2:getIamPolicy")
	if len(reqs) != 3 || !strings.HasPrefix(reqs[2], "POST /v2/projects/demo/locations/us-central1/functions/hello2:setIamPolicy ") {
		t.Fatalf("requests: %q", reqs)
	}
	if code, _ := e.invoke("hello2", token); code != 403 {
		t.Fatalf("cloudfunctions.invoker on a 2nd gen function: %d", code)
	}

	r = e.must("functions", "add-invoker-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa)
	policyYAML(t, r.out, "roles/run.invoker", "serviceAccount:"+sa)
	reqs = e.rec.take()
	sameLines(t, "add-invoker-policy-binding requests", reqs[:2],
		"GET /v2/projects/demo/locations/us-central1/functions/hello2",
		"GET /v2/"+svc+":getIamPolicy")
	if code, _ := e.invoke("hello2", token); code != 200 {
		t.Fatalf("run.invoker on the service: %d", code)
	}

	r = e.must("functions", "get-iam-policy", "hello2", "--region=us-central1")
	sameText(t, "get-iam-policy warning", r.err, "WARNING: To view more details about the invoker policy in the underlying Cloud Run Service, please run:\n\n curl -s "+e.api+"/v2/"+svc+":getIamPolicy\n\n")
	policyYAML(t, r.out, "roles/cloudfunctions.invoker", "serviceAccount:"+sa)

	r = e.must("functions", "remove-iam-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa, "--role=roles/cloudfunctions.invoker")
	sameText(t, "remove caveat", r.err, "WARNING: The binding between member serviceAccount:"+sa+" and role roles/cloudfunctions.invoker has been successfully removed. "+
		"However, to make sure the member serviceAccount:"+sa+" doesn't have the permission to invoke the 2nd gen function, you need to remove the invoker "+
		"binding in the underlying Cloud Run service. This can be done by running the following command:\n"+
		"  oidcron functions remove-invoker-policy-binding hello2 --member=serviceAccount:"+sa+" \n\n")
	if code, _ := e.invoke("hello2", token); code != 200 {
		t.Fatalf("the service's grant stays: %d", code)
	}
	e.must("functions", "remove-invoker-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa)
	if code, _ := e.invoke("hello2", token); code != 403 {
		t.Fatalf("after remove-invoker-policy-binding: %d", code)
	}

	// roles/run.invoker on the function: not on a terminal, gcloud goes on
	// and the API refuses it; on a terminal, the user may grant it on the
	// service instead.
	r = e.fn("", false, "functions", "add-iam-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa, "--role=roles/run.invoker")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "ResponseError: status=[400], code=[Bad Request], message=[") {
		t.Fatalf("run.invoker on a function policy: %v", r.code)
	}
	runWarning := "WARNING: The role [roles/run.invoker] cannot be bound to a Cloud Function IAM policy as it is a Cloud Run role. " +
		"For 2nd gen functions, this role must be granted on the underlying Cloud Run service. This can be done by running the " +
		"`oidcron functions add-invoker-policy-binding` command.\n\n"
	sameText(t, "run.invoker warning", r.err, runWarning)
	r = e.fn("y\n", true, "functions", "add-iam-policy-binding", "hello2", "--region=us-central1", "--member=serviceAccount:"+sa, "--role=roles/run.invoker")
	if r.code != nil {
		t.Fatal(r.code)
	}
	sameText(t, "run.invoker prompt", r.err, runWarning+"Would you like to run this command instead and grant \n[serviceAccount:"+sa+"] \npermission to invoke function [hello2] (Y/n)?  \n")
	policyYAML(t, r.out, "roles/run.invoker", "serviceAccount:"+sa)
	if code, _ := e.invoke("hello2", token); code != 200 {
		t.Fatalf("granted on the service through the prompt: %d", code)
	}

	// A 1st gen function cannot become 2nd gen.
	e.must("functions", "deploy", "one", "--region=us-central1", "--upstream="+e.upstream)
	e.fails("Invalid value for [--gen2]: Function already exists in 1st gen, can't change the environment.",
		"functions", "deploy", "one", "--region=us-central1", "--gen2")
}

// The binding commands share the other groups' checks and read-modify-write:
// --member is validated and lower-cased before any request, and a
// concurrent change (409) restarts the cycle without losing either change.
func TestFunctionsBindingSharedChecks(t *testing.T) {
	const roleInvoker = "roles/cloudfunctions.invoker"
	e := startFunctions(t)
	e.must("functions", "deploy", "hello", "--region=us-central1", "--upstream="+e.upstream)
	sa := e.account("scheduler-invoker")
	e.rec.take()

	r := e.fn("", false, "functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--member=scheduler-invoker", "--role="+roleInvoker)
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Invalid value for [--member]: ") {
		t.Fatalf("a member without a type: %v", r.code)
	}
	r = e.fn("", false, "functions", "add-invoker-policy-binding", "hello", "--region=us-central1", "--member=user:")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Invalid value for [--member]: ") {
		t.Fatalf("an empty email: %v", r.code)
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Fatalf("a bad --member sent %v", reqs)
	}

	// Another member is granted between the read and the write.
	raced, sets := false, 0
	e.rec.before = func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ":setIamPolicy") {
			return
		}
		sets++
		if !raced {
			raced = true
			e.must("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--member=user:racer@example.com", "--role="+roleInvoker)
		}
	}
	upper := "serviceAccount:" + strings.ToUpper(sa[:1]) + sa[1:]
	r = e.must("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--member="+upper, "--role="+roleInvoker)
	e.rec.before = nil
	if sets != 3 { // the racer's, the refused one, the retried one
		t.Errorf("%d setIamPolicy calls, want 3", sets)
	}
	policyYAML(t, r.out, roleInvoker, "serviceAccount:"+sa, "user:racer@example.com")
	// Removing with other letter cases finds the binding.
	r = e.must("functions", "remove-iam-policy-binding", "hello", "--region=us-central1", "--member="+upper, "--role="+roleInvoker)
	policyYAML(t, r.out, roleInvoker, "user:racer@example.com")
	r = e.must("functions", "remove-invoker-policy-binding", "hello", "--region=us-central1", "--member=user:Racer@Example.com")
	if strings.Contains(r.out, "racer") {
		t.Fatalf("remove-invoker-policy-binding left the member:\n%s", r.out)
	}
}

// The v1 API shows a function's updateTime in milliseconds, the v2 API in
// nanoseconds.
func TestFunctionsUpdateTimePrecision(t *testing.T) {
	e := startFunctions(t)
	e.must("functions", "deploy", "hello", "--region=us-central1", "--upstream="+e.upstream)
	v1 := strings.TrimSpace(e.must("functions", "describe", "hello", "--region=us-central1", "--no-gen2", "--format=value(updateTime)").out)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$`).MatchString(v1) {
		t.Fatalf("v1 updateTime %q: want milliseconds", v1)
	}
}

// deploy on an existing function updates its upstream; the prompt for a
// new function on a terminal; list and delete.
func TestFunctionsDeployListDelete(t *testing.T) {
	e := startFunctions(t)
	r := e.fn("y\n", true, "functions", "deploy", "pub", "--region=us-central1", "--upstream="+e.upstream)
	if r.code != nil {
		t.Fatal(r.code)
	}
	sameText(t, "prompt", r.err, "Allow unauthenticated invocations of new function [pub]? (y/N)?  \n")
	if code, _ := e.invoke("pub", ""); code != 200 {
		t.Fatalf("answered yes: %d", code)
	}
	r = e.fn("\n", true, "functions", "deploy", "priv", "--region=us-central1", "--upstream="+e.upstream, "--gen2")
	if r.code != nil {
		t.Fatal(r.code)
	}
	sameText(t, "prompt default", r.err, "Allow unauthenticated invocations of new function [priv]? (y/N)?  \n")
	if code, _ := e.invoke("priv", ""); code != 403 {
		t.Fatalf("default no: %d", code)
	}

	e.rec.take()
	other := e.upstream + "/v2"
	r = e.must("functions", "deploy", "pub", "--region=us-central1", "--upstream="+other)
	sameText(t, "update stderr", r.err, "")
	reqs := e.rec.take()
	if len(reqs) < 2 || reqs[1] != `PATCH /v2/projects/demo/locations/us-central1/functions/pub?updateMask=service_config.environment_variables {"name":"projects/demo/locations/us-central1/functions/pub","serviceConfig":{"environmentVariables":{"OIDCRON_UPSTREAM":"`+other+`"}}}` {
		t.Fatalf("update requests: %q", reqs)
	}
	if code, body := e.invoke("pub", ""); code != 200 || body != "hello from /v2" {
		t.Fatalf("new upstream: %d %q", code, body)
	}
	r = e.must("functions", "deploy", "pub", "--region=us-central1", "--upstream="+other)
	sameText(t, "nothing to update", r.err+"|"+r.out, "Nothing to update.\n|")
	e.rec.take()

	r = e.must("functions", "list")
	sameText(t, "list", r.out,
		"NAME  STATE   TRIGGER       REGION       ENVIRONMENT\n"+
			"priv  ACTIVE  HTTP Trigger  us-central1  2nd gen\n"+
			"pub   ACTIVE  HTTP Trigger  us-central1  1st gen\n")
	sameLines(t, "list requests", e.rec.take(),
		"GET /v2/projects/demo/locations/-/functions",
		"GET /v1/projects/demo/locations/-/functions")
	r = e.must("functions", "list", "--regions=europe-west1")
	sameText(t, "empty list", r.out+"|"+r.err, "|Listed 0 items.\n")
	// As in gcloud, an explicit format keeps the default's transforms: name
	// is still name.basename().
	r = e.must("functions", "list", "--format=value(name)")
	sameText(t, "list value", r.out, "priv\npub\n")
	r = e.must("functions", "list", "--format=value(name,state())", "--filter=environment:GEN_2")
	sameText(t, "list filter", r.out, "priv\tACTIVE\n")

	r = e.must("functions", "delete", "pub", "--region=us-central1")
	sameText(t, "delete", r.err, "1st gen function [projects/demo/locations/us-central1/functions/pub] \nwill be deleted.\n\n"+
		"Do you want to continue (Y/n)?  \nDeleted [projects/demo/locations/us-central1/functions/pub].\n")
	r = e.fn("n\n", true, "functions", "delete", "priv", "--region=us-central1")
	if r.code == nil || r.code.Error() != "Deletion aborted by user." {
		t.Fatalf("declined: %v", r.code)
	}
	sameText(t, "delete prompt", r.err, "2nd gen function [projects/demo/locations/us-central1/functions/priv] \nwill be deleted.\n\nDo you want to continue (Y/n)?  \n")
	r = e.fn("n\n", false, "functions", "delete", "priv", "--region=us-central1") // echo n |: the same
	if r.code == nil || r.code.Error() != "Deletion aborted by user." {
		t.Fatalf("declined without a terminal: %v", r.code)
	}
	e.must("functions", "delete", "projects/demo/locations/us-central1/functions/priv", "--quiet")
	r = e.must("functions", "list")
	sameText(t, "list after delete", r.out+"|"+r.err, "|Listed 0 items.\n")
	e.fails("ResponseError: status=[404], code=[Not Found], message=[Resource 'projects/demo/locations/us-central1/functions/pub' was not found]",
		"functions", "describe", "pub", "--region=us-central1")
}

// Bad arguments get gcloud's errors, naming the flag.
func TestFunctionsErrors(t *testing.T) {
	e := startFunctions(t)
	e.fails("Missing required argument [region]: You must specify a region. Use the flag `--region`.", "functions", "describe", "hello")
	e.fails("Missing required argument [region]: You must specify a region. Use the flag `--region`.",
		"functions", "add-iam-policy-binding", "hello", "--member=allUsers", "--role=roles/cloudfunctions.invoker")
	e.fails("argument NAME: Must be specified.", "functions", "describe", "--region=us-central1")
	e.fails("argument NAME: Invalid value '9lives': "+
		"Function name must contain only Latin letters, digits and a hyphen (-). It must start with letter, must not end with a hyphen, and must be at most 63 characters long.",
		"functions", "deploy", "9lives", "--region=us-central1", "--upstream="+e.upstream)
	e.fails("argument --member --role: Must be specified.", "functions", "add-iam-policy-binding", "hello", "--region=us-central1")
	e.fails("argument --role: Must be specified.", "functions", "remove-iam-policy-binding", "hello", "--region=us-central1", "--member=allUsers")
	e.fails("argument --member: Must be specified.", "functions", "add-invoker-policy-binding", "hello", "--region=us-central1")
	e.fails("Missing required argument [--upstream]: Flag `--upstream` is required for new functions.",
		"functions", "deploy", "hello", "--region=us-central1")
	e.fails(`Invalid value for [--upstream]: "ftp://example.com" is not an absolute http:// or https:// URL.`,
		"functions", "deploy", "hello", "--region=us-central1", "--upstream=ftp://example.com")
	e.fails("argument --runtime: oidcron runs no code, so it takes no source or runtime; give the function's HTTP upstream with --upstream URL.",
		"functions", "deploy", "hello", "--region=us-central1", "--runtime=python312")
	// gcloud takes both forms of a boolean flag: the last one wins.
	e.fails("ResponseError: status=[404], code=[Not Found], message=[Function hello in region us-central1 in project demo does not exist]",
		"functions", "describe", "hello", "--region=us-central1", "--gen2", "--no-gen2")

	// A missing function: gcloud goes on with the 2nd gen command, which
	// fails with the v2 API's NOT_FOUND.
	e.fails("ResponseError: status=[404], code=[Not Found], message=[Resource 'projects/demo/locations/us-central1/functions/nope' was not found]",
		"functions", "add-iam-policy-binding", "nope", "--region=us-central1", "--member=allUsers", "--role=roles/cloudfunctions.invoker")
	e.fails("ResponseError: status=[404], code=[Not Found], message=[Resource 'projects/demo/locations/us-central1/functions/nope' was not found]",
		"functions", "add-invoker-policy-binding", "nope", "--region=us-central1", "--member=allUsers")
	r := e.fails("ResponseError: status=[404], code=[Not Found], message=[Resource 'projects/demo/locations/us-central1/functions/nope' was not found]",
		"functions", "delete", "nope", "--region=us-central1")
	sameText(t, "delete of a missing function", r.err, "2nd gen function [projects/demo/locations/us-central1/functions/nope] \nwill be deleted.\n\n"+
		"Do you want to continue (Y/n)?  \n")
	// With --no-gen2 the v1 API answers, with its own words.
	e.fails("ResponseError: status=[404], code=[Not Found], message=[Function nope in region us-central1 in project demo does not exist]",
		"functions", "describe", "nope", "--region=us-central1", "--no-gen2")
	// The API's validation comes back in gcloud's words.
	r = e.fn("", false, "functions", "deploy", "Upper", "--region=us-central1", "--upstream="+e.upstream, "--gen2")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: function_id: ") {
		t.Fatalf("uppercase 2nd gen id: %v", r.code)
	}
}
