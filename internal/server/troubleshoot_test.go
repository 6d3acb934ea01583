package server_test

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	pt "google.golang.org/api/policytroubleshooter/v1"
)

const (
	fnFull   = "//cloudfunctions.googleapis.com/projects/acme/locations/us-central1/functions/hello"
	projFull = "//cloudresourcemanager.googleapis.com/projects/acme"
	invokeP  = "cloudfunctions.functions.invoke"
)

func troubleshooter(t *testing.T, e *env, token string) *pt.Service {
	t.Helper()
	svc, err := pt.NewService(e.ctx, e.rest(token)...)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func troubleshootAs(t *testing.T, svc *pt.Service, principal, permission, resource string) *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse {
	t.Helper()
	r, err := svc.Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{
		AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{Principal: principal, Permission: permission, FullResourceName: resource},
	}).Do()
	if err != nil {
		t.Fatalf("troubleshoot %s %s %s: %v", principal, permission, resource, err)
	}
	return r
}

// policyAccesses lists each explained policy as "NAME ACCESS RELEVANCE".
func policyAccesses(r *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse) []string {
	var out []string
	for _, p := range r.ExplainedPolicies {
		out = append(out, strings.TrimSpace(p.FullResourceName+" "+p.Access+" "+p.Relevance))
	}
	return out
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s\n got: %q\nwant: %q", what, got, want)
	}
}

func bindingFor(p *pt.GoogleCloudPolicytroubleshooterV1ExplainedPolicy, role string) *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation {
	for _, b := range p.BindingExplanations {
		if b.Role == role {
			return b
		}
	}
	return nil
}

// The walkthrough's question, asked of Policy Troubleshooter with Google's
// client: may the job's account invoke the function? Not while the invoker
// role sits with someone else; yes once it is granted on the project.
func TestTroubleshootFunctionInvoker(t *testing.T) {
	f := newFixture(t, "GEN_1")
	svc := troubleshooter(t, f.env, "")
	agent := "serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", agent)

	r := troubleshootAs(t, svc, f.sa.Email, invokeP, fnFull)
	if r.Access != "NOT_GRANTED" || len(r.Errors) != 0 {
		t.Fatalf("access %s, errors %v", r.Access, r.Errors)
	}
	// roles/owner holds the permission too, but the job's account is not
	// an owner: both bindings are what matter.
	sameList(t, "policies", policyAccesses(r), []string{
		fnFull + " NOT_GRANTED HIGH",
		projFull + " NOT_GRANTED HIGH",
		"//oidcron NOT_GRANTED NORMAL",
	})
	b := bindingFor(r.ExplainedPolicies[0], "roles/cloudfunctions.invoker")
	if b == nil || b.Access != "NOT_GRANTED" || b.RolePermission != "ROLE_PERMISSION_INCLUDED" || b.Relevance != "HIGH" ||
		b.RolePermissionRelevance != "NORMAL" || len(b.Memberships) != 1 ||
		b.Memberships[agent].Membership != "MEMBERSHIP_NOT_INCLUDED" || b.Memberships[agent].Relevance != "HIGH" {
		t.Errorf("invoker binding %+v", b)
	}
	if p := r.ExplainedPolicies[0].Policy; p == nil || len(p.Bindings) != 1 || p.Bindings[0].Members[0] != agent || p.Etag == "" {
		t.Errorf("function policy %+v", p)
	}
	owner := bindingFor(r.ExplainedPolicies[1], "roles/owner")
	if owner == nil || owner.RolePermission != "ROLE_PERMISSION_INCLUDED" || owner.Access != "NOT_GRANTED" || owner.Relevance != "HIGH" ||
		owner.Memberships["user:dev@oidcron.local"].Membership != "MEMBERSHIP_NOT_INCLUDED" {
		t.Errorf("owner binding %+v", owner)
	}

	addProjectBinding(t, f.env, "acme", "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	// By email, by member, and with the project named by number: one answer.
	num := projectNumber(t, f.env, "acme")
	for _, tuple := range [][2]string{
		{f.sa.Email, fnFull},
		{"serviceAccount:" + f.sa.Email, fnFull},
		{strings.ToUpper(f.sa.Email), strings.Replace(fnFull, "/acme/", "/"+num+"/", 1)},
	} {
		r = troubleshootAs(t, svc, tuple[0], invokeP, tuple[1])
		if r.Access != "GRANTED" {
			t.Fatalf("%v: %s", tuple, r.Access)
		}
		sameList(t, "policies", policyAccesses(r), []string{
			fnFull + " NOT_GRANTED NORMAL",
			projFull + " GRANTED HIGH",
			"//oidcron NOT_GRANTED NORMAL",
		})
		b = bindingFor(r.ExplainedPolicies[1], "roles/cloudfunctions.invoker")
		m := b.Memberships["serviceAccount:"+f.sa.Email]
		if b.Access != "GRANTED" || b.Relevance != "HIGH" || b.RolePermissionRelevance != "HIGH" || m.Membership != "MEMBERSHIP_INCLUDED" || m.Relevance != "HIGH" {
			t.Errorf("granting binding %+v", b)
		}
	}

	// The root's policy: what the installation grants the dev user.
	root := r.ExplainedPolicies[2]
	if b := bindingFor(root, "roles/resourcemanager.projectCreator"); b == nil || b.Memberships["user:dev@oidcron.local"].Membership != "MEMBERSHIP_NOT_INCLUDED" {
		t.Errorf("root policy %+v", root)
	}
}

