package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
)

// With --require-auth every call needs a bearer token: none is a 401 with
// Google's text; the admin token, an ID token and an access token from
// this issuer all authenticate, as their principals.
func TestRequireAuth(t *testing.T) {
	f := newAuthFixture(t)
	e, sa, creds := f.e, f.sa, f.creds
	anon, _ := crm.NewService(e.ctx, e.rest("")...)
	_, err := anon.Projects.Get("acme-prod").Do()
	apiErr(t, err, 401, "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	bad, _ := crm.NewService(e.ctx, e.rest("forged")...)
	_, err = bad.Projects.Get("acme-prod").Do()
	apiErr(t, err, 401, "")

	crmAdmin, _ := crm.NewService(e.ctx, e.rest(f.admin)...)
	// No project is created by reference any more.
	_, err = crmAdmin.Projects.Get("never-created").Do()
	apiErr(t, err, 403, "The caller does not have permission")

	idt, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email, &iamcredentials.GenerateIdTokenRequest{Audience: e.s.Addrs.Issuer}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// A token minted for a function reaches that function; it must not
	// authenticate against the API.
	fnTok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: "https://us-central1-acme-prod.cloudfunctions.net/f"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := crm.NewService(e.ctx, e.rest(fnTok.Token)...)
	_, err = replay.Projects.Get("acme-prod").Do()
	apiErr(t, err, 401, "")
	at, err := creds.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{idt.Token, at.AccessToken} {
		asSA, _ := crm.NewService(e.ctx, e.rest(tok)...)
		if _, err := asSA.Projects.Get("acme-prod").Do(); err != nil {
			t.Fatalf("viewer SA get: %v", err)
		}
		// The viewer may not change the policy.
		_, err = asSA.Projects.SetIamPolicy("acme-prod", &crm.SetIamPolicyRequest{Policy: &crm.Policy{}}).Do()
		apiErr(t, err, 403, "The caller does not have permission")
	}
	// No reasons leak from the gateway when auth is required.
	resp, err := http.Get(e.s.Addrs.GatewayURL + "/acme-prod/us-central1/none")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Oidcron-Denial-Reason") != "" {
		t.Fatal("reason exposed with --require-auth")
	}
}

// The metadata server's identity endpoint, for workloads beside oidcron.
func TestMetadataIdentity(t *testing.T) {
	e := start(t, withMetadataAccount("workload@acme.iam.gserviceaccount.com"))
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	if _, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "workload"}).Do(); err != nil {
		t.Fatal(err)
	}
	url := e.api + "/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://x.example/f&format=full"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("without Metadata-Flavor: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(b), ".") != 2 || resp.Header.Get("Metadata-Flavor") != "Google" {
		t.Fatalf("identity: %d %q", resp.StatusCode, b)
	}
}
