package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func authClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAuthPrintIdentityToken(t *testing.T) {
	e := start(t)
	e.ok("iam", "service-accounts", "create", "scheduler-invoker", "--project", "demo-project")
	sa := "scheduler-invoker@demo-project.iam.gserviceaccount.com"
	aud := "https://us-central1-demo-project.cloudfunctions.net/hello"
	warning := "WARNING: This command is using service account impersonation. All API calls will be executed as [" + sa + "].\n"

	// Even the owner needs Token Creator: gcloud's impersonation error, then the API's.
	r := e.run("", "auth", "print-identity-token", "--impersonate-service-account="+sa, "--audiences="+aud)
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Failed to impersonate ["+sa+"]. Make sure the account that's trying to impersonate it "+
		"has access to the service account itself and the \"roles/iam.serviceAccountTokenCreator\" role. Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).") {
		t.Errorf("without token creator: %v", r.code)
	}
	iamSame(t, "denied stderr", r.err, warning)
	if r.out != "" {
		t.Errorf("denied stdout: %q", r.out)
	}

	e.ok("iam", "service-accounts", "add-iam-policy-binding", sa, "--member=user:dev@oidcron.local", "--role=roles/iam.serviceAccountTokenCreator")
	r = e.run("", "auth", "print-identity-token", "--impersonate-service-account="+sa, "--audiences="+aud)
	if r.code != nil {
		t.Fatalf("print-identity-token: %v", r.code)
	}
	iamSame(t, "stderr", r.err, warning)
	if !strings.HasSuffix(r.out, "\n") || strings.Count(r.out, "\n") != 1 {
		t.Fatalf("stdout is not one token line: %q", r.out)
	}
	c := authClaims(t, strings.TrimSuffix(r.out, "\n"))
	if c["aud"] != aud || c["iss"] != e.api || c["sub"] == nil {
		t.Errorf("claims: %v", c)
	}
	if _, ok := c["email"]; ok {
		t.Errorf("email without --include-email: %v", c)
	}

	out := e.ok("auth", "print-identity-token", "--impersonate-service-account="+sa, "--audiences="+aud, "--include-email")
	c = authClaims(t, strings.TrimSpace(out))
	if c["email"] != sa || c["email_verified"] != true {
		t.Errorf("--include-email claims: %v", c)
	}
	// No --audiences: gcloud's own client id is the audience.
	c = authClaims(t, strings.TrimSpace(e.ok("auth", "print-identity-token", "--impersonate-service-account="+sa)))
	if c["aud"] != "32555940559.apps.googleusercontent.com" {
		t.Errorf("default audience: %v", c["aud"])
	}

	// A disabled account mints nothing.
	e.ok("iam", "service-accounts", "disable", sa)
	r = e.run("", "auth", "print-identity-token", "--impersonate-service-account="+sa, "--audiences="+aud)
	if r.code == nil || r.code.Error() != "FAILED_PRECONDITION: Service account "+sa+" is disabled." {
		t.Errorf("disabled: %v", r.code)
	}

	iamFails(t, e, "argument --impersonate-service-account: Must be specified: oidcron keeps no credentials of its own, "+
		"so it mints identity tokens for a service account.", "auth", "print-identity-token", "--audiences="+aud)
	iamFails(t, e, `Invalid value for [--impersonate-service-account]: "scheduler-invoker" is not a service account email.`,
		"auth", "print-identity-token", "--impersonate-service-account=scheduler-invoker")
	iamFails(t, e, unrecognizedOne("extra"), "auth", "print-identity-token", "extra", "--impersonate-service-account="+sa)
}