func projectNumber(t *testing.T, e *env, id string) string {
	t.Helper()
	svc, _ := crm.NewService(e.ctx, e.rest("")...)
	p, err := svc.Projects.Get(id).Do()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(p.ProjectNumber, 10)
}

// The other resources oidcron hosts: a project, a service account, a 2nd
// gen function's Cloud Run service, and a job (no policy of its own: the
// explanation starts at its project).
func TestTroubleshootResourceKinds(t *testing.T) {
	f := newFixture(t, "GEN_2")
	svc := troubleshooter(t, f.env, "")

	r := troubleshootAs(t, svc, "dev@oidcron.local", "resourcemanager.projects.setIamPolicy", projFull)
	if r.Access != "GRANTED" || len(r.ExplainedPolicies) != 2 || r.ExplainedPolicies[0].FullResourceName != projFull {
		t.Errorf("project: %s %q", r.Access, policyAccesses(r))
	}

	saFull := "//iam.googleapis.com/projects/acme/serviceAccounts/" + f.sa.Email
	r = troubleshootAs(t, svc, "user:dev@oidcron.local", "iam.serviceAccounts.getOpenIdToken", "//iam.googleapis.com/projects/-/serviceAccounts/"+f.sa.UniqueId)
	// The fixture grants the dev user Token Creator on the project.
	sameList(t, "service account", policyAccesses(r), []string{saFull + " NOT_GRANTED NORMAL", projFull + " GRANTED HIGH", "//oidcron NOT_GRANTED NORMAL"})
	if r.Access != "GRANTED" {
		t.Errorf("service account: %s", r.Access)
	}

	// roles/cloudfunctions.invoker on a 2nd gen function grants nothing:
	// the gateway checks run.routes.invoke on the Cloud Run service.
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	runFull := "//run.googleapis.com/projects/acme/locations/us-central1/services/hello"
	r = troubleshootAs(t, svc, f.sa.Email, "run.routes.invoke", runFull)
	sameList(t, "run service", policyAccesses(r), []string{runFull + " NOT_GRANTED NORMAL", projFull + " NOT_GRANTED HIGH", "//oidcron NOT_GRANTED NORMAL"})
	r = troubleshootAs(t, svc, f.sa.Email, "run.routes.invoke", fnFull)
	if b := bindingFor(r.ExplainedPolicies[0], "roles/cloudfunctions.invoker"); r.Access != "NOT_GRANTED" || b == nil ||
		b.RolePermission != "ROLE_PERMISSION_NOT_INCLUDED" || b.Memberships["serviceAccount:"+f.sa.Email].Membership != "MEMBERSHIP_INCLUDED" || b.RolePermissionRelevance != "HIGH" {
		t.Errorf("2nd gen function: %s %+v", r.Access, b)
	}

	sched, _ := cloudscheduler.NewService(f.ctx, f.rest("")...)
	if _, err := sched.Projects.Locations.Jobs.Create("projects/acme/locations/us-central1", &cloudscheduler.Job{
		Name: "projects/acme/locations/us-central1/jobs/nightly", Schedule: "0 3 * * *",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: f.fn.Url},
	}).Do(); err != nil {
		t.Fatal(err)
	}
	r = troubleshootAs(t, svc, "dev@oidcron.local", "cloudscheduler.jobs.run", "//cloudscheduler.googleapis.com/projects/acme/locations/us-central1/jobs/nightly")
	sameList(t, "job", policyAccesses(r), []string{projFull + " GRANTED HIGH", "//oidcron NOT_GRANTED NORMAL"})

	// A resource that does not exist, asked by one who could see it.
	_, err := svc.Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{
		Principal: f.sa.Email, Permission: invokeP, FullResourceName: strings.Replace(fnFull, "hello", "nope", 1)}}).Do()
	apiErr(t, err, 404, "Resource '"+strings.Replace(fnFull, "hello", "nope", 1)+"' was not found.")
}

