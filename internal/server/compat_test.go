package server_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/coreos/go-oidc/v3/oidc"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func apiErr(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want googleapi.Error %d, got %v", code, err)
	}
	if ge.Code != code || (msg != "" && ge.Message != msg) {
		t.Fatalf("want %d %q, got %d %q", code, msg, ge.Code, ge.Message)
	}
}

func grpcErr(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Fatalf("want %v %q, got %v", code, msg, err)
	}
}

func hasBinding(p *crm.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// Projects through Resource Manager v1 (the API gcloud uses) and v3 gRPC.
func TestProjectsAndPolicies(t *testing.T) {
	e := start(t)
	svc, err := crm.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	// Dev mode: the first reference creates the project, owned by the dev
	// user, with the scheduler's service agent bound to its role.
	pol, err := svc.Projects.GetIamPolicy("demo-project", &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Projects.Get("demo-project").Do()
	if err != nil {
		t.Fatal(err)
	}
	if n := fmt.Sprint(p.ProjectNumber); len(n) != 12 || p.LifecycleState != "ACTIVE" || p.ProjectId != "demo-project" {
		t.Fatalf("project = %+v", p)
	}
	agent := fmt.Sprintf("serviceAccount:service-%d@gcp-sa-cloudscheduler.iam.gserviceaccount.com", p.ProjectNumber)
	if !hasBinding(pol, "roles/owner", "user:dev@oidcron.local") || !hasBinding(pol, "roles/cloudscheduler.serviceAgent", agent) {
		t.Fatalf("initial policy = %+v", pol.Bindings)
	}
	if pol.Version != 1 || pol.Etag == "" {
		t.Fatalf("version %d etag %q", pol.Version, pol.Etag)
	}

	// Read-modify-write as gcloud does it; then a write with the stale etag
	// is ABORTED with Google's message, and nothing changes.
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: "roles/viewer", Members: []string{"user:alice@example.com"}})
	pol.Version = 3
	newPol, err := svc.Projects.SetIamPolicy("demo-project", &crm.SetIamPolicyRequest{Policy: pol}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !hasBinding(newPol, "roles/viewer", "user:alice@example.com") || newPol.Etag == pol.Etag {
		t.Fatalf("after set: %+v", newPol)
	}
	pol.Bindings = pol.Bindings[:len(pol.Bindings)-1]
	_, err = svc.Projects.SetIamPolicy("demo-project", &crm.SetIamPolicyRequest{Policy: pol}).Do()
	apiErr(t, err, 409, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	// A project keeps an owner: a policy without one would lock everyone out.
	_, err = svc.Projects.SetIamPolicy("demo-project", &crm.SetIamPolicyRequest{Policy: &crm.Policy{
		Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"user:dev@oidcron.local"}}}}}).Do()
	apiErr(t, err, 400, "policy: a project's policy must keep at least one owner (a binding of roles/owner with a user, service account or group).")

	// Validation: allUsers cannot be granted on a project; unknown roles are refused.
	bad := &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"allUsers"}}}}
	_, err = svc.Projects.SetIamPolicy("demo-project", &crm.SetIamPolicyRequest{Policy: bad}).Do()
	apiErr(t, err, 400, "")
	bad = &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/nope", Members: []string{"user:a@example.com"}}}}
	_, err = svc.Projects.SetIamPolicy("demo-project", &crm.SetIamPolicyRequest{Policy: bad}).Do()
	apiErr(t, err, 400, "Role (roles/nope) does not exist in the resource's hierarchy.")

	perms, err := svc.Projects.TestIamPermissions("demo-project", &crm.TestIamPermissionsRequest{
		Permissions: []string{"resourcemanager.projects.get", "iam.serviceAccounts.getOpenIdToken"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// The owner role does not carry the short-lived credential permissions.
	if !slices.Equal(perms.Permissions, []string{"resourcemanager.projects.get"}) {
		t.Fatalf("testIamPermissions = %v", perms.Permissions)
	}

	// Explicit creation follows Google's project id rule.
	_, err = svc.Projects.Create(&crm.Project{ProjectId: "x"}).Do()
	apiErr(t, err, 400, "")
	op, err := svc.Projects.Create(&crm.Project{ProjectId: "second-project", Name: "Second"}).Do()
	if err != nil || !op.Done {
		t.Fatalf("create: %v %+v", err, op)
	}
	list, err := svc.Projects.List().Do()
	if err != nil || len(list.Projects) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}

	// The same project through Resource Manager v3 over gRPC, by number.
	c, err := resourcemanager.NewProjectsClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p3, err := c.GetProject(e.ctx, &resourcemanagerpb.GetProjectRequest{Name: fmt.Sprintf("projects/%d", p.ProjectNumber)})
	if err != nil || p3.GetProjectId() != "demo-project" {
		t.Fatalf("v3 get: %v %v", err, p3)
	}
	p3pol, err := c.GetIamPolicy(e.ctx, &iampb.GetIamPolicyRequest{Resource: "projects/demo-project", Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil || len(p3pol.GetBindings()) != len(newPol.Bindings) {
		t.Fatalf("v3 getIamPolicy: %v %v", err, p3pol)
	}
	tp, err := c.TestIamPermissions(e.ctx, &iampb.TestIamPermissionsRequest{Resource: "projects/demo-project", Permissions: []string{"resourcemanager.projects.setIamPolicy"}})
	if err != nil || len(tp.GetPermissions()) != 1 {
		t.Fatalf("v3 testIamPermissions: %v %v", err, tp)
	}
	// By number too, as Resource Manager takes either.
	tp, err = c.TestIamPermissions(e.ctx, &iampb.TestIamPermissionsRequest{Resource: fmt.Sprintf("projects/%d", p.ProjectNumber),
		Permissions: []string{"resourcemanager.projects.setIamPolicy"}})
	if err != nil || len(tp.GetPermissions()) != 1 {
		t.Fatalf("v3 testIamPermissions by number: %v %v", err, tp)
	}
}

// Service accounts through IAM v1 REST and the IAM admin gRPC client.
func TestServiceAccounts(t *testing.T) {
	e := start(t)
	svc, err := iamv1.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := svc.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{
		AccountId: "scheduler-invoker", ServiceAccount: &iamv1.ServiceAccount{DisplayName: "Scheduler Invoker"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if sa.Email != "scheduler-invoker@acme-prod.iam.gserviceaccount.com" || len(sa.UniqueId) != 21 || sa.ProjectId != "acme-prod" ||
		sa.Name != "projects/acme-prod/serviceAccounts/"+sa.Email || sa.Oauth2ClientId != sa.UniqueId {
		t.Fatalf("created %+v", sa)
	}
	_, err = svc.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: "scheduler-invoker"}).Do()
	apiErr(t, err, 409, "Service account scheduler-invoker already exists within project projects/acme-prod.")
	_, err = svc.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: "Bad_Id"}).Do()
	apiErr(t, err, 400, "")

	// Get by email, by unique id, through the "-" wildcard.
	for _, name := range []string{sa.Name, "projects/-/serviceAccounts/" + sa.UniqueId, "projects/acme-prod/serviceAccounts/" + sa.UniqueId} {
		got, err := svc.Projects.ServiceAccounts.Get(name).Do()
		if err != nil || got.Email != sa.Email {
			t.Fatalf("get %s: %v %+v", name, err, got)
		}
	}
	_, err = svc.Projects.ServiceAccounts.Get("projects/-/serviceAccounts/missing@acme-prod.iam.gserviceaccount.com").Do()
	apiErr(t, err, 403, "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).")
	_, err = svc.Projects.ServiceAccounts.Get("projects/acme-prod/serviceAccounts/missing@acme-prod.iam.gserviceaccount.com").Do()
	apiErr(t, err, 404, "Unknown service account")

	// Paging through the list.
	for i := range 4 {
		if _, err := svc.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: fmt.Sprintf("worker-%02d", i)}).Do(); err != nil {
			t.Fatal(err)
		}
	}
	var emails []string
	err = svc.Projects.ServiceAccounts.List("projects/acme-prod").PageSize(2).Pages(e.ctx, func(r *iamv1.ListServiceAccountsResponse) error {
		if len(r.Accounts) > 2 {
			t.Fatalf("page of %d", len(r.Accounts))
		}
		for _, a := range r.Accounts {
			emails = append(emails, a.Email)
		}
		return nil
	})
	if err != nil || len(emails) != 5 || !slices.IsSorted(emails) {
		t.Fatalf("list: %v %v", err, emails)
	}

	// Patch, disable, enable, delete, undelete.
	patched, err := svc.Projects.ServiceAccounts.Patch(sa.Name, &iamv1.PatchServiceAccountRequest{
		ServiceAccount: &iamv1.ServiceAccount{Description: "calls functions"}, UpdateMask: "description"}).Do()
	if err != nil || patched.Description != "calls functions" || patched.DisplayName != "Scheduler Invoker" {
		t.Fatalf("patch: %v %+v", err, patched)
	}
	if _, err := svc.Projects.ServiceAccounts.Disable(sa.Name, &iamv1.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Projects.ServiceAccounts.Get(sa.Name).Do(); got == nil || !got.Disabled {
		t.Fatalf("not disabled: %+v", got)
	}
	if _, err := svc.Projects.ServiceAccounts.Enable(sa.Name, &iamv1.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	// A deleted account's grants turn into deleted: members, so an account
	// created again with the same email inherits nothing; undelete restores them.
	addProjectBinding(t, e, "acme-prod", "roles/editor", "serviceAccount:"+sa.Email)
	rm, _ := crm.NewService(e.ctx, e.rest("")...)
	projectHas := func(member string) bool {
		pol, err := rm.Projects.GetIamPolicy("acme-prod", &crm.GetIamPolicyRequest{}).Do()
		if err != nil {
			t.Fatal(err)
		}
		return hasBinding(pol, "roles/editor", member)
	}
	if _, err := svc.Projects.ServiceAccounts.Delete(sa.Name).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Projects.ServiceAccounts.Get(sa.Name).Do()
	apiErr(t, err, 404, "")
	gone := "deleted:serviceAccount:" + sa.Email + "?uid=" + sa.UniqueId
	if projectHas("serviceAccount:"+sa.Email) || !projectHas(gone) {
		t.Fatal("the deleted account's binding was not rewritten")
	}
	und, err := svc.Projects.ServiceAccounts.Undelete("projects/-/serviceAccounts/"+sa.UniqueId, &iamv1.UndeleteServiceAccountRequest{}).Do()
	if err != nil || und.RestoredAccount.Email != sa.Email {
		t.Fatalf("undelete: %v %+v", err, und)
	}
	if !projectHas("serviceAccount:"+sa.Email) || projectHas(gone) {
		t.Fatal("undelete did not restore the binding")
	}

	// The account's own policy, at version 3 as gcloud asks.
	pol, err := svc.Projects.ServiceAccounts.GetIamPolicy(sa.Name).OptionsRequestedPolicyVersion(3).Do()
	if err != nil || pol.Etag != "ACAB" || pol.Version != 1 {
		t.Fatalf("empty SA policy: %v %+v", err, pol)
	}
	pol.Bindings = []*iamv1.Binding{{Role: "roles/iam.serviceAccountUser", Members: []string{"user:bob@example.com"}}}
	if _, err := svc.Projects.ServiceAccounts.SetIamPolicy(sa.Name, &iamv1.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	// A binding to a service account that does not exist is refused.
	pol.Bindings = []*iamv1.Binding{{Role: "roles/iam.serviceAccountUser", Members: []string{"serviceAccount:ghost@acme-prod.iam.gserviceaccount.com"}}}
	pol.Etag = ""
	_, err = svc.Projects.ServiceAccounts.SetIamPolicy(sa.Name, &iamv1.SetIamPolicyRequest{Policy: pol}).Do()
	apiErr(t, err, 400, "Service account ghost@acme-prod.iam.gserviceaccount.com does not exist.")

	// Roles catalogue.
	role, err := svc.Roles.Get("roles/cloudfunctions.invoker").Do()
	if err != nil || !slices.Contains(role.IncludedPermissions, "cloudfunctions.functions.invoke") {
		t.Fatalf("role: %v %+v", err, role)
	}
	_, err = svc.Roles.Get("roles/nope").Do()
	apiErr(t, err, 404, "")

	// The gRPC admin client sees the same accounts.
	c, err := admin.NewIamClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.GetServiceAccount(e.ctx, &adminpb.GetServiceAccountRequest{Name: sa.Name})
	if err != nil || got.GetUniqueId() != sa.UniqueId {
		t.Fatalf("grpc get: %v %v", err, got)
	}
	it := c.ListServiceAccounts(e.ctx, &adminpb.ListServiceAccountsRequest{Name: "projects/acme-prod", PageSize: 2})
	n := 0
	for {
		_, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("grpc list: %d", n)
	}
}

// invokerAccount makes the IAM admin and IAM Credentials REST clients and
// the account acme/invoker.
func invokerAccount(t *testing.T, e *env) (*iamv1.Service, *iamcredentials.Service, *iamv1.ServiceAccount) {
	t.Helper()
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	creds, _ := iamcredentials.NewService(e.ctx, e.rest("")...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "invoker"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return iamSvc, creds, sa
}

// ID tokens through IAM Credentials (REST and gRPC), verified by go-oidc
// through the discovery document.
func TestIdentityTokens(t *testing.T) {
	e := start(t)
	iamSvc, creds, sa := invokerAccount(t, e)
	name := "projects/-/serviceAccounts/" + sa.Email
	aud := "https://us-central1-acme.cloudfunctions.net/hello"

	// Even the project owner needs Token Creator, as on Google Cloud.
	_, err := creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: aud}).Do()
	apiErr(t, err, 403, "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).")
	grantTokenCreator(t, e, "acme", "user:dev@oidcron.local")

	_, err = creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{}).Do()
	apiErr(t, err, 400, "")
	_, err = creds.Projects.ServiceAccounts.GenerateIdToken("projects/acme/serviceAccounts/"+sa.Email, &iamcredentials.GenerateIdTokenRequest{Audience: aud}).Do()
	apiErr(t, err, 400, "")

	resp, err := creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: aud, IncludeEmail: true}).Do()
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(e.ctx, e.s.Addrs.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: aud}).Verify(e.ctx, resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud           string `json:"aud"`
		Azp           string `json:"azp"`
		Sub           string `json:"sub"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Iat, Exp      int64
	}
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Aud != aud || c.Azp != sa.UniqueId || c.Sub != sa.UniqueId || c.Email != sa.Email || !c.EmailVerified || c.Exp-c.Iat != 3600 {
		t.Fatalf("claims %+v", c)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "https://other"}).Verify(e.ctx, resp.Token); err == nil {
		t.Fatal("wrong audience accepted")
	}

	// The gRPC credentials client; a disabled account gets no new token.
	gc, err := credentials.NewIamCredentialsClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if _, err := gc.GenerateIdToken(e.ctx, &credentialspb.GenerateIdTokenRequest{Name: name, Audience: aud}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamSvc.Projects.ServiceAccounts.Disable(sa.Name, &iamv1.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = gc.GenerateIdToken(e.ctx, &credentialspb.GenerateIdTokenRequest{Name: name, Audience: aud})
	grpcErr(t, err, codes.FailedPrecondition, "")
	if _, err := iamSvc.Projects.ServiceAccounts.Enable(sa.Name, &iamv1.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}

	// Access tokens: scope required, lifetime at most an hour.
	_, err = creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{}).Do()
	apiErr(t, err, 400, "")
	_, err = creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}, Lifetime: "7200s"}).Do()
	apiErr(t, err, 400, "")
	at, err := creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
	if err != nil || at.AccessToken == "" || at.ExpireTime == "" {
		t.Fatalf("access token: %v %+v", err, at)
	}

	// Delegation: the dev user -> delegate -> target. The delegate needs
	// Token Creator on the target; without it the chain breaks there.
	del, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "delegate"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	req := &iamcredentials.GenerateIdTokenRequest{Audience: aud, Delegates: []string{"projects/-/serviceAccounts/" + del.Email}}
	_, err = creds.Projects.ServiceAccounts.GenerateIdToken(name, req).Do()
	apiErr(t, err, 403, "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).")
	// The first hop: a caller without implicitDelegation on the delegate is
	// refused there (here a second project whose owner holds no Token Creator).
	outsider, _ := iamv1.NewService(e.ctx, e.rest("")...)
	other, err := outsider.Projects.ServiceAccounts.Create("projects/other-proj", &iamv1.CreateServiceAccountRequest{AccountId: "other-sa"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: aud,
		Delegates: []string{"projects/-/serviceAccounts/" + other.Email}}).Do()
	apiErr(t, err, 403, "Permission 'iam.serviceAccounts.implicitDelegation' denied on resource (or it may not exist).")
	saPol := &iamv1.Policy{Bindings: []*iamv1.Binding{{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"serviceAccount:" + del.Email}}}}
	if _, err := iamSvc.Projects.ServiceAccounts.SetIamPolicy(sa.Name, &iamv1.SetIamPolicyRequest{Policy: saPol}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Projects.ServiceAccounts.GenerateIdToken(name, req).Do(); err != nil {
		t.Fatal(err)
	}
	// A disabled delegate breaks the chain.
	if _, err := iamSvc.Projects.ServiceAccounts.Disable(del.Name, &iamv1.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = creds.Projects.ServiceAccounts.GenerateIdToken(name, req).Do()
	apiErr(t, err, 403, "Permission 'iam.serviceAccounts.implicitDelegation' denied on resource (or it may not exist).")
}

// grantTokenCreator gives member Token Creator on a project.
func grantTokenCreator(t *testing.T, e *env, project, member string) {
	t.Helper()
	addProjectBinding(t, e, project, "roles/iam.serviceAccountTokenCreator", member)
}

func addProjectBinding(t *testing.T, e *env, project, role, member string) {
	t.Helper()
	svc, _ := crm.NewService(e.ctx, e.rest("")...)
	pol, err := svc.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: role, Members: []string{member}})
	if _, err := svc.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
}
