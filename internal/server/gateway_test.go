package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	functions "cloud.google.com/go/functions/apiv2"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/gateway"
	"github.com/oidcron/oidcron/internal/identity"
)

// fixture: a project with a function fronting an upstream, an invoker
// service account, and a way to mint its tokens.
type fixture struct {
	*env
	up      *upstream
	fn      *cfv2.Function
	sa      *iamv1.ServiceAccount
	cf      *cfv2.Service
	cfv1    *cfv1.Service
	iam     *iamv1.Service
	creds   *iamcredentials.Service
	project string
}

func newFixture(t *testing.T, gen string, opts ...envOption) *fixture {
	e := start(t, opts...)
	f := &fixture{env: e, up: newUpstream(t), project: "acme"}
	f.cf, _ = cfv2.NewService(e.ctx, e.rest("")...)
	f.cfv1, _ = cfv1.NewService(e.ctx, e.rest("")...)
	f.iam, _ = iamv1.NewService(e.ctx, e.rest("")...)
	f.creds, _ = iamcredentials.NewService(e.ctx, e.rest("")...)
	op, err := f.cf.Projects.Locations.Functions.Create("projects/acme/locations/us-central1", &cfv2.Function{
		Environment:   gen,
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": f.up.URL + "/base"}},
	}).FunctionId("hello").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done {
		t.Fatalf("operation not done: %+v", op)
	}
	if f.fn, err = f.cf.Projects.Locations.Functions.Get("projects/acme/locations/us-central1/functions/hello").Do(); err != nil {
		t.Fatal(err)
	}
	if f.fn.Url != "https://us-central1-acme.cloudfunctions.net/hello" || f.fn.State != "ACTIVE" {
		t.Fatalf("function %+v", f.fn)
	}
	if f.sa, err = f.iam.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "scheduler-invoker"}).Do(); err != nil {
		t.Fatal(err)
	}
	grantTokenCreator(t, e, "acme", "user:dev@oidcron.local")
	return f
}

func (f *fixture) token(t *testing.T, aud string) string {
	t.Helper()
	r, err := f.creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+f.sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: aud, IncludeEmail: true}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return r.Token
}