// What oidcron does not do is said, not hidden: conditions are never
// evaluated, and a disabled account is granted nothing.
func TestTroubleshootConditionsAndDisabled(t *testing.T) {
	f := newFixture(t, "GEN_1")
	svc := troubleshooter(t, f.env, "")
	_, err := f.cfv1.Projects.Locations.Functions.SetIamPolicy(f.fn.Name, &cfv1.SetIamPolicyRequest{Policy: &cfv1.Policy{Version: 3, Bindings: []*cfv1.Binding{{
		Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:" + f.sa.Email},
		Condition: &cfv1.Expr{Title: "business hours", Expression: "request.time.getHours('Europe/Berlin') < 18"},
	}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	r := troubleshootAs(t, svc, f.sa.Email, invokeP, fnFull)
	b := r.ExplainedPolicies[0].BindingExplanations[0]
	if r.Access != "NOT_GRANTED" || r.ExplainedPolicies[0].Access != "UNKNOWN_CONDITIONAL" || b.Access != "UNKNOWN_CONDITIONAL" ||
		b.Condition == nil || b.Condition.Title != "business hours" || r.ExplainedPolicies[0].Policy.Version != 3 {
		t.Errorf("conditional: %s %q %+v", r.Access, policyAccesses(r), b)
	}
	if len(r.Errors) != 1 || r.Errors[0].Code != 12 || !strings.Contains(r.Errors[0].Message, "oidcron does not evaluate IAM conditions") {
		t.Errorf("errors %+v", r.Errors)
	}

	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	if _, err := f.iam.Projects.ServiceAccounts.Disable("projects/acme/serviceAccounts/"+f.sa.Email, &iamv1.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	r = troubleshootAs(t, svc, f.sa.Email, invokeP, fnFull)
	if r.Access != "NOT_GRANTED" || r.ExplainedPolicies[0].Access != "GRANTED" || len(r.Errors) != 1 || r.Errors[0].Code != 9 ||
		r.Errors[0].Message != "serviceAccount:"+f.sa.Email+" is disabled: a disabled service account is granted nothing." {
		t.Errorf("disabled: %s %q %+v", r.Access, policyAccesses(r), r.Errors)
	}
}

// A caller sees only the policies it may read: the others are
// UNKNOWN_INFO_DENIED, and so is the answer when they could change it. A
// resource it may not see is not revealed to be missing.
func TestTroubleshootInfoDenied(t *testing.T) {
	e := start(t, withRequireAuth())
	b, err := os.ReadFile(e.s.Addrs.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	admin := string(b)
	// Explicit creation follows Google's project id rule.
	fnFull := strings.Replace(fnFull, "/acme/", "/acme-prod/", 1)
	projFull := strings.Replace(projFull, "/acme", "/acme-prod", 1)
	crmAdmin, _ := crm.NewService(e.ctx, e.rest(admin)...)
	if _, err := crmAdmin.Projects.Create(&crm.Project{ProjectId: "acme-prod"}).Do(); err != nil {
		t.Fatal(err)
	}
	iamAdmin, _ := iamv1.NewService(e.ctx, e.rest(admin)...)
	var reader, target *iamv1.ServiceAccount
	for _, a := range []struct {
		id  string
		dst **iamv1.ServiceAccount
	}{{"reader", &reader}, {"target", &target}} {
		if *a.dst, err = iamAdmin.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: a.id}).Do(); err != nil {
			t.Fatal(err)
		}
	}
	cf, _ := cfv2.NewService(e.ctx, e.rest(admin)...)
	if _, err := cf.Projects.Locations.Functions.Create("projects/acme-prod/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": "http://127.0.0.1:9/"}},
	}).FunctionId("hello").Do(); err != nil {
		t.Fatal(err)
	}
	addProjectBindingAs(t, e, admin, "acme-prod", "roles/iam.serviceAccountTokenCreator", "user:admin@oidcron.local")
	addProjectBindingAs(t, e, admin, "acme-prod", "roles/cloudfunctions.viewer", "serviceAccount:"+reader.Email)
	cfAdmin, _ := cfv1.NewService(e.ctx, e.rest(admin)...)
	if _, err := cfAdmin.Projects.Locations.Functions.SetIamPolicy("projects/acme-prod/locations/us-central1/functions/hello", &cfv1.SetIamPolicyRequest{
		Policy: &cfv1.Policy{Bindings: []*cfv1.Binding{
			{Role: "roles/cloudfunctions.admin", Members: []string{"serviceAccount:" + reader.Email}},
			{Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:" + target.Email}},
		}}}).Do(); err != nil {
		t.Fatal(err)
	}
	creds, _ := iamcredentials.NewService(e.ctx, e.rest(admin)...)
	at, err := creds.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+reader.Email,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	asReader := troubleshooter(t, e, at.AccessToken)

	// The grant is on the function, which the reader may read.
	r := troubleshootAs(t, asReader, target.Email, invokeP, fnFull)
	sameList(t, "granted", policyAccesses(r), []string{fnFull + " GRANTED HIGH", "UNKNOWN_INFO_DENIED", "UNKNOWN_INFO_DENIED"})
	if r.Access != "GRANTED" || r.ExplainedPolicies[1].Policy != nil || r.ExplainedPolicies[1].BindingExplanations != nil {
		t.Errorf("granted: %s %+v", r.Access, r.ExplainedPolicies[1])
	}
	// No grant it can see: a hidden policy might hold one.
	r = troubleshootAs(t, asReader, "someone@example.com", invokeP, fnFull)
	if r.Access != "UNKNOWN_INFO_DENIED" || r.ExplainedPolicies[0].Access != "NOT_GRANTED" {
		t.Errorf("not granted where visible: %s %q", r.Access, policyAccesses(r))
	}
	// The admin, owner of the root, sees the whole chain.
	r = troubleshootAs(t, troubleshooter(t, e, admin), "someone@example.com", invokeP, fnFull)
	sameList(t, "admin", policyAccesses(r), []string{fnFull + " NOT_GRANTED HIGH", projFull + " NOT_GRANTED HIGH", "//oidcron NOT_GRANTED HIGH"})
	if r.Access != "NOT_GRANTED" {
		t.Errorf("admin: %s", r.Access)
	}

	// A missing function: NOT_FOUND for the admin, nothing for the reader
	// (it may not read the project's policies).
	missing := strings.Replace(fnFull, "hello", "nope", 1)
	r = troubleshootAs(t, asReader, target.Email, invokeP, missing)
	sameList(t, "missing", policyAccesses(r), []string{"UNKNOWN_INFO_DENIED", "UNKNOWN_INFO_DENIED", "UNKNOWN_INFO_DENIED"})
	if r.Access != "UNKNOWN_INFO_DENIED" {
		t.Errorf("missing, as reader: %s", r.Access)
	}
	_, err = troubleshooter(t, e, admin).Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{
		AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{Principal: target.Email, Permission: invokeP, FullResourceName: missing}}).Do()
	apiErr(t, err, 404, "")

	// Without credentials: Google's 401.
	_, err = troubleshooter(t, e, "").Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{
		AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{Principal: target.Email, Permission: invokeP, FullResourceName: fnFull}}).Do()
	apiErr(t, err, 401, "")
}

