package identity

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
)

const metadataBase = "/computeMetadata/v1/instance/service-accounts/"

func newMetadataServer(t *testing.T, e *env) *httptest.Server {
	srv := httptest.NewServer(MetadataHandler(MetadataOptions{Minter: e.minter, Email: saJobs.Email, Lookup: e.accounts.Lookup}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMetadataWithGoogleClient drives the handler with Google's own metadata
// client, pointed at it the documented way (GCE_METADATA_HOST).
func TestMetadataWithGoogleClient(t *testing.T) {
	e := newEnv(t)
	srv := newMetadataServer(t, e)
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(srv.URL, "http://"))
	c := metadata.NewClient(srv.Client())
	ctx := e.ctx

	email, err := c.EmailWithContext(ctx, "default")
	if err != nil || email != saJobs.Email {
		t.Fatalf("email %q, %v", email, err)
	}
	scopes, err := c.ScopesWithContext(ctx, "default")
	if err != nil || !slices.Equal(scopes, []string{CloudPlatformScope}) {
		t.Fatalf("scopes %q, %v", scopes, err)
	}
	if p, err := c.GetWithContext(ctx, "project/project-id"); err != nil || p != saJobs.ProjectID {
		t.Fatalf("project %q, %v", p, err)
	}

	// What idtoken's compute token source asks for.
	tok, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity?audience="+testAudience+"&format=full&licenses=FALSE")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := e.verifier.VerifyIDToken(ctx, tok, []string{testAudience})
	if err != nil {
		t.Fatal(err)
	}
	if claims.Email != saJobs.Email || !claims.EmailVerified {
		t.Fatalf("metadata ID token without the email: %+v", claims)
	}
	// The account can be named by email as well as "default".
	if tok2, err := c.GetWithContext(ctx, "instance/service-accounts/"+saJobs.Email+"/identity?audience="+testAudience); err != nil || tok2 != tok {
		t.Fatalf("by email: %v (same cached token: %v)", err, tok2 == tok)
	}

	raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token")
	if err != nil {
		t.Fatal(err)
	}
	var at struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(raw), &at); err != nil || at.TokenType != "Bearer" || at.ExpiresIn != 3600 || !strings.HasPrefix(at.AccessToken, "ya29.") {
		t.Fatalf("token response %s (%v)", raw, err)
	}
	if c, err := e.verifier.VerifyAccessToken(ctx, at.AccessToken); err != nil || !slices.Equal(c.Scopes, []string{CloudPlatformScope}) {
		t.Fatalf("access token: %+v %v", c, err)
	}
	raw, err = c.GetWithContext(ctx, "instance/service-accounts/default/token?scopes=a,b")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(raw), &at)
	if c, err := e.verifier.VerifyAccessToken(ctx, at.AccessToken); err != nil || !slices.Equal(c.Scopes, []string{"a", "b"}) {
		t.Fatalf("scoped access token: %+v %v", c, err)
	}

	// Missing audience is the client's error, not a retryable one.
	_, err = c.GetWithContext(ctx, "instance/service-accounts/default/identity")
	var me *metadata.Error
	if !errors.As(err, &me) || me.Code != 400 || !strings.Contains(me.Message, "audience") {
		t.Fatalf("no audience: %v", err)
	}
}

func TestMetadataHTTPRules(t *testing.T) {
	e := newEnv(t)
	srv := newMetadataServer(t, e)
	do := func(method, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	flavor := map[string]string{"Metadata-Flavor": "Google"}
	identity := metadataBase + "default/identity?audience=" + testAudience

	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		code               int
		body               string // substring
	}{
		{"no Metadata-Flavor", "GET", identity, nil, 403, "Missing Metadata-Flavor:Google header"},
		{"wrong Metadata-Flavor", "GET", identity, map[string]string{"Metadata-Flavor": "google-ish"}, 403, "Metadata-Flavor"},
		{"proxied (X-Forwarded-For)", "GET", identity, map[string]string{"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"}, 403, "X-Forwarded-For"},
		{"POST", "POST", identity, flavor, 405, "GET only"},
		{"missing audience", "GET", metadataBase + "default/identity", flavor, 400, "non-empty audience parameter required"},
		{"bad format", "GET", identity + "&format=compact", flavor, 400, "format"},
		{"bad licenses", "GET", identity + "&licenses=maybe", flavor, 400, "licenses"},
		{"standard format", "GET", identity + "&format=standard&licenses=TRUE", flavor, 200, "eyJ"},
		{"another account", "GET", metadataBase + saOther.Email + "/email", flavor, 404, ""},
		{"unknown leaf", "GET", metadataBase + "default/keys", flavor, 404, ""},
		{"accounts listing", "GET", metadataBase, flavor, 200, "default/\n" + saJobs.Email + "/\n"},
		{"account listing", "GET", metadataBase + "default/", flavor, 200, "aliases\nemail\nidentity\nscopes\ntoken\n"},
		{"aliases", "GET", metadataBase + "default/aliases", flavor, 200, "default\n"},
		{"recursive", "GET", metadataBase + "default/?recursive=true", flavor, 200, `"email":"` + saJobs.Email + `"`},
		{"root", "GET", "/", flavor, 200, "computeMetadata/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := do(c.method, c.path, c.hdr)
			if res.StatusCode != c.code || !strings.Contains(body, c.body) {
				t.Fatalf("%d %q, want %d containing %q", res.StatusCode, body, c.code, c.body)
			}
			if res.Header.Get("Metadata-Flavor") != "Google" {
				t.Fatal("response without Metadata-Flavor: Google")
			}
		})
	}

	res, _ := do("GET", identity, flavor)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("identity Content-Type %q", ct)
	}

	e.accounts.setDisabled(saJobs.UniqueID, true)
	if res, body := do("GET", identity, flavor); res.StatusCode != 403 || !strings.Contains(body, "disabled") {
		t.Errorf("disabled account: %d %q", res.StatusCode, body)
	}
	if res, body := do("GET", metadataBase+"default/token", flavor); res.StatusCode != 403 || !strings.Contains(body, "disabled") {
		t.Errorf("disabled account token: %d %q", res.StatusCode, body)
	}
	e.accounts.remove(saJobs.UniqueID)
	if res, body := do("GET", identity, flavor); res.StatusCode != 404 || !strings.Contains(body, "does not exist") {
		t.Errorf("deleted account: %d %q", res.StatusCode, body)
	}
}

func TestMetadataTokenExpiresIn(t *testing.T) {
	e := newEnv(t)
	srv := newMetadataServer(t, e)
	e.clk.Set(t0.Add(1500 * time.Millisecond)) // iat truncates to the second
	req, _ := http.NewRequest("GET", srv.URL+metadataBase+"default/token", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var at struct {
		ExpiresIn int `json:"expires_in"`
	}
	if err := json.NewDecoder(res.Body).Decode(&at); err != nil || at.ExpiresIn != 3599 {
		t.Fatalf("expires_in %d (%v), want 3599", at.ExpiresIn, err)
	}
}

func TestMetadataHandlerNeedsItsOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic without a Minter")
		}
	}()
	MetadataHandler(MetadataOptions{Email: "x"})
}