// call invokes the function through the gateway by its canonical host.
func (f *fixture) call(t *testing.T, path, authz string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+f.s.Addrs.Gateway+path, nil)
	req.Host = "us-central1-acme.cloudfunctions.net"
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) setFunctionPolicy(t *testing.T, role string, members ...string) {
	t.Helper()
	_, err := f.cfv1.Projects.Locations.Functions.SetIamPolicy(f.fn.Name, &cfv1.SetIamPolicyRequest{
		Policy: &cfv1.Policy{Bindings: []*cfv1.Binding{{Role: role, Members: members}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
}

const forbidden403 = "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>403 Forbidden</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: Forbidden</h1>\n<h2>Your client does not have permission to get URL <code>/hello</code> from this server.</h2>\n<h2></h2>\n</body></html>\n"

// The classic story at the gateway: no token 403, token without the
// invoker role 403, the role granted 200, and the upstream sees the token.
func TestGatewayFirstGen(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, "", withLogger(&logs))
	// The v1 API, as gcloud reads a 1st gen function and its policy.
	v1fn, err := f.cfv1.Projects.Locations.Functions.Get(f.fn.Name).Do()
	if err != nil || v1fn.HttpsTrigger == nil || v1fn.HttpsTrigger.Url != f.fn.Url || v1fn.Status != "ACTIVE" {
		t.Fatalf("v1 get: %v %+v", err, v1fn)
	}
	if pol, err := f.cfv1.Projects.Locations.Functions.GetIamPolicy(f.fn.Name).Do(); err != nil || pol.Etag != "ACAB" {
		t.Fatalf("v1 getIamPolicy: %v %+v", err, pol)
	}
	resp, body := f.call(t, "/hello", "")
	if resp.StatusCode != 403 || body != forbidden403 {
		t.Fatalf("no token: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get(gateway.ReasonHeader), "no Authorization header") {
		t.Fatalf("reason: %q", resp.Header.Get(gateway.ReasonHeader))
	}
	tok := f.token(t, f.fn.Url)
	resp, _ = f.call(t, "/hello", "Bearer "+tok)
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get(gateway.ReasonHeader), "cloudfunctions.functions.invoke") {
		t.Fatalf("no role: %d %q", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
	// Granting the role to someone else changes nothing.
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com")
	if resp, _ = f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 403 {
		t.Fatalf("role on another principal: %d", resp.StatusCode)
	}
	// Every denial is logged with its precise reason.
	if l := logs.String(); !strings.Contains(l, `msg="gateway denied"`) || !strings.Contains(l, `lacks permission \"cloudfunctions.functions.invoke\"`) {
		t.Fatalf("denial not logged with its reason:\n%s", l)
	}
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	resp, body = f.call(t, "/hello/sub/path?x=1", "Bearer "+tok)
	if resp.StatusCode != 200 {
		t.Fatalf("granted: %d %s", resp.StatusCode, body)
	}
	got := f.up.last()
	if got.URL.Path != "/base/sub/path" || got.URL.RawQuery != "x=1" || got.Header.Get("Authorization") != "Bearer "+tok ||
		got.Header.Get("X-Forwarded-Host") != "us-central1-acme.cloudfunctions.net" {
		t.Fatalf("upstream saw %s %q %v", got.URL.Path, got.URL.RawQuery, got.Header)
	}
	// The path form routes too, and its URL is an accepted audience.
	pathURL := f.s.Addrs.GatewayURL + "/acme/us-central1/hello"
	req, _ := http.NewRequest("GET", pathURL, nil)
	req.Header.Set("Authorization", "Bearer "+f.token(t, pathURL))
	r2, err := http.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("path form: %v %v", err, r2)
	}
	r2.Body.Close()

	// A disabled account's token is refused with 401 while it is disabled.
	if _, err := f.iam.Projects.ServiceAccounts.Disable(f.sa.Name, &iamv1.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if resp, _ = f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("disabled: %d", resp.StatusCode)
	}
	if _, err := f.iam.Projects.ServiceAccounts.Enable(f.sa.Name, &iamv1.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if resp, _ = f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("re-enabled: %d", resp.StatusCode)
	}
}

// A project-level grant is inherited; public and all-authenticated
// functions; an unknown function is a 404.
func TestGatewayPolicies(t *testing.T) {
	f := newFixture(t, "")
	tok := f.token(t, f.fn.Url)
	addProjectBinding(t, f.env, "acme", "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	if resp, _ := f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("inherited: %d", resp.StatusCode)
	}

	f2 := newFixture(t, "")
	f2.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "allUsers")
	if resp, _ := f2.call(t, "/hello", ""); resp.StatusCode != 200 {
		t.Fatalf("public: %d", resp.StatusCode)
	}
	f2.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "allAuthenticatedUsers")
	if resp, _ := f2.call(t, "/hello", ""); resp.StatusCode != 403 {
		t.Fatalf("allAuthenticatedUsers without token: %d", resp.StatusCode)
	}
	if resp, _ := f2.call(t, "/hello", "Bearer "+f2.token(t, f2.fn.Url)); resp.StatusCode != 200 {
		t.Fatalf("allAuthenticatedUsers with token: %d", resp.StatusCode)
	}
	if resp, _ := f2.call(t, "/hello", "Bearer "+f2.token(t, "https://us-central1-acme.cloudfunctions.net/other")); resp.StatusCode != 401 {
		t.Fatalf("allAuthenticatedUsers wrong audience: %d", resp.StatusCode)
	}
	if resp, _ := f2.call(t, "/nothing", ""); resp.StatusCode != 404 {
		t.Fatalf("no such function: %d", resp.StatusCode)
	}
}

// 2nd gen checks run.routes.invoke: roles/cloudfunctions.invoker bound on
// the function grants nothing (gcloud warns as much), run.invoker does.
func TestGatewaySecondGen(t *testing.T) {
	f := newFixture(t, "GEN_2")
	tok := f.token(t, f.fn.Url)
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	resp, _ := f.call(t, "/hello", "Bearer "+tok)
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get(gateway.ReasonHeader), "run.routes.invoke") {
		t.Fatalf("gen2 with cloudfunctions.invoker: %d %q", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
	// roles/run.invoker cannot be bound on a function policy, as gcloud says.
	_, err := f.cfv1.Projects.Locations.Functions.SetIamPolicy(f.fn.Name, &cfv1.SetIamPolicyRequest{
		Policy: &cfv1.Policy{Bindings: []*cfv1.Binding{{Role: "roles/run.invoker", Members: []string{"serviceAccount:" + f.sa.Email}}}}}).Do()
	apiErr(t, err, 400, "Role roles/run.invoker is not supported for this resource.")
	// It is granted on the underlying Cloud Run service.
	rc, err := run.NewServicesClient(f.ctx, f.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	svcName := f.fn.ServiceConfig.Service
	if svcName != "projects/acme/locations/us-central1/services/hello" {
		t.Fatalf("service = %q", svcName)
	}
	if _, err := rc.SetIamPolicy(f.ctx, &iampb.SetIamPolicyRequest{Resource: svcName, Policy: &iampb.Policy{
		Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"serviceAccount:" + f.sa.Email}}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("gen2 with run.invoker on the service: %d %q", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
	// The v1 API does not show 2nd gen functions.
	if _, err := f.cfv1.Projects.Locations.Functions.Get(f.fn.Name).Do(); err == nil {
		t.Fatal("v1 get of a gen2 function succeeded")
	}
}

// The token attack suite at the gateway: each forged or stale token is a
// 401, for its own reason.
func TestGatewayTokenAttacks(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	f := newFixture(t, "", withFakeClock(clk))
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	good := f.token(t, f.fn.Url)
	if resp, _ := f.call(t, "/hello", "Bearer "+good); resp.StatusCode != 200 {
		t.Fatalf("good token: %d", resp.StatusCode)
	}
	header, payload, sig := split(good)
	var claims map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	_ = json.Unmarshal(b, &claims)
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

	// Wrong issuer: signed by the real key, through a minter with another issuer.
	evil := identity.NewMinter(f.s.Keys, clk, "https://accounts.google.com")
	wrongIss, _, err := evil.IDToken(f.ctx, identity.Account{Email: f.sa.Email, UniqueID: f.sa.UniqueId, ProjectID: "acme"}, f.fn.Url, true)
	if err != nil {
		t.Fatal(err)
	}
	// Unknown kid: a key oidcron never published.
	rogue, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rogue, KeyID: "rogue"}}, (&jose.SignerOptions{}).WithType("JWT"))
	unknownKid, _ := jwt.Signed(signer).Claims(claims).Serialize()
	// HS256 keyed with the published public key's JWK bytes.
	jwks := f.s.Keys.JWKS()
	pub, _ := json.Marshal(jwks.Keys[0].Public())
	hsHeader := seg(map[string]string{"alg": "HS256", "typ": "JWT", "kid": jwks.Keys[0].KeyID})
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(hsHeader + "." + payload))
	hs256 := hsHeader + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	// Tampered payload keeps the original signature.
	tampered := claims
	tampered["email"] = "attacker@evil.example"
	tamperedTok := header + "." + seg(tampered) + "." + sig

	cases := map[string]struct{ tok, reason string }{
		"alg none":         {seg(map[string]string{"alg": "none", "typ": "JWT"}) + "." + payload + ".", "(algorithm)"},
		"HS256 public key": {hs256, "(algorithm)"},
		"tampered payload": {tamperedTok, "(signature)"},
		"unknown kid":      {unknownKid, "(unknown_key)"},
		"wrong issuer":     {wrongIss, "(issuer)"},
		"audience host":    {f.token(t, "https://us-central1-acme.cloudfunctions.net"), "(audience)"},
		"audience query":   {f.token(t, f.fn.Url+"?x=1"), "(audience)"},
		"audience slash":   {f.token(t, f.fn.Url+"/"), "(audience)"},
		"access token":     {accessToken(t, f), "(not_id_token)"},
		"garbage":          {"not-a-jwt", "(malformed)"},
	}
	for name, c := range cases {
		resp, body := f.call(t, "/hello", "Bearer "+c.tok)
		reason := resp.Header.Get(gateway.ReasonHeader)
		if resp.StatusCode != 401 || !strings.Contains(body, "401 Unauthorized") || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: %d %q, want 401 %s", name, resp.StatusCode, reason, c.reason)
		}
	}

	// Expired: an hour later the same token is refused.
	clk.Advance(time.Hour)
	if resp, _ := f.call(t, "/hello", "Bearer "+good); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get(gateway.ReasonHeader), "expired") {
		t.Fatalf("expired: %d %q", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
	// A key retired past its grace: rotate (24h period) twice and let the
	// grace pass; the old key is gone from the JWKS and its token is refused
	// as signed by an unknown key.
	oldKid := jwks.Keys
	for range 3 {
		clk.Advance(25 * time.Hour)
	}
	if err := f.s.Keys.Maintain(f.ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range f.s.Keys.JWKS().Keys {
		for _, o := range oldKid {
			if k.KeyID == o.KeyID && o.KeyID == kidOf(t, good) {
				t.Fatalf("retired key %s still published", k.KeyID)
			}
		}
	}
	if resp, _ := f.call(t, "/hello", "Bearer "+good); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get(gateway.ReasonHeader), "(unknown_key)") {
		t.Fatalf("retired key: %d %q", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
	// A fresh token from the current key works.
	if resp, _ := f.call(t, "/hello", "Bearer "+f.token(t, f.fn.Url)); resp.StatusCode != 200 {
		t.Fatalf("fresh token after rotation: %d", resp.StatusCode)
	}
}

func accessToken(t *testing.T, f *fixture) string {
	r, err := f.creds.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+f.sa.Email,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return r.AccessToken
}

func split(tok string) (string, string, string) {
	p := strings.Split(tok, ".")
	return p[0], p[1], p[2]
}

func kidOf(t *testing.T, tok string) string {
	h, _, _ := split(tok)
	b, _ := base64.RawURLEncoding.DecodeString(h)
	var v struct{ Kid string }
	_ = json.Unmarshal(b, &v)
	return v.Kid
}

// The v2 gRPC client deploys and lists functions too.
func TestFunctionsGRPC(t *testing.T) {
	e := start(t)
	up := newUpstream(t)
	c, err := functions.NewFunctionClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, err := c.CreateFunction(e.ctx, &functionspb.CreateFunctionRequest{
		Parent: "projects/acme/locations/europe-west1", FunctionId: "echo",
		Function: &functionspb.Function{Environment: functionspb.Environment_GEN_2,
			ServiceConfig: &functionspb.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": up.URL}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fn, err := op.Wait(e.ctx)
	if err != nil || fn.GetUrl() != "https://europe-west1-acme.cloudfunctions.net/echo" || fn.GetEnvironment() != functionspb.Environment_GEN_2 {
		t.Fatalf("created %v %v", err, fn)
	}
	_, err = c.CreateFunction(e.ctx, &functionspb.CreateFunctionRequest{Parent: "projects/acme/locations/europe-west1", FunctionId: "nourl", Function: &functionspb.Function{}})
	grpcErr(t, err, 3, "")
	it := c.ListFunctions(e.ctx, &functionspb.ListFunctionsRequest{Parent: "projects/acme/locations/-"})
	if f, err := it.Next(); err != nil || f.GetName() != fn.GetName() {
		t.Fatalf("list: %v %v", err, f)
	}
}

// syncBuffer is a log sink the server writes from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
