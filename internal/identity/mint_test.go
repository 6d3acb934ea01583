package identity

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestIDTokenExactShape(t *testing.T) {
	e := newEnv(t)
	kid := e.issuerRecords()[0].KeyID
	iat := t0.Unix()

	withEmail := e.idToken(saJobs, testAudience, true)
	if got, want := string(decodeSegment(t, withEmail, 0)), `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`; got != want {
		t.Errorf("header\n%s\nwant\n%s", got, want)
	}
	want := fmt.Sprintf(`{"aud":%q,"azp":%q,"email":%q,"email_verified":true,"exp":%d,"iat":%d,"iss":%q,"sub":%q}`,
		testAudience, saJobs.UniqueID, saJobs.Email, iat+3600, iat, testIssuer, saJobs.UniqueID)
	if got := string(decodeSegment(t, withEmail, 1)); got != want {
		t.Errorf("payload with email\n%s\nwant\n%s", got, want)
	}

	noEmail := e.idToken(saJobs, testAudience, false)
	want = fmt.Sprintf(`{"aud":%q,"azp":%q,"exp":%d,"iat":%d,"iss":%q,"sub":%q}`,
		testAudience, saJobs.UniqueID, iat+3600, iat, testIssuer, saJobs.UniqueID)
	if got := string(decodeSegment(t, noEmail, 1)); got != want {
		t.Errorf("payload without email\n%s\nwant\n%s", got, want)
	}
	if len(kid) != 40 {
		t.Errorf("kid %q: want 40 hex digits like Google's", kid)
	}
}

func TestIDTokenSubSecondClock(t *testing.T) {
	// iat is whole seconds (truncated), exp exactly iat + 3600.
	e := newEnv(t)
	e.clk.Set(t0.Add(1500 * time.Millisecond))
	tok, exp := mustID(t, e, saJobs, testAudience, false)
	c := claimsOf(t, tok)
	if c["iat"].(float64) != float64(t0.Unix()+1) || c["exp"].(float64) != float64(t0.Unix()+3601) || !exp.Equal(t0.Add(3601*time.Second)) {
		t.Fatalf("iat %v exp %v (%v)", c["iat"], c["exp"], exp)
	}
}

func TestIDTokenCacheReuseUntilTenMinutesRemain(t *testing.T) {
	e := newEnv(t)
	first, exp := mustID(t, e, saJobs, testAudience, true)

	e.clk.Set(exp.Add(-idTokenReuseMargin - time.Second))
	again, exp2 := mustID(t, e, saJobs, testAudience, true)
	if again != first || !exp2.Equal(exp) {
		t.Fatal("a token with more than 10 minutes left was not reused")
	}
	for _, other := range []struct {
		a     Account
		aud   string
		email bool
	}{{saOther, testAudience, true}, {saJobs, testAudience + "/x", true}, {saJobs, testAudience, false}} {
		if tok, _ := mustID(t, e, other.a, other.aud, other.email); tok == first {
			t.Fatalf("(%s, %s, %v) got the cached token of another key", other.a.Email, other.aud, other.email)
		}
	}

	e.clk.Set(exp.Add(-idTokenReuseMargin))
	fresh, exp3 := mustID(t, e, saJobs, testAudience, true)
	if fresh == first {
		t.Fatal("a token with 10 minutes left was handed out again")
	}
	if !exp3.Equal(e.clk.Now().Add(time.Hour)) {
		t.Fatalf("new token expires %v, want %v", exp3, e.clk.Now().Add(time.Hour))
	}
	if again, _ := mustID(t, e, saJobs, testAudience, true); again != fresh {
		t.Fatal("the new token is not cached")
	}
}

func TestIDTokenCacheIsBounded(t *testing.T) {
	e := newEnv(t)
	e.minter.cache = newTTLCache[idCacheKey, mintedToken](3)
	for i := range 10 {
		mustID(t, e, saJobs, fmt.Sprintf("https://f%d", i), false)
	}
	if n := e.minter.cache.len(); n != 3 {
		t.Fatalf("%d entries, want the bound 3", n)
	}
}

