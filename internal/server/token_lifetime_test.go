package server_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/gateway"
)

// tokenTimes decodes a JWT's iat and exp without verifying it.
func tokenTimes(t *testing.T, tok string) (iat, exp time.Time) {
	t.Helper()
	_, payload, _ := split(tok)
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Iat, Exp int64 }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
}

// Google's Go client for generateIdToken (google.golang.org/api/impersonate,
// IDTokenSource) takes every token it gets as "good for one hour"
// (Expiry: now.Add(1 * time.Hour)), as the reference's §3.1 samples and
// GO-IDT describe. oidcron hands a second caller the token it minted for the
// first, with as little as 10 minutes left; that client keeps sending it for
// the rest of its hour, and the gateway refuses it as expired.
func TestGenerateIdTokenIsFreshForEachCall(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	f := newFixture(t, "", withFakeClock(clk))
	f.setFunctionPolicy(t, "roles/cloudfunctions.invoker", "serviceAccount:"+f.sa.Email)
	_ = f.token(t, f.fn.Url) // an earlier caller (or the scheduler) for the same audience

	clk.Advance(45 * time.Minute)
	fetched := clk.Now()
	tok := f.token(t, f.fn.Url)
	iat, exp := tokenTimes(t, tok)
	if !iat.Equal(fetched) || exp.Sub(fetched) != time.Hour {
		t.Errorf("generateIdToken at %s returned iat %s exp %s: %v left, want a token valid for 1h from the call",
			fetched.Format(time.RFC3339), iat.Format(time.RFC3339), exp.Format(time.RFC3339), exp.Sub(fetched))
	}

	// 16 minutes later the client still holds the token (it believes it
	// valid until fetched+1h) and calls the function with it.
	clk.Advance(16 * time.Minute)
	resp, _ := f.call(t, "/hello", "Bearer "+tok)
	if resp.StatusCode != 200 {
		t.Errorf("token fetched 16 minutes ago: %d %q, want 200", resp.StatusCode, resp.Header.Get(gateway.ReasonHeader))
	}
}

// The metadata identity endpoint: Google's Go libraries take its token as
// valid for an hour (idtoken compute source: Expiry time.Now().Add(55 *
// time.Minute); reference §3.4 "Token valid 1 h (Go lib caches 55 min)").
func TestMetadataIdentityIsValidForAnHour(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	const email = "workload@acme.iam.gserviceaccount.com"
	e := start(t, withMetadataAccount(email), withFakeClock(clk))
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	if _, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "workload"}).Do(); err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", e.api+"/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://x.example/f&format=full", nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.Count(string(b), ".") != 2 {
			t.Fatalf("identity: %d %q", resp.StatusCode, b)
		}
		return string(b)
	}
	_ = get()
	clk.Advance(45 * time.Minute)
	_, exp := tokenTimes(t, get())
	if left := exp.Sub(clk.Now()); left < 55*time.Minute {
		t.Errorf("metadata identity token has %v left; Google's Go library uses it for 55 minutes", left)
	}
}

// README, Fidelity: "A lifetime of 0 means Google's default of 1 hour; more
// than 1 hour is INVALID_ARGUMENT" (reference §3.3: lifetime default 1 h).
func TestAccessTokenLifetimeZeroIsTheDefault(t *testing.T) {
	e := start(t)
	_, creds, sa := invokerAccount(t, e)
	grantTokenCreator(t, e, "acme", "user:dev@oidcron.local")
	name := "projects/-/serviceAccounts/" + sa.Email
	scope := []string{"https://www.googleapis.com/auth/cloud-platform"}
	if _, err := creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{
		Scope: scope, Lifetime: "0s"}).Do(); err != nil {
		t.Errorf("REST lifetime 0s: %v", err)
	}
	gc, err := credentials.NewIamCredentialsClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if _, err := gc.GenerateAccessToken(e.ctx, &credentialspb.GenerateAccessTokenRequest{Name: name, Scope: scope, Lifetime: durationpb.New(0)}); err != nil {
		t.Errorf("gRPC lifetime 0s: %v", err)
	}
}
