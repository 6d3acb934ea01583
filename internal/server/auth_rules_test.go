package server_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

// authFixture: a --require-auth server with project acme-prod, a viewer
// service account, and the admin allowed to mint that account's tokens.
type authFixture struct {
	e     *env
	admin string
	sa    *iamv1.ServiceAccount
	creds *iamcredentials.Service
}

func newAuthFixture(t *testing.T, opts ...envOption) *authFixture {
	t.Helper()
	e := start(t, append(opts, withRequireAuth())...)
	b, err := os.ReadFile(e.s.Addrs.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	admin := string(b)
	crmAdmin, _ := crm.NewService(e.ctx, e.rest(admin)...)
	if _, err := crmAdmin.Projects.Create(&crm.Project{ProjectId: "acme-prod"}).Do(); err != nil {
		t.Fatal(err)
	}
	iamAdmin, _ := iamv1.NewService(e.ctx, e.rest(admin)...)
	sa, err := iamAdmin.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: "deployer"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := crmAdmin.Projects.GetIamPolicy("acme-prod", &crm.GetIamPolicyRequest{}).Do()
	pol.Bindings = append(pol.Bindings,
		&crm.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:admin@oidcron.local"}},
		&crm.Binding{Role: "roles/viewer", Members: []string{"serviceAccount:" + sa.Email}})
	if _, err := crmAdmin.Projects.SetIamPolicy("acme-prod", &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	creds, _ := iamcredentials.NewService(e.ctx, e.rest(admin)...)
	return &authFixture{e: e, admin: admin, sa: sa, creds: creds}
}

func (f *authFixture) accessToken(t *testing.T, scopes ...string) string {
	t.Helper()
	r, err := f.creds.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+f.sa.Email,
		&iamcredentials.GenerateAccessTokenRequest{Scope: scopes}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return r.AccessToken
}

// An access token carries the scopes it was minted for, and oidcron's APIs
// are all cloud-platform APIs (gcp-behaviour.md §1). A token without that
// scope (say userinfo.email only) is refused as Google refuses it: 403
// PERMISSION_DENIED "Request had insufficient authentication scopes."
func TestNarrowScopeAccessTokenRefused(t *testing.T) {
	f := newAuthFixture(t)
	narrow := f.accessToken(t, "https://www.googleapis.com/auth/userinfo.email")

	svc, _ := crm.NewService(f.e.ctx, f.e.rest(narrow)...)
	_, err := svc.Projects.Get("acme-prod").Do()
	if err == nil {
		t.Errorf("REST: an access token scoped to userinfo.email read project acme-prod; want 403 %q", "Request had insufficient authentication scopes.")
	} else {
		apiErr(t, err, 403, "Request had insufficient authentication scopes.")
	}

	c, err := scheduler.NewCloudSchedulerClient(f.e.ctx, f.e.grpc(narrow)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.ListJobs(f.e.ctx, &schedulerpb.ListJobsRequest{Parent: "projects/acme-prod/locations/us-central1"}).Next()
	if err == iterator.Done {
		err = nil
	}
	if err == nil {
		t.Errorf("gRPC: an access token scoped to userinfo.email listed jobs; want PERMISSION_DENIED (insufficient scopes)")
	} else {
		grpcErr(t, err, codes.PermissionDenied, "Request had insufficient authentication scopes.")
	}
}

// access_token is one of Google's system parameters ("OAuth 2.0 token for
// the current user", cloud.google.com/apis/docs/system-parameters): sent
// instead of an Authorization header it is the call's credential, judged
// as the header would be (a forged one is a 401 in dev mode too).
func TestAccessTokenQueryParameter(t *testing.T) {
	f := newAuthFixture(t)
	at := f.accessToken(t, "https://www.googleapis.com/auth/cloud-platform")
	resp, err := http.Get(f.e.api + "/v1/projects/acme-prod/locations?access_token=" + at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("--require-auth, valid token as ?access_token=: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}

	dev := start(t)
	resp, err = http.Get(dev.api + "/v1/projects/acme-dev/locations?access_token=forged")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(io.LimitReader(resp.Body, 120))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("dev mode, forged ?access_token=: want 401 as for a forged Authorization header, got %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
}
