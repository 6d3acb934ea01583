package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appengine "google.golang.org/api/appengine/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"

	"github.com/oidcron/oidcron/internal/server"
)

func withDefaultLocation(l string) envOption {
	return func(c *server.Config) { c.DefaultLocation = l }
}

// gcloudCall sends one request the way gcloud 578 does with
// auth/disable_credentials and api_endpoint_overrides: no Authorization
// header, ?alt=json on every URL, a lowerCamelCase JSON body. It returns the
// status and the decoded JSON reply.
func (e *env) gcloudCall(t *testing.T, method, pathAndQuery, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.api+pathAndQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "google-cloud-sdk gcloud/578.0.0 command/gcloud.test invocation-id/0 environment/None environment-version/None client-os/LINUX client-os-ver/6.1.0 client-pltf-arch/x86_64 interactive/False from-script/True python/3.12.3 term/ (Linux 6.1.0)")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, pathAndQuery, ct, raw)
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s %s: reply is not a JSON object: %v\n%s", method, pathAndQuery, err, raw)
	}
	return resp.StatusCode, out
}

// ok fails unless the reply is a 200, and checks it uses Google's JSON field
// names.
func ok(t *testing.T, what string, code int, body map[string]any) map[string]any {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("%s: %d %v", what, code, body)
	}
	camelKeys(t, what, body)
	return body
}

// googleError checks Google's error shape: {"error":{"code","message","status"}}.
func googleError(t *testing.T, what string, code int, body map[string]any, wantCode int, wantStatus, wantMessage string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if code != wantCode || e == nil || e["code"] != json.Number(strconv.Itoa(wantCode)) || e["status"] != wantStatus ||
		(wantMessage != "" && e["message"] != wantMessage) || len(body) != 1 {
		t.Fatalf("%s: want %d %s %q, got %d %v", what, wantCode, wantStatus, wantMessage, code, body)
	}
}

var lowerCamel = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// camelKeys checks every field name is lowerCamelCase, as Google's JSON is;
// map fields (headers, labels, environment variables) hold user keys.
func camelKeys(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if !lowerCamel.MatchString(k) && k != "@type" {
				t.Fatalf("%s: field %q is not Google's lowerCamelCase JSON name", where, k)
			}
			switch k {
			case "headers", "labels", "environmentVariables", "metadata":
				continue
			}
			camelKeys(t, where+"."+k, child)
		}
	case []any:
		for _, child := range x {
			camelKeys(t, where, child)
		}
	}
}

