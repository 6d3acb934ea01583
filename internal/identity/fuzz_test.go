package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzVerifyIDToken feeds the token parser arbitrary strings. It must never
// panic, must refuse with a VerifyError (never another error: the account
// source here cannot fail), and must accept nothing but the genuine tokens
// it was seeded with: no mutation of a token, however small, still verifies.
func FuzzVerifyIDToken(f *testing.F) {
	e := newEnv(f)
	valid := map[string]bool{}
	validAccess := map[string]bool{}
	for _, aud := range []string{testAudience, "https://a.run.app"} {
		for _, email := range []bool{true, false} {
			tok := e.idToken(saJobs, aud, email)
			valid[tok] = true
			f.Add(tok)
		}
	}
	at, _, err := e.minter.AccessToken(e.ctx, saJobs, []string{CloudPlatformScope}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	validAccess[at] = true
	f.Add(at)
	f.Add(strings.TrimPrefix(at, AccessTokenPrefix))
	_, signed, _ := e.minter.SignJWT(e.ctx, saJobs, `{"iss":"`+testIssuer+`","sub":"1","aud":"x","exp":`+itoa(t0.Add(time.Hour).Unix())+`}`)
	f.Add(signed)
	good := e.idToken(saJobs, testAudience, true)
	parts := strings.Split(good, ".")
	f.Add(encodeJSON(f, map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".")
	f.Add(hs256(f, headerKid(f, good), claimsOf(f, good), []byte("secret")))
	stranger, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signWith(f, jose.RS256, stranger, headerKid(f, good), claimsOf(f, good)))
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJ.eyJ.", "{}", `{"protected":"","payload":"","signature":""}`, "ya29.", "ya29.a.b.c"} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		for _, auds := range [][]string{nil, {testAudience}} {
			c, err := e.verifier.VerifyIDToken(e.ctx, raw, auds)
			checkFuzzResult(t, raw, c, err, valid)
		}
		c, err := e.verifier.VerifyAccessToken(e.ctx, raw)
		checkFuzzResult(t, raw, c, err, validAccess)
	})
}

func checkFuzzResult(t *testing.T, raw string, c *Claims, err error, valid map[string]bool) {
	t.Helper()
	if err == nil {
		if !valid[raw] {
			t.Fatalf("accepted a token that was never minted: %q (claims %+v)", raw, c)
		}
		if c == nil || c.Subject != saJobs.UniqueID {
			t.Fatalf("accepted with claims %+v", c)
		}
		return
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("refusal is not a VerifyError: %v", err)
	}
	if ve.Reason == "" || ve.Detail == "" {
		t.Fatalf("refusal without reason or detail: %+v", ve)
	}
}