func TestMintRefusals(t *testing.T) {
	e := newEnv(t)
	disabled := saJobs
	disabled.Disabled = true
	noEmail := Account{UniqueID: "1"}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"disabled account", errOf(e.minter.IDToken(e.ctx, disabled, testAudience, true)), ErrAccountDisabled},
		{"empty audience", errOf(e.minter.IDToken(e.ctx, saJobs, "", true)), ErrInvalidArgument},
		{"no unique id", errOf(e.minter.IDToken(e.ctx, Account{Email: "x@y"}, testAudience, true)), ErrInvalidArgument},
		{"email asked, none known", errOf(e.minter.IDToken(e.ctx, noEmail, testAudience, true)), ErrInvalidArgument},
		{"access: disabled", errOf(e.minter.AccessToken(e.ctx, disabled, []string{CloudPlatformScope}, 0)), ErrAccountDisabled},
		{"access: over 1h", errOf(e.minter.AccessToken(e.ctx, saJobs, []string{CloudPlatformScope}, time.Hour+time.Second)), ErrInvalidArgument},
		{"access: negative", errOf(e.minter.AccessToken(e.ctx, saJobs, []string{CloudPlatformScope}, -time.Second)), ErrInvalidArgument},
		{"access: no scopes", errOf(e.minter.AccessToken(e.ctx, saJobs, nil, 0)), ErrInvalidArgument},
		{"access: blank scope", errOf(e.minter.AccessToken(e.ctx, saJobs, []string{"a b"}, 0)), ErrInvalidArgument},
		{"signJwt: disabled", errOf2(e.minter.SignJWT(e.ctx, disabled, `{}`)), ErrAccountDisabled},
		{"signBlob: disabled", errOf2(e.minter.SignBlob(e.ctx, disabled, []byte("x"))), ErrAccountDisabled},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
}

func errOf[T any](_ T, _ time.Time, err error) error { return err }
func errOf2[A, B any](_ A, _ B, err error) error     { return err }

func TestAccessToken(t *testing.T) {
	e := newEnv(t)
	scopes := []string{CloudPlatformScope, "https://www.googleapis.com/auth/userinfo.email"}
	tok, exp, err := e.minter.AccessToken(e.ctx, saJobs, scopes, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "ya29.") || !exp.Equal(t0.Add(time.Hour)) {
		t.Fatalf("token %.12s... exp %v", tok, exp)
	}
	c, err := e.verifier.VerifyAccessToken(e.ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, scopes) || c.Subject != saJobs.UniqueID || c.Email != saJobs.Email || c.Account != saJobs || !c.Expiry.Equal(exp) {
		t.Fatalf("claims %+v", c)
	}

	short, exp, err := e.minter.AccessToken(e.ctx, saJobs, scopes, 10*time.Minute)
	if err != nil || !exp.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("10-minute token: exp %v err %v", exp, err)
	}
	e.clk.Set(exp)
	wantReason(t, verifyErr(e.verifier.VerifyAccessToken(e.ctx, short)), ReasonExpired)

	// ID tokens are not access tokens, however presented.
	id := e.idToken(saJobs, testAudience, true)
	wantReason(t, verifyErr(e.verifier.VerifyAccessToken(e.ctx, id)), ReasonNotAccessToken)
	wantReason(t, verifyErr(e.verifier.VerifyAccessToken(e.ctx, AccessTokenPrefix+id)), ReasonNotAccessToken)
	// An access token is not an ID token.
	wantReason(t, verifyErr(e.verifier.VerifyIDToken(e.ctx, tok, nil)), ReasonNotIDToken)

	e.accounts.setDisabled(saJobs.UniqueID, true)
	e.clk.Set(t0)
	wantReason(t, verifyErr(e.verifier.VerifyAccessToken(e.ctx, tok)), ReasonAccountDisabled)
}