func str(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func obj(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

func list(v any, path ...string) []any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	l, _ := v.([]any)
	return l
}

// Every request of ../shared/reference/gcloud-wire.md, in the table's order
// and exactly as gcloud sends it, with the replies checked against the
// shapes gcloud reads. The only setup is what the table's commands assume:
// a 1st gen function to bind on and the service account the job update
// names (created with the official clients).
func TestGcloudWire(t *testing.T) {
	const (
		P    = "wire-project"
		L    = "europe-west1" // served as the default location: gcloud must find it without --location
		J    = "nightly"
		R    = "us-central1"
		F    = "hello"
		NAME = "second-invoker"
		D    = "Second Invoker"
	)
	e := start(t, withDefaultLocation(L))
	up := newUpstream(t)
	cf, _ := cfv2.NewService(e.ctx, e.rest("")...)
	if _, err := cf.Projects.Locations.Functions.Create("projects/"+P+"/locations/"+R, &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": up.URL}},
	}).FunctionId(F).Do(); err != nil {
		t.Fatal(err)
	}
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/"+P, &iamv1.CreateServiceAccountRequest{AccountId: "scheduler-invoker"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	E := sa.Email
	U := "https://" + R + "-" + P + ".cloudfunctions.net/" + F
	A := U
	jobs := "/v1/projects/" + P + "/locations/" + L + "/jobs"
	job := jobs + "/" + J

	// scheduler jobs list --location L
	code, body := e.gcloudCall(t, "GET", jobs+"?alt=json", "")
	if ok(t, "list", code, body); len(body) != 0 {
		t.Fatalf("an empty list is {} at Google, got %v", body)
	}

	// scheduler jobs describe J --location L (it does not exist yet)
	code, body = e.gcloudCall(t, "GET", job+"?alt=json", "")
	googleError(t, "describe", code, body, 404, "NOT_FOUND", "Job not found.")

	// scheduler jobs create http J --location L --schedule S --uri U --http-method GET
	code, body = e.gcloudCall(t, "POST", jobs+"?alt=json",
		`{"httpTarget":{"httpMethod":"GET","uri":"`+U+`"},"name":"projects/`+P+`/locations/`+L+`/jobs/`+J+`","retryConfig":{"maxBackoffDuration":"3600s","maxDoublings":5,"minBackoffDuration":"5s","retryCount":0},"schedule":"0 9 * * 1","timeZone":"Etc/UTC"}`)
	created := ok(t, "create", code, body)
	if str(created, "name") != "projects/"+P+"/locations/"+L+"/jobs/"+J || str(created, "schedule") != "0 9 * * 1" ||
		str(created, "timeZone") != "Etc/UTC" || str(created, "state") != "ENABLED" ||
		str(created, "httpTarget", "uri") != U || str(created, "httpTarget", "httpMethod") != "GET" ||
		str(created, "httpTarget", "headers", "User-Agent") != "Google-Cloud-Scheduler" ||
		str(created, "retryConfig", "minBackoffDuration") != "5s" || str(created, "retryConfig", "maxBackoffDuration") != "3600s" ||
		obj(created, "retryConfig")["maxDoublings"] != json.Number("5") || str(created, "attemptDeadline") != "180s" ||
		!strings.HasSuffix(str(created, "userUpdateTime"), "Z") || !strings.HasSuffix(str(created, "scheduleTime"), "Z") {
		t.Fatalf("created job: %v", created)
	}

	// scheduler jobs update http J --location L --schedule S --uri U --http-method GET
	//   --oidc-service-account-email E --oidc-token-audience A
	mask := url.QueryEscape("httpTarget.httpMethod,httpTarget.oidcToken.audience,httpTarget.oidcToken.serviceAccountEmail,httpTarget.uri,schedule")
	if !strings.Contains(mask, "%2C") {
		t.Fatalf("mask not encoded as gcloud does: %s", mask)
	}
	code, body = e.gcloudCall(t, "PATCH", job+"?alt=json&updateMask="+mask,
		`{"httpTarget":{"httpMethod":"GET","oidcToken":{"audience":"`+A+`","serviceAccountEmail":"`+E+`"},"uri":"`+U+`"},"schedule":"*/5 * * * *"}`)
	updated := ok(t, "update", code, body)
	if str(updated, "schedule") != "*/5 * * * *" || str(updated, "httpTarget", "oidcToken", "serviceAccountEmail") != E ||
		str(updated, "httpTarget", "oidcToken", "audience") != A || str(updated, "httpTarget", "uri") != U ||
		str(updated, "timeZone") != "Etc/UTC" || str(updated, "name") != str(created, "name") {
		t.Fatalf("updated job: %v", updated)
	}

	// scheduler jobs run J --location L: the Job comes back (gcloud prints nothing).
	code, body = e.gcloudCall(t, "POST", job+":run?alt=json", `{}`)
	if ran := ok(t, "run", code, body); str(ran, "name") != str(created, "name") {
		t.Fatalf("run: %v", ran)
	}

	// scheduler jobs run J (no --location): the app must exist, then the
	// location is the first label's value of ListLocations' first location.
	code, body = e.gcloudCall(t, "GET", "/v1/apps/"+P+"?alt=json", "")
	app := ok(t, "apps.get", code, body)
	if str(app, "name") != "apps/"+P || str(app, "id") != P || str(app, "locationId") != "europe-west" || str(app, "servingStatus") != "SERVING" {
		t.Fatalf("application: %v", app)
	}
	code, body = e.gcloudCall(t, "GET", "/v1/projects/"+P+"/locations?alt=json&pageSize=2", "")
	locs := list(ok(t, "locations", code, body), "locations")
	if len(locs) != 2 || str(body, "nextPageToken") == "" {
		t.Fatalf("locations: %v", body)
	}
	first := obj(locs[0])
	labels := obj(first, "labels")
	if len(labels) != 1 || str(labels, "cloud.googleapis.com/region") != L || str(first, "locationId") != L ||
		str(first, "name") != "projects/"+P+"/locations/"+L {
		t.Fatalf("first location: %v", first)
	}
	var derived string
	for _, v := range labels { // labels.additionalProperties[0].value: the only label
		derived, _ = v.(string)
	}
	code, body = e.gcloudCall(t, "POST", "/v1/projects/"+P+"/locations/"+derived+"/jobs/"+J+":run?alt=json", `{}`)
	ok(t, "run without --location", code, body)
	// A project with no app: gcloud stops with "Please use the location flag".
	code, body = e.gcloudCall(t, "GET", "/v1/apps/no-such-project?alt=json", "")
	googleError(t, "apps.get of a missing project", code, body, 404, "NOT_FOUND", `Could not find Application "no-such-project".`)

	// projects get-iam-policy P
	getPolicy := func() map[string]any {
		t.Helper()
		code, body := e.gcloudCall(t, "POST", "/v1/projects/"+P+":getIamPolicy?alt=json", `{"options":{"requestedPolicyVersion":3}}`)
		return ok(t, "projects getIamPolicy", code, body)
	}
	pol := getPolicy()
	agent := ""
	for _, b := range list(pol, "bindings") {
		if str(b, "role") == "roles/cloudscheduler.serviceAgent" {
			agent, _ = list(b, "members")[0].(string)
		}
	}
	if str(pol, "etag") == "" || pol["version"] == nil || !regexp.MustCompile(`^serviceAccount:service-\d{12}@gcp-sa-cloudscheduler\.iam\.gserviceaccount\.com$`).MatchString(agent) {
		t.Fatalf("project policy: %v", pol)
	}

	// projects add-iam-policy-binding P --member M --role R
	pol = getPolicy()
	bindings := append(list(pol, "bindings"), map[string]any{"members": []string{"serviceAccount:" + E}, "role": "roles/cloudfunctions.invoker"})
	setBody, _ := json.Marshal(map[string]any{"policy": map[string]any{"bindings": bindings, "etag": pol["etag"], "version": 3}})
	code, body = e.gcloudCall(t, "POST", "/v1/projects/"+P+":setIamPolicy?alt=json", string(setBody))
	set := ok(t, "projects setIamPolicy", code, body)
	if !hasJSONBinding(set, "roles/cloudfunctions.invoker", "serviceAccount:"+E) || str(set, "etag") == str(pol, "etag") {
		t.Fatalf("set project policy: %v", set)
	}

	// iam service-accounts create NAME --display-name D
	code, body = e.gcloudCall(t, "POST", "/v1/projects/"+P+"/serviceAccounts?alt=json", `{"accountId":"`+NAME+`","serviceAccount":{"displayName":"`+D+`"}}`)
	created2 := ok(t, "service account create", code, body)
	if str(created2, "email") != NAME+"@"+P+".iam.gserviceaccount.com" || str(created2, "displayName") != D ||
		str(created2, "name") != "projects/"+P+"/serviceAccounts/"+NAME+"@"+P+".iam.gserviceaccount.com" || str(created2, "uniqueId") == "" {
		t.Fatalf("service account: %v", created2)
	}

	// functions add-iam-policy-binding F --region R --member M --role ROLE
	fname := "projects/" + P + "/locations/" + R + "/functions/" + F
	code, body = e.gcloudCall(t, "GET", "/v2/"+fname+"?alt=json", "")
	fn := ok(t, "functions v2 get", code, body)
	if str(fn, "environment") != "GEN_1" || str(fn, "name") != fname || str(fn, "url") != U || str(fn, "state") != "ACTIVE" {
		t.Fatalf("function (v2): %v", fn)
	}
	code, body = e.gcloudCall(t, "GET", "/v1/"+fname+":getIamPolicy?alt=json", "")
	fpol := ok(t, "functions v1 getIamPolicy", code, body)
	if str(fpol, "etag") == "" {
		t.Fatalf("function policy: %v", fpol)
	}
	fbindings := append(list(fpol, "bindings"), map[string]any{"members": []string{agent}, "role": "roles/cloudfunctions.invoker"})
	setBody, _ = json.Marshal(map[string]any{"policy": map[string]any{"bindings": fbindings, "etag": fpol["etag"]}})
	code, body = e.gcloudCall(t, "POST", "/v1/"+fname+":setIamPolicy?alt=json", string(setBody))
	if fset := ok(t, "functions v1 setIamPolicy", code, body); !hasJSONBinding(fset, "roles/cloudfunctions.invoker", agent) {
		t.Fatalf("function policy after set: %v", fset)
	}
}

