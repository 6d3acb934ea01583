package identity

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// issuerServer serves the issuer's documents over loopback, with the
// issuer string being the server's own URL, as a deployment would.
type issuerServer struct {
	*env
	srv      *httptest.Server
	issuer   string
	minter   *Minter
	verifier *Verifier
}

func newIssuerServer(t *testing.T, e *env) *issuerServer {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss := srv.URL
	mux.Handle(DiscoveryPath, DiscoveryHandler(iss))
	mux.Handle(JWKSPath, e.keys.JWKSHandler())
	mux.Handle(PEMCertsPath, e.keys.PEMCertsHandler())
	mux.Handle(ServiceAccountKeysPath, e.keys.ServiceAccountKeysHandler(e.accounts.Lookup))
	return &issuerServer{env: e, srv: srv, issuer: iss,
		minter: NewMinter(e.keys, e.clk, iss), verifier: NewVerifier(e.keys, e.clk, iss, e.accounts)}
}

func (s *issuerServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	res, err := s.srv.Client().Get(s.issuer + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func TestGoOIDCVerifiesMintedTokensThroughDiscovery(t *testing.T) {
	s := newIssuerServer(t, newEnv(t))
	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: testAudience, Now: s.clk.Now})

	tok, _, err := s.minter.IDToken(ctx, saJobs, testAudience, true)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("go-oidc: %v", err)
	}
	var extra struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Azp           string `json:"azp"`
	}
	if err := idt.Claims(&extra); err != nil {
		t.Fatal(err)
	}
	if idt.Issuer != s.issuer || idt.Subject != saJobs.UniqueID || !slices.Equal(idt.Audience, []string{testAudience}) ||
		!idt.IssuedAt.Equal(t0) || !idt.Expiry.Equal(t0.Add(time.Hour)) ||
		extra.Email != saJobs.Email || !extra.EmailVerified || extra.Azp != saJobs.UniqueID {
		t.Fatalf("go-oidc saw %+v %+v", idt, extra)
	}

	// go-oidc refuses what our verifier refuses.
	other := provider.Verifier(&oidc.Config{ClientID: "https://us-central1-demo-project.cloudfunctions.net", Now: s.clk.Now})
	if _, err := other.Verify(ctx, tok); err == nil || !strings.Contains(err.Error(), "expected audience") {
		t.Fatalf("host-only audience: %v", err)
	}
	access, _, _ := s.minter.AccessToken(ctx, saJobs, []string{CloudPlatformScope}, 0)
	for _, raw := range []string{access, strings.TrimPrefix(access, AccessTokenPrefix)} {
		if _, err := verifier.Verify(ctx, raw); err == nil {
			t.Fatal("go-oidc accepted an access token")
		}
	}
	_, forged, _ := s.minter.SignJWT(ctx, saJobs, `{"iss":"`+s.issuer+`","sub":"`+saOther.UniqueID+`","aud":"`+testAudience+`"}`)
	if _, err := verifier.Verify(ctx, forged); err == nil {
		t.Fatal("go-oidc accepted a signJwt payload posing as an ID token")
	}

	// Across a rotation, with go-oidc's key cache from before it: a token
	// signed by A late in its life, and one signed by B after it.
	s.clk.Set(t0.Add(period - 30*time.Minute))
	lateA, _, err := s.minter.IDToken(ctx, saJobs, testAudience, false)
	if err != nil {
		t.Fatal(err)
	}
	s.clk.Set(t0.Add(period))
	s.maintain(s.keys)
	tokB, _, err := s.minter.IDToken(ctx, saJobs, testAudience, true)
	if err != nil {
		t.Fatal(err)
	}
	if headerKid(t, tokB) == headerKid(t, lateA) {
		t.Fatal("test setup: no rotation")
	}
	for _, raw := range []string{lateA, tokB} {
		if _, err := verifier.Verify(ctx, raw); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
}