func TestAccessTokenLifetimeBoundByKeyOptions(t *testing.T) {
	e := newEnv(t)
	k, err := NewKeySet(e.ctx, newMemKeyStore(), e.clk, KeyOptions{TokenLifetime: 30 * time.Minute, generate: e.gen})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMinter(k, e.clk, testIssuer)
	if _, _, err := m.AccessToken(e.ctx, saJobs, []string{CloudPlatformScope}, time.Hour); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("1h token with 30m keys: %v", err)
	}
	_, exp, err := m.IDToken(e.ctx, saJobs, testAudience, false)
	if err != nil || !exp.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("ID token exp %v (%v), want the configured lifetime", exp, err)
	}
}

func TestSignJWT(t *testing.T) {
	e := newEnv(t)
	payload := `{"sub":"user@example.com", "iat": 313435, "exp": ` + itoa(t0.Add(12*time.Hour).Unix()) + `}`
	kid, signed, err := e.minter.SignJWT(e.ctx, saJobs, payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(decodeSegment(t, signed, 1)) != payload {
		t.Fatalf("payload changed: %s", decodeSegment(t, signed, 1))
	}
	if got, want := string(decodeSegment(t, signed, 0)), `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`; got != want {
		t.Fatalf("header %s, want %s", got, want)
	}
	// Signed by the account's own key, published per account and not in
	// the issuer's JWKS.
	if slices.Contains(jwksKids(e.keys), kid) {
		t.Fatal("signJwt used an issuer key")
	}
	// The account's document lists the signer and, published ahead, the
	// key that takes over when the signer's life ends.
	jwks := e.keys.AccountJWKS(saJobs.UniqueID)
	if len(jwks.Keys) != 2 || !hasKid(jwks, kid) {
		t.Fatalf("account JWKS %v, want the key %s and its successor", jwks.Keys, kid)
	}
	obj, err := jose.ParseSignedCompact(signed, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Verify(jwks.Key(kid)[0].Key); err != nil {
		t.Fatalf("does not verify with the published account key: %v", err)
	}

	// The same account reuses its key; another account gets its own.
	kid2, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`)
	if err != nil || kid2 != kid {
		t.Fatalf("second signJwt: kid %s err %v, want %s", kid2, err, kid)
	}
	otherKid, _, err := e.minter.SignJWT(e.ctx, saOther, `{}`)
	if err != nil || otherKid == kid {
		t.Fatalf("another account: kid %s err %v", otherKid, err)
	}
	if k := e.keys.AccountJWKS(saOther.UniqueID); len(k.Keys) != 2 || !hasKid(k, otherKid) || hasKid(k, kid) {
		t.Fatal("accounts share keys")
	}
}

func TestSignJWTPayloadRules(t *testing.T) {
	e := newEnv(t)
	now := t0.Unix()
	for _, c := range []struct {
		payload string
		want    string // exact signed payload, or "" for an error
	}{
		{`{"sub":"a"}`, `{"sub":"a","exp":` + itoa(now+3600) + `}`},
		{` { } `, ` { "exp":` + itoa(now+3600) + `}`},
		{`{"exp":` + itoa(now) + `}`, `{"exp":` + itoa(now) + `}`},
		{`{"exp":` + itoa(now-1) + `}`, ""},
		{`{"exp":` + itoa(now+12*3600+1) + `}`, ""},
		{`{"exp":1.5}`, ""},
		{`{"exp":"` + itoa(now+60) + `"}`, ""},
		{`[]`, ""},
		{`null`, ""},
		{`{"a":1`, ""},
		{``, ""},
	} {
		_, signed, err := e.minter.SignJWT(e.ctx, saJobs, c.payload)
		if c.want == "" {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%q: err = %v, want invalid argument", c.payload, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.payload, err)
			continue
		}
		if got := string(decodeSegment(t, signed, 1)); got != c.want {
			t.Errorf("%q signed as %s, want %s", c.payload, got, c.want)
		}
	}
}

func TestSignBlob(t *testing.T) {
	e := newEnv(t)
	blob := []byte("the blob")
	kid, sig, err := e.minter.SignBlob(e.ctx, saJobs, blob)
	if err != nil {
		t.Fatal(err)
	}
	var pub *rsa.PublicKey
	for _, k := range e.keys.AccountJWKS(saJobs.UniqueID).Keys {
		if k.KeyID == kid {
			pub = k.Key.(*rsa.PublicKey)
		}
	}
	if pub == nil {
		t.Fatalf("key %s not published for the account", kid)
	}
	sum := sha256.Sum256(blob)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
}

func TestAccountKeysRotateAndOutliveTheirJWTsBy12Hours(t *testing.T) {
	e := newEnv(t)
	first, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	// Last use just before the end of its signing life, with the longest
	// exp signJwt allows.
	e.clk.Set(t0.Add(period - time.Second))
	lastExp := e.clk.Now().Add(12 * time.Hour).Unix()
	if kid, _, err := e.minter.SignJWT(e.ctx, saJobs, `{"exp":`+itoa(lastExp)+`}`); err != nil || kid != first {
		t.Fatalf("kid %s err %v", kid, err)
	}
	e.clk.Set(t0.Add(period))
	second, _, err := e.minter.SignJWT(e.ctx, saJobs, `{}`)
	if err != nil || second == first {
		t.Fatalf("after the signing life: kid %s err %v, want a new key", second, err)
	}
	e.maintain(e.keys)
	// Published until after the last JWT's exp.
	e.clk.Set(time.Unix(lastExp, 0))
	e.maintain(e.keys)
	if !hasKid(e.keys.AccountJWKS(saJobs.UniqueID), first) {
		t.Fatal("the old account key left before the JWTs it signed expired")
	}
	e.clk.Set(t0.Add(period + accountKeyGrace + clockSkew))
	e.maintain(e.keys)
	if hasKid(e.keys.AccountJWKS(saJobs.UniqueID), first) {
		t.Fatal("the old account key is still published after its grace")
	}
	for _, r := range e.st.snapshot() {
		if strings.HasSuffix(r.KeyID, first) {
			t.Fatal("the old account key is still stored")
		}
	}
}

func TestConcurrentFirstSignJWTCreatesOneKeyAndItsSuccessor(t *testing.T) {
	e := newEnv(t)
	other := e.newKeySet()
	minters := []*Minter{e.minter, NewMinter(other, e.clk, testIssuer), e.minter}
	created := len(e.st.created)
	kids := make([]string, len(minters))
	errs := make(chan error, len(minters))
	done := make(chan struct{})
	for i, m := range minters {
		go func() {
			var err error
			kids[i], _, err = m.SignJWT(e.ctx, saJobs, `{}`)
			errs <- err
			done <- struct{}{}
		}()
	}
	for range minters {
		<-done
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.st.created) - created; n != 2 {
		t.Fatalf("%d account keys created, want 2 (the signer and its successor)", n)
	}
	if kids[0] != kids[1] || kids[1] != kids[2] {
		t.Fatalf("kids %v differ", kids)
	}
}

func hasKid(set jose.JSONWebKeySet, kid string) bool {
	return len(set.Key(kid)) > 0
}

func TestAccessTokenPayload(t *testing.T) {
	e := newEnv(t)
	tok, _, err := e.minter.AccessToken(e.ctx, saJobs, []string{"a", "b"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	jws := strings.TrimPrefix(tok, AccessTokenPrefix)
	var h map[string]string
	if err := json.Unmarshal(decodeSegment(t, jws, 0), &h); err != nil || h["typ"] != "at+jwt" || h["alg"] != "RS256" {
		t.Fatalf("header %v (%v)", h, err)
	}
	c := claimsOf(t, jws)
	if c["token_use"] != "access" || c["scope"] != "a b" || c["aud"] != nil {
		t.Fatalf("claims %v", c)
	}
}