func hasJSONBinding(pol map[string]any, role, member string) bool {
	for _, b := range list(pol, "bindings") {
		if str(b, "role") != role {
			continue
		}
		for _, m := range list(b, "members") {
			if m == member {
				return true
			}
		}
	}
	return false
}

// apps.get through the App Engine Admin API's own Go client: the default
// location's App Engine name, Google's 404 for a project without an app,
// and the same authentication and permission rules as every other API.
func TestAppEngineGetApplication(t *testing.T) {
	e := start(t)
	svc, err := appengine.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	// Asking creates nothing, even in dev mode.
	_, err = svc.Apps.Get("acme").Do()
	apiErr(t, err, 404, `Could not find Application "acme".`)
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	if _, err := iamSvc.Projects.ServiceAccounts.List("projects/acme").Do(); err != nil { // a reference creates the project
		t.Fatal(err)
	}
	app, err := svc.Apps.Get("acme").Do()
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != "apps/acme" || app.Id != "acme" || app.LocationId != "us-central" || app.ServingStatus != "SERVING" ||
		app.DefaultHostname == "" || app.ServiceAccount != "acme@appspot.gserviceaccount.com" {
		t.Fatalf("application: %+v", app)
	}

	// --require-auth: no credentials is 401; a caller without
	// appengine.applications.get is denied whether or not the project exists.
	ra := start(t, withRequireAuth(), withDefaultLocation("asia-northeast1"))
	anon, _ := appengine.NewService(ra.ctx, ra.rest("")...)
	_, err = anon.Apps.Get("acme-prod").Do()
	apiErr(t, err, 401, "")
	b, err := os.ReadFile(ra.s.Addrs.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	admin := string(b)
	asAdmin, _ := appengine.NewService(ra.ctx, ra.rest(admin)...)
	_, err = asAdmin.Apps.Get("acme-prod").Do()
	apiErr(t, err, 404, `Could not find Application "acme-prod".`)
	createProject(t, ra, admin, "acme-prod")
	if app, err := asAdmin.Apps.Get("acme-prod").Do(); err != nil || app.LocationId != "asia-northeast1" {
		t.Fatalf("admin: %v %+v", err, app)
	}
	iamAdmin, _ := iamv1.NewService(ra.ctx, ra.rest(admin)...)
	sa, err := iamAdmin.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: "nobody"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	addProjectBindingAs(t, ra, admin, "acme-prod", "roles/iam.serviceAccountTokenCreator", "user:admin@oidcron.local")
	creds, _ := iamcredentials.NewService(ra.ctx, ra.rest(admin)...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: ra.s.Addrs.Issuer}).Do()
	if err != nil {
		t.Fatal(err)
	}
	asNobody, _ := appengine.NewService(ra.ctx, ra.rest(tok.Token)...)
	for _, p := range []string{"acme-prod", "no-such-project"} {
		_, err = asNobody.Apps.Get(p).Do()
		apiErr(t, err, 403, "The caller does not have permission")
	}
	// The Cloud Scheduler Viewer role carries appengine.applications.get, as at Google.
	addProjectBindingAs(t, ra, admin, "acme-prod", "roles/cloudscheduler.viewer", "serviceAccount:"+sa.Email)
	if _, err := asNobody.Apps.Get("acme-prod").Do(); err != nil {
		t.Fatalf("scheduler viewer: %v", err)
	}
}

func createProject(t *testing.T, e *env, token, id string) {
	t.Helper()
	svc, _ := crm.NewService(e.ctx, e.rest(token)...)
	if _, err := svc.Projects.Create(&crm.Project{ProjectId: id}).Do(); err != nil {
		t.Fatal(err)
	}
}

func addProjectBindingAs(t *testing.T, e *env, token, project, role, member string) {
	t.Helper()
	svc, _ := crm.NewService(e.ctx, e.rest(token)...)
	pol, err := svc.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: role, Members: []string{member}})
	if _, err := svc.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
}