// Bad input is INVALID_ARGUMENT naming the field.
func TestTroubleshootInvalid(t *testing.T) {
	e := start(t)
	svc := troubleshooter(t, e, "")
	for _, tt := range []struct {
		principal, permission, resource, want string
	}{
		{"", invokeP, fnFull, "access_tuple.principal: required"},
		{"group:g@example.com", invokeP, fnFull, `access_tuple.principal: "group:g@example.com" is not supported`},
		{"not an email", invokeP, fnFull, `access_tuple.principal: "not an email" is invalid`},
		{"a@example.com", "", fnFull, "access_tuple.permission: required"},
		{"a@example.com", "cloudfunctions.*", fnFull, `access_tuple.permission: "cloudfunctions.*" is not a permission`},
		{"a@example.com", invokeP, "", "access_tuple.full_resource_name: required"},
		{"a@example.com", invokeP, "projects/acme", `access_tuple.full_resource_name: "projects/acme" is not the full resource name`},
		{"a@example.com", invokeP, "//compute.googleapis.com/projects/acme/zones/z/instances/i", `access_tuple.full_resource_name: "//compute.googleapis.com/`},
		{"a@example.com", invokeP, "//cloudfunctions.googleapis.com/projects/acme", `access_tuple.full_resource_name: "//cloudfunctions.googleapis.com/projects/acme" is not`},
	} {
		_, err := svc.Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{
			AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{Principal: tt.principal, Permission: tt.permission, FullResourceName: tt.resource}}).Do()
		apiErr(t, err, 400, "")
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v", tt, err)
		}
	}
	for body, want := range map[string]string{
		`{"accessTuple":{"principal":"a@example.com","resource":"x"}}`: `Invalid JSON payload received. Unknown name "resource" at 'access_tuple': Cannot find field.`,
		`{"tuple":{}}`:                    `Invalid JSON payload received. Unknown name "tuple": Cannot find field.`,
		`{"accessTuple":{"principal":7}}`: `Invalid value at 'access_tuple.principal' (TYPE_STRING), 7`,
	} {
		resp, err := http.Post(e.api+"/v1/iam:troubleshoot", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Error struct {
				Code            int
				Message, Status string
			}
		}
		_ = jsonDecode(resp, &got)
		resp.Body.Close()
		if got.Error.Code != 400 || got.Error.Status != "INVALID_ARGUMENT" || got.Error.Message != want {
			t.Errorf("%s: %+v", body, got)
		}
	}
	// snake_case names are Google's too.
	resp, err := http.Post(e.api+"/v1/iam:troubleshoot", "application/json", strings.NewReader(
		`{"access_tuple":{"principal":"dev@oidcron.local","permission":"resourcemanager.projects.get","full_resource_name":"//cloudresourcemanager.googleapis.com/projects/acme"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The project does not exist (troubleshooting creates nothing, even in
	// dev mode), and the dev user may not read the root's policies.
	var got pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse
	if err := jsonDecode(resp, &got); err != nil || resp.StatusCode != 200 || got.Access != "UNKNOWN_INFO_DENIED" {
		t.Errorf("snake_case: %d %+v %v", resp.StatusCode, got, err)
	}
}
