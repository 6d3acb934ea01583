package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var b64 = base64.RawURLEncoding

func verifyErr(_ *Claims, err error) error { return err }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func parsePriv(der []byte) (*rsa.PrivateKey, error) { return x509.ParsePKCS1PrivateKey(der) }

// forgeWithKid swaps the kid in a token's header, keeping the rest.
func forgeWithKid(t testing.TB, tok, kid string) string {
	t.Helper()
	var h map[string]any
	if err := json.Unmarshal(decodeSegment(t, tok, 0), &h); err != nil {
		t.Fatal(err)
	}
	h["kid"] = kid
	parts := strings.Split(tok, ".")
	return encodeJSON(t, h) + "." + parts[1] + "." + parts[2]
}

func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// claimsOf returns a token's payload as a map, to forge variants of it.
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(decodeSegment(t, tok, 1), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// signWith signs claims with any go-jose key and algorithm.
func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hs256 signs by hand, as an attacker would, with secret as the HMAC key.
func hs256(t testing.TB, kid string, claims map[string]any, secret []byte) string {
	t.Helper()
	signing := encodeJSON(t, map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"}) + "." + encodeJSON(t, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

func TestVerifyIDTokenAccepts(t *testing.T) {
	e := newEnv(t)
	tok, exp := mustID(t, e, saJobs, testAudience, true)
	c, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{"https://elsewhere", testAudience})
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Issuer: testIssuer, Subject: saJobs.UniqueID, Audience: testAudience, AuthorizedParty: saJobs.UniqueID,
		Email: saJobs.Email, EmailVerified: true, IssuedAt: t0, Expiry: exp, KeyID: headerKid(t, tok), Account: saJobs}
	if !claimsEqual(*c, want) {
		t.Fatalf("claims\n%+v\nwant\n%+v", *c, want)
	}
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, nil); err != nil {
		t.Fatalf("nil audiences (any): %v", err)
	}
	// An empty, non-nil list accepts nothing: a caller that computed no
	// audience must not accept every one.
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, []string{})), ReasonAudience)
}

func mustID(t testing.TB, e *env, a Account, aud string, email bool) (string, time.Time) {
	t.Helper()
	tok, exp, err := e.minter.IDToken(e.ctx, a, aud, email)
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp
}

func claimsEqual(a, b Claims) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Audience == b.Audience && a.AuthorizedParty == b.AuthorizedParty &&
		a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.IssuedAt.Equal(b.IssuedAt) && a.Expiry.Equal(b.Expiry) &&
		a.KeyID == b.KeyID && strings.Join(a.Scopes, " ") == strings.Join(b.Scopes, " ") && a.Account == b.Account
}

