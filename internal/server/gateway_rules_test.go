package server_test

import (
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/iam"
)

// A function is its upstream's base path: "the path after the function name
// is appended to the upstream's path" (README). A request path with dot
// segments must not reach upstream paths outside that base, or a caller
// allowed to invoke one function reaches another function that shares the
// upstream host (nginx, Apache and most frameworks resolve "..").
func TestGatewayDotSegmentsStayInUpstreamBase(t *testing.T) {
	f := newFixture(t, "")
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "allUsers")
	for _, p := range []string{"/hello/../secret", "/hello/%2e%2e/secret", "/hello/..%2Fsecret"} {
		req, _ := http.NewRequest("GET", "http://"+f.s.Addrs.Gateway+"/", nil)
		req.URL.Opaque = p // sent exactly as written
		req.Host = "us-central1-acme.cloudfunctions.net"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			continue // refused: fine
		}
		got := f.up.last().URL.Path
		if clean := path.Clean(got); clean != "/base" && !strings.HasPrefix(clean, "/base/") {
			t.Errorf("request %s reached upstream path %q, which resolves to %q outside the function's base /base", p, got, clean)
		}
	}
}

// README: "The gateway and the token verifier cache what they read for at
// most one second, so a grant or a revocation made through one replica
// reaches the gateway of another within a second." The revocation below is
// written to the shared store as another replica does (no Invalidate in this
// process). A decision made from policies cached up to a second earlier
// must not be kept for a further second.
func TestGatewayRevocationFromAnotherReplicaWithinOneSecond(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	f := newFixture(t, "", withFakeClock(clk))
	other, err := f.iam.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "other-caller"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email, "serviceAccount:"+other.Email)
	tok := f.token(t, f.fn.Url)
	r, err := f.creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+other.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: f.fn.Url, IncludeEmail: true}).Do()
	if err != nil {
		t.Fatal(err)
	}
	otherTok := r.Token

	// t=0: another caller's request; the function's policies are read and cached.
	if resp, _ := f.call(t, "/hello", "Bearer "+otherTok); resp.StatusCode != 200 {
		t.Fatalf("other caller: %d", resp.StatusCode)
	}
	// t=0: another replica revokes f.sa (writes the shared database).
	revoked := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:" + other.Email}}}}
	revoked = iam.NormalizePolicy(revoked)
	revoked.Etag = iam.ComputeEtag(revoked)
	if err := f.s.Store.PutPolicy(f.ctx, f.fn.Name, revoked, nil); err != nil {
		t.Fatal(err)
	}
	// t=0.9 s: f.sa's first request (within the second: may still pass).
	clk.Advance(900 * time.Millisecond)
	f.call(t, "/hello", "Bearer "+tok)
	// t=1.5 s: more than a second after the revocation.
	clk.Advance(600 * time.Millisecond)
	at15, _ := f.call(t, "/hello", "Bearer "+tok)
	// Control: by t=2 s the revocation is seen, so the store write is right.
	clk.Advance(500 * time.Millisecond)
	if resp, _ := f.call(t, "/hello", "Bearer "+tok); resp.StatusCode != 403 {
		t.Fatalf("control: 2 s after the revocation: %d, want 403", resp.StatusCode)
	}
	if at15.StatusCode != 403 {
		t.Fatalf("1.5 s after another replica revoked the role the caller still gets %d, want 403", at15.StatusCode)
	}
}

// google-auth (Python) decides whether a metadata server is there with
// ping(): GET http://$GCE_METADATA_IP/ (the root, not /computeMetadata/)
// with "Metadata-Flavor: Google", and wants 200 with "Metadata-Flavor:
// Google" back; without it google.auth.default() finds no credentials.
func TestMetadataRootPing(t *testing.T) {
	e := start(t, withMetadataAccount("workload@acme.iam.gserviceaccount.com"))
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	if _, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "workload"}).Do(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.api+"/", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Metadata-Flavor") != "Google" {
		t.Fatalf("ping GET / with Metadata-Flavor: %d, Metadata-Flavor %q; want 200 and \"Google\"", resp.StatusCode, resp.Header.Get("Metadata-Flavor"))
	}
}

// The upstream URL a function is deployed with (OIDCRON_UPSTREAM) may carry
// a query: the gateway joins the caller's query to it.
func TestGatewayKeepsUpstreamQuery(t *testing.T) {
	e := start(t)
	up := newUpstream(t)
	cf, _ := cfv2.NewService(e.ctx, e.rest("")...)
	if _, err := cf.Projects.Locations.Functions.Create("projects/acme/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": up.URL + "/base?key=k1"}},
	}).FunctionId("q").Do(); err != nil {
		t.Fatal(err)
	}
	cfv1svc, _ := cfv1.NewService(e.ctx, e.rest("")...)
	if _, err := cfv1svc.Projects.Locations.Functions.SetIamPolicy("projects/acme/locations/us-central1/functions/q", &cfv1.SetIamPolicyRequest{
		Policy: &cfv1.Policy{Bindings: []*cfv1.Binding{{Role: "roles/cloudfunctions.invoker", Members: []string{"allUsers"}}}}}).Do(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+e.s.Addrs.Gateway+"/q?x=1", nil)
	req.Host = "us-central1-acme.cloudfunctions.net"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("public call: %d", resp.StatusCode)
	}
	if q := up.last().URL.Query(); q.Get("key") != "k1" || q.Get("x") != "1" {
		t.Fatalf("upstream got query %q, want key=k1 and x=1", up.last().URL.RawQuery)
	}
}