func TestDiscoveryDocument(t *testing.T) {
	s := newIssuerServer(t, newEnv(t))
	res, body := s.get(t, DiscoveryPath)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                s.issuer,
		"jwks_uri":                              s.issuer + "/oauth2/v3/certs",
		"id_token_signing_alg_values_supported": []any{"RS256"},
		"subject_types_supported":               []any{"public"},
		"response_types_supported":              []any{"id_token"},
		"claims_supported":                      []any{"aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestJWKSDocument(t *testing.T) {
	s := newIssuerServer(t, newEnv(t))
	res, body := s.get(t, JWKSPath)
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=3600, must-revalidate, no-transform" {
		t.Errorf("Cache-Control %q", cc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 {
		t.Fatalf("%d keys", len(raw.Keys))
	}
	for _, k := range raw.Keys {
		if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["e"] != "AQAB" || k["kid"] == "" || k["n"] == "" {
			t.Errorf("key %v", k)
		}
		if _, private := k["d"]; private {
			t.Fatal("the JWKS leaks a private key")
		}
	}
	res, _ = s.srv.Client().Post(s.issuer+JWKSPath, "text/plain", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func TestPEMCertsMatchTheJWKS(t *testing.T) {
	s := newIssuerServer(t, newEnv(t))
	res, body := s.get(t, PEMCertsPath)
	if res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	var certs map[string]string
	if err := json.Unmarshal(body, &certs); err != nil {
		t.Fatal(err)
	}
	jwks := s.keys.JWKS()
	if len(certs) != len(jwks.Keys) {
		t.Fatalf("%d certs, %d JWKs", len(certs), len(jwks.Keys))
	}
	tok, _, _ := s.minter.IDToken(context.Background(), saJobs, testAudience, false)
	for kid, p := range certs {
		if !strings.HasPrefix(p, "-----BEGIN CERTIFICATE-----\n") {
			t.Fatalf("%s: %q", kid, p)
		}
		block, _ := pem.Decode([]byte(p))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub := cert.PublicKey.(*rsa.PublicKey)
		if !pub.Equal(jwks.Key(kid)[0].Key) {
			t.Fatalf("%s: certificate key differs from the JWK", kid)
		}
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			t.Fatalf("%s: not self-signed: %v", kid, err)
		}
		if kid == headerKid(t, tok) {
			parts := strings.Split(tok, ".")
			sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			sig, _ := b64.DecodeString(parts[2])
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
				t.Fatalf("token does not verify with the PEM certificate: %v", err)
			}
		}
	}
}

func TestServiceAccountKeyDocuments(t *testing.T) {
	s := newIssuerServer(t, newEnv(t))
	kid, _, err := s.minter.SignJWT(context.Background(), saJobs, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{saJobs.Email, saJobs.UniqueID} {
		res, body := s.get(t, ServiceAccountKeysPath+"jwk/"+id)
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil || res.StatusCode != 200 || len(set.Keys) != 2 || !hasKid(set, kid) {
			t.Fatalf("jwk/%s: %d %s (%v)", id, res.StatusCode, body, err)
		}
		res, body = s.get(t, ServiceAccountKeysPath+"x509/"+id)
		var certs map[string]string
		if err := json.Unmarshal(body, &certs); err != nil || res.StatusCode != 200 || !strings.HasPrefix(certs[kid], "-----BEGIN CERTIFICATE-----") {
			t.Fatalf("x509/%s: %d %s (%v)", id, res.StatusCode, body, err)
		}
	}
	// An account that never signed has an empty set.
	if _, body := s.get(t, ServiceAccountKeysPath+"jwk/"+saOther.Email); string(body) != `{"keys":[]}` {
		t.Fatalf("unused account: %s", body)
	}
	for _, p := range []string{"jwk/nobody@x.iam.gserviceaccount.com", "raw/" + saJobs.Email, "jwk/", "x509/a/b"} {
		if res, body := s.get(t, ServiceAccountKeysPath+p); res.StatusCode != 404 || !strings.Contains(string(body), `"status":"NOT_FOUND"`) {
			t.Errorf("%s: %d %s", p, res.StatusCode, body)
		}
	}
}

// rewriteRT sends Google's certificate URL to the issuer, the only hook
// google.golang.org/api/idtoken offers (go-integration-notes §2e).
type rewriteRT struct{ host string }

func (r rewriteRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "www.googleapis.com" && req.URL.Path == JWKSPath {
		req = req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host = "http", r.host
		req.URL, req.Host = &u, u.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestGoogleIDTokenLibraryAccepts(t *testing.T) {
	// idtoken checks exp against the wall clock, so this issuer's clock
	// starts at the wall clock's second.
	s := newIssuerServer(t, newEnvAt(t, time.Now().Truncate(time.Second)))
	tok, _, err := s.minter.IDToken(context.Background(), saJobs, testAudience, true)
	if err != nil {
		t.Fatal(err)
	}
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: rewriteRT{strings.TrimPrefix(s.issuer, "http://")}}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Validate(context.Background(), tok, testAudience)
	if err != nil {
		t.Fatalf("idtoken.Validate: %v", err)
	}
	if p.Issuer != s.issuer || p.Subject != saJobs.UniqueID || p.Claims["email"] != saJobs.Email {
		t.Fatalf("payload %+v", p)
	}
	if _, err := v.Validate(context.Background(), tok, "https://us-central1-demo-project.cloudfunctions.net"); err == nil {
		t.Fatal("idtoken accepted the wrong audience")
	}
}