// TestVerifyIDTokenAttacks: every token here must be refused, each with its
// own reason.
func TestVerifyIDTokenAttacks(t *testing.T) {
	e := newEnv(t)
	good := e.idToken(saJobs, testAudience, true)
	kid := headerKid(t, good)
	claims := claimsOf(t, good)
	active, err := e.keys.issuerSigner(t0)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&active.priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	parts := strings.Split(good, ".")

	// Not from the test pool: the pool would hand back this issuer's keys.
	stranger, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	tamperedClaims := claimsOf(t, good)
	tamperedClaims["sub"] = saOther.UniqueID
	tamperedClaims["azp"] = saOther.UniqueID

	forAud := func(aud string) string { return e.idToken(saJobs, aud, true) }
	otherIssuer := func(iss string) string {
		tok, _, err := NewMinter(e.keys, e.clk, iss).IDToken(e.ctx, saJobs, testAudience, true)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	access, _, err := e.minter.AccessToken(e.ctx, saJobs, []string{CloudPlatformScope}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// signJwt lets a caller choose every claim; it must not mint ID tokens.
	_, forged, err := e.minter.SignJWT(e.ctx, saJobs, `{"iss":"`+testIssuer+`","sub":"`+saOther.UniqueID+`","azp":"`+saOther.UniqueID+`","aud":"`+testAudience+`","iat":`+itoa(t0.Unix())+`}`)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		tok    string
		reason Reason
		detail string // substring
	}{
		{"alg none", encodeJSON(t, map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + parts[1] + ".", ReasonAlgorithm, `alg "none"`},
		{"alg none with the original signature", encodeJSON(t, map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + parts[1] + "." + parts[2], ReasonAlgorithm, `alg "none"`},
		{"HS256 keyed with the public key PEM", hs256(t, kid, claims, pubPEM), ReasonAlgorithm, `alg "HS256"`},
		{"HS256 keyed with the public key DER", hs256(t, kid, claims, pubDER), ReasonAlgorithm, `alg "HS256"`},
		{"RS512 with the real key", signWith(t, jose.RS512, active.priv, kid, claims), ReasonAlgorithm, `alg "RS512"`},
		{"PS256 with the real key", signWith(t, jose.PS256, active.priv, kid, claims), ReasonAlgorithm, `alg "PS256"`},
		{"ES256", signWith(t, jose.ES256, ecKey, kid, claims), ReasonAlgorithm, `alg "ES256"`},
		{"wrong issuer", otherIssuer("https://accounts.google.com"), ReasonIssuer, `iss "https://accounts.google.com" is not "https://oidcron.test"`},
		{"issuer with a trailing slash", otherIssuer(testIssuer + "/"), ReasonIssuer, `iss "https://oidcron.test/"`},
		{"audience: the function's host only", forAud("https://us-central1-demo-project.cloudfunctions.net"), ReasonAudience,
			`aud "https://us-central1-demo-project.cloudfunctions.net" is not one of ["https://us-central1-demo-project.cloudfunctions.net/hello"]`},
		{"audience: the URL with a query string", forAud(testAudience + "?run=nightly"), ReasonAudience, `aud "` + testAudience + `?run=nightly" is not one of`},
		{"audience: trailing slash", forAud(testAudience + "/"), ReasonAudience, `aud "` + testAudience + `/"`},
		{"tampered payload, original signature", parts[0] + "." + encodeJSON(t, tamperedClaims) + "." + parts[2], ReasonSignature, "signature does not verify"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(forAud("https://x"), ".")[2], ReasonSignature, ""},
		{"unknown kid, unknown key", signWith(t, jose.RS256, stranger, "4129db2ea1860d2e871ee48506287fb05b04ca3f", claims), ReasonUnknownKey, `kid "4129db2ea1860d2e871ee48506287fb05b04ca3f" is not in the issuer's key set`},
		{"known kid, unknown key", signWith(t, jose.RS256, stranger, kid, claims), ReasonSignature, ""},
		{"no kid", signWith(t, jose.RS256, active.priv, "", claims), ReasonUnknownKey, "no kid"},
		{"signJwt payload posing as an ID token", forged, ReasonUnknownKey, ""},
		{"access token", access, ReasonNotIDToken, "access token"},
		{"access token without its prefix", strings.TrimPrefix(access, AccessTokenPrefix), ReasonNotIDToken, `typ "at+jwt"`},
		{"empty", "", ReasonMalformed, ""},
		{"one part", "abc", ReasonMalformed, ""},
		{"four parts", good + ".x", ReasonMalformed, ""},
		{"header not JSON", b64.EncodeToString([]byte("RS256")) + "." + parts[1] + "." + parts[2], ReasonMalformed, "header"},
		{"standard base64 padding", parts[0] + "=." + parts[1] + "." + parts[2], ReasonMalformed, ""},
		{"non-canonical base64 (same bytes, other spelling)", parts[0] + "." + parts[1] + "." + malleate(parts[2]), ReasonMalformed, "part 3"},
		{"empty signature", parts[0] + "." + parts[1] + ".", ReasonMalformed, "part 3"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ReasonMalformed, ""},
		{"whitespace", parts[0] + ".\n" + parts[1] + "." + parts[2], ReasonMalformed, ""},
		{"too long", good + strings.Repeat("A", maxTokenLength), ReasonMalformed, "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.verifier.VerifyIDToken(e.ctx, c.tok, []string{testAudience})
			ve := wantReason(t, err, c.reason)
			if !strings.Contains(ve.Detail, c.detail) {
				t.Fatalf("detail %q does not contain %q", ve.Detail, c.detail)
			}
		})
	}
	if _, err := e.verifier.VerifyIDToken(e.ctx, good, []string{testAudience}); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
}

// malleate changes the last character of a base64url segment to one that
// decodes to the same bytes under non-strict decoding (its unused low bits
// differ), if the segment has unused bits.
func malleate(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	// A 256-byte RSA signature ends in one lone byte: two characters, the
	// last carrying 2 data bits and 4 unused ones.
	return seg[:len(seg)-1] + string(alphabet[last^1])
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestVerifyExpiryAndIssuedAt(t *testing.T) {
	e := newEnv(t)
	tok, exp := mustID(t, e, saJobs, testAudience, false)
	if !exp.Equal(t0.Add(time.Hour)) {
		t.Fatalf("exp %v, want %v", exp, t0.Add(time.Hour))
	}
	e.clk.Set(exp.Add(-time.Second))
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience}); err != nil {
		t.Fatalf("one second before exp: %v", err)
	}
	e.clk.Set(exp) // now >= exp is expired: no leeway
	ve := wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience})), ReasonExpired)
	if !strings.Contains(ve.Detail, "exp 2026-11-23T11:00:00Z") {
		t.Fatalf("detail %q", ve.Detail)
	}

	// A minter whose clock runs ahead (another replica): within the skew
	// is fine, beyond it is not yet valid.
	for _, c := range []struct {
		ahead time.Duration
		ok    bool
	}{{4 * time.Minute, true}, {clockSkew + time.Second, false}} {
		f := newEnv(t)
		ahead := NewMinter(f.keys, clockAt(t0.Add(c.ahead)), testIssuer)
		tok, _, err := ahead.IDToken(f.ctx, saJobs, testAudience, false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.verifier.VerifyIDToken(f.ctx, tok, []string{testAudience})
		if c.ok && err != nil {
			t.Fatalf("iat %v ahead: %v", c.ahead, err)
		}
		if !c.ok {
			wantReason(t, err, ReasonNotYetValid)
		}
	}
}

func TestVerifyKeyRetiredPastItsGrace(t *testing.T) {
	e := newEnv(t)
	old := e.idToken(saJobs, testAudience, false)
	// Drive the clock through rotations until the signing key is deleted.
	for at := time.Duration(0); at <= 3*period; at += time.Hour {
		e.clk.Set(t0.Add(at))
		e.maintain(e.keys)
	}
	ve := wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, old, []string{testAudience})), ReasonUnknownKey)
	if !strings.Contains(ve.Detail, headerKid(t, old)) {
		t.Fatalf("detail %q does not name the kid", ve.Detail)
	}
}

func TestVerifyAccountState(t *testing.T) {
	e := newEnv(t)
	tok := e.idToken(saJobs, testAudience, true)
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience}); err != nil {
		t.Fatal(err)
	}
	// Cached by now: the account is still checked on every call.
	e.accounts.setDisabled(saJobs.UniqueID, true)
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience})), ReasonAccountDisabled)
	e.accounts.setDisabled(saJobs.UniqueID, false)
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience}); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	e.accounts.remove(saJobs.UniqueID)
	ve := wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience})), ReasonAccountNotFound)
	if !strings.Contains(ve.Detail, saJobs.UniqueID) {
		t.Fatalf("detail %q", ve.Detail)
	}
}

func TestVerifyStoreFailureIsNotARefusal(t *testing.T) {
	e := newEnv(t)
	tok := e.idToken(saJobs, testAudience, true)
	v := NewVerifier(e.keys, e.clk, testIssuer, failingAccounts{})
	_, err := v.VerifyIDToken(e.ctx, tok, nil)
	var ve *VerifyError
	if err == nil || errorsAs(err, &ve) {
		t.Fatalf("err = %v, want a non-VerifyError (the token could not be judged)", err)
	}
}

func TestVerifyCache(t *testing.T) {
	e := newEnv(t)
	tok := e.idToken(saJobs, testAudience, true)
	for range 3 {
		if _, err := e.verifier.VerifyIDToken(e.ctx, tok, []string{testAudience}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.verifier.cache.len(); n != 1 {
		t.Fatalf("%d cache entries, want 1", n)
	}
	// The audience is checked on every call, cached or not.
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, []string{"https://other"})), ReasonAudience)
	// Returned claims are the caller's to modify.
	c, _ := e.verifier.VerifyIDToken(e.ctx, tok, nil)
	c.Subject = "tampered"
	if c2, _ := e.verifier.VerifyIDToken(e.ctx, tok, nil); c2.Subject != saJobs.UniqueID {
		t.Fatal("a caller's change reached the cache")
	}

	// A key withdrawn from the store stops vouching for cached tokens.
	if err := e.st.InTx(e.ctx, func(tx storeTx) error { return tx.DeleteSigningKey(e.ctx, headerKid(t, tok)) }); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Reload(e.ctx); err != nil {
		t.Fatal(err)
	}
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, nil)), ReasonUnknownKey)
}

func TestVerifyCacheDropsAtExpiry(t *testing.T) {
	e := newEnv(t)
	tok := e.idToken(saJobs, testAudience, true)
	if _, err := e.verifier.VerifyIDToken(e.ctx, tok, nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, nil)), ReasonExpired)
	if n := e.verifier.cache.len(); n != 0 {
		t.Fatalf("%d entries after expiry, want 0", n)
	}
}
