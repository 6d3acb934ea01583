package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oidcron/oidcron/internal/clock"
)

const (
	// AccessTokenPrefix starts every access token, as "ya29." starts
	// Google's: it makes an access token recognisable at a glance (and by
	// VerifyIDToken) and keeps it from parsing as a compact JWS.
	AccessTokenPrefix = "ya29."

	accessTokenTyp = "at+jwt"
	// tokenUseAccess is the value of the token_use claim that marks an
	// access token inside its signed payload too, so that the JWS stripped
	// of its prefix still fails VerifyIDToken. It also carries no aud, so
	// other verifiers checking the audience (go-oidc with a ClientID,
	// idtoken) refuse it as well.
	tokenUseAccess = "access"

	// MaxAccessTokenLifetime is IAM Credentials' default maximum for
	// generateAccessToken.
	MaxAccessTokenLifetime = time.Hour

	// idTokenReuseMargin: a cached ID token is handed out again until less
	// than this remains. The receiver verifies a token when the request
	// arrives, seconds after it is handed out; ten minutes covers that,
	// retries of one attempt, and clock skew, with room to spare.
	idTokenReuseMargin = 10 * time.Minute

	// mintCacheSize bounds the ID-token cache: one entry per (account,
	// audience, include_email) in use, a few hundred bytes each.
	mintCacheSize = 10000

	// maxSignJWTAhead is signJwt's limit on exp, as Google's.
	maxSignJWTAhead = 12 * time.Hour
)

// Minter mints tokens and signatures for accounts. It does not authorize:
// the caller has decided that the request may be served.
type Minter struct {
	keys   *KeySet
	clk    clock.Clock
	issuer string
	cache  *ttlCache[idCacheKey, mintedToken]
}

type idCacheKey struct {
	uniqueID, email, audience string
	includeEmail              bool
}

type mintedToken struct {
	token  string
	expiry time.Time
}

// NewMinter returns a Minter that signs with keys as issuer. The issuer
// string goes into iss exactly as given (go-oidc compares it byte for byte
// with the discovery document's).
func NewMinter(keys *KeySet, clk clock.Clock, issuer string) *Minter {
	return &Minter{keys: keys, clk: clk, issuer: issuer, cache: newTTLCache[idCacheKey, mintedToken](mintCacheSize)}
}

// idTokenClaims is Google's ID token payload; fields in alphabetical order,
// as Google's tokens have them.
type idTokenClaims struct {
	Aud           string `json:"aud"`
	Azp           string `json:"azp"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Exp           int64  `json:"exp"`
	Iat           int64  `json:"iat"`
	Iss           string `json:"iss"`
	Sub           string `json:"sub"`
}

type accessTokenClaims struct {
	Azp      string `json:"azp"`
	Email    string `json:"email"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Iss      string `json:"iss"`
	Scope    string `json:"scope"`
	Sub      string `json:"sub"`
	TokenUse string `json:"token_use"`
}

// IDToken returns an ID token for a with the given audience, shaped as
// Google's: header {alg RS256, kid, typ JWT}; payload aud (a string), azp =
// sub = the unique id, email and email_verified only with includeEmail, iat,
// exp = iat + TokenLifetime, iss. The same (account, audience, includeEmail)
// gets the same token until less than 10 minutes of it remain: signing
// costs about a millisecond of RSA, and a scheduler calls the same audience
// over and over. Only a caller that sends the token at once may use it:
// one that hands it out must use NewIDToken.
func (m *Minter) IDToken(ctx context.Context, a Account, audience string, includeEmail bool) (string, time.Time, error) {
	return m.idToken(a, audience, includeEmail, true)
}

// NewIDToken is IDToken signed for this call, valid for the full lifetime
// from now. generateIdToken and the metadata server hand tokens to Google's
// clients, which take one as good for an hour from when they got it (the
// impersonate package sets its expiry to now + 1h; the compute source keeps
// a metadata token for 55 minutes): a reused token could expire in their
// hands.
func (m *Minter) NewIDToken(ctx context.Context, a Account, audience string, includeEmail bool) (string, time.Time, error) {
	return m.idToken(a, audience, includeEmail, false)
}

func (m *Minter) idToken(a Account, audience string, includeEmail, reuse bool) (string, time.Time, error) {
	if err := checkAccount(a); err != nil {
		return "", time.Time{}, err
	}
	if audience == "" {
		return "", time.Time{}, invalidf("audience is required")
	}
	if includeEmail && a.Email == "" {
		return "", time.Time{}, invalidf("account %s has no email to include", a.UniqueID)
	}
	now := m.clk.Now()
	key := idCacheKey{uniqueID: a.UniqueID, email: a.Email, audience: audience, includeEmail: includeEmail}
	if t, ok := m.cache.get(key, now); ok && reuse {
		return t.token, t.expiry, nil
	}
	sk, err := m.keys.issuerSigner(now)
	if err != nil {
		return "", time.Time{}, err
	}
	iat := now.Unix()
	exp := iat + int64(m.keys.opts.TokenLifetime/time.Second)
	c := idTokenClaims{Aud: audience, Azp: a.UniqueID, Exp: exp, Iat: iat, Iss: m.issuer, Sub: a.UniqueID}
	if includeEmail {
		c.Email, c.EmailVerified = a.Email, true
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := sign(sk, payload, false)
	if err != nil {
		return "", time.Time{}, err
	}
	expiry := time.Unix(exp, 0)
	m.cache.put(key, mintedToken{token: tok, expiry: expiry}, expiry.Add(-idTokenReuseMargin), now)
	return tok, expiry, nil
}

// AccessToken returns an OAuth access token for a: "ya29." followed by a
// compact JWS (typ at+jwt, token_use "access") that only VerifyAccessToken
// accepts. lifetime 0 means the default, 1h (as generateAccessToken); more
// than 1h, or more than the key set's TokenLifetime (a retired key is kept
// only that long), is an error rather than silently shortened.
func (m *Minter) AccessToken(ctx context.Context, a Account, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	if err := checkAccount(a); err != nil {
		return "", time.Time{}, err
	}
	if len(scopes) == 0 {
		return "", time.Time{}, invalidf("at least one scope is required")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return "", time.Time{}, invalidf("scope %q is not a valid scope", s)
		}
	}
	if lifetime == 0 {
		lifetime = MaxAccessTokenLifetime
	}
	if lifetime < time.Second {
		return "", time.Time{}, invalidf("lifetime %v must be at least 1s", lifetime)
	}
	if lifetime > MaxAccessTokenLifetime {
		return "", time.Time{}, invalidf("lifetime %v exceeds the maximum of %v", lifetime, MaxAccessTokenLifetime)
	}
	if lifetime > m.keys.opts.TokenLifetime {
		return "", time.Time{}, invalidf("lifetime %v exceeds the configured token lifetime %v", lifetime, m.keys.opts.TokenLifetime)
	}
	now := m.clk.Now()
	sk, err := m.keys.issuerSigner(now)
	if err != nil {
		return "", time.Time{}, err
	}
	iat := now.Unix()
	exp := iat + int64(lifetime/time.Second)
	payload, err := json.Marshal(accessTokenClaims{
		Azp: a.UniqueID, Email: a.Email, Exp: exp, Iat: iat, Iss: m.issuer,
		Scope: strings.Join(scopes, " "), Sub: a.UniqueID, TokenUse: tokenUseAccess,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := sign(sk, payload, true)
	if err != nil {
		return "", time.Time{}, err
	}
	return AccessTokenPrefix + tok, time.Unix(exp, 0), nil
}

// SignJWT signs payload (a JSON object of claims, as IAM Credentials
// signJwt) with the account's own key, not an issuer key (see the package
// comment), and returns that key's id and the compact JWT. An exp claim must
// be an integer not in the past and at most 12 hours ahead; without one,
// exp = now + 1h is added, as Google documents.
func (m *Minter) SignJWT(ctx context.Context, a Account, payload string) (string, string, error) {
	if err := checkAccount(a); err != nil {
		return "", "", err
	}
	now := m.clk.Now()
	body, err := prepareJWTPayload(payload, now)
	if err != nil {
		return "", "", err
	}
	sk, err := m.keys.accountSigner(ctx, a.UniqueID)
	if err != nil {
		return "", "", err
	}
	tok, err := sign(sk, body, false)
	if err != nil {
		return "", "", err
	}
	return sk.kid, tok, nil
}

// SignBlob signs payload with the account's own key: RSASSA-PKCS1-v1_5 over
// SHA-256, as Google's signBlob.
func (m *Minter) SignBlob(ctx context.Context, a Account, payload []byte) (string, []byte, error) {
	if err := checkAccount(a); err != nil {
		return "", nil, err
	}
	sk, err := m.keys.accountSigner(ctx, a.UniqueID)
	if err != nil {
		return "", nil, err
	}
	digest := sha256.Sum256(payload)
	sig, err := rsa.SignPKCS1v15(nil, sk.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", nil, fmt.Errorf("identity: signing a blob: %w", err)
	}
	return sk.kid, sig, nil
}

func checkAccount(a Account) error {
	if a.UniqueID == "" {
		return invalidf("account has no unique id")
	}
	if a.Disabled {
		return fmt.Errorf("identity: %w: %s", ErrAccountDisabled, accountName(a))
	}
	return nil
}

func accountName(a Account) string {
	if a.Email != "" {
		return a.Email
	}
	return a.UniqueID
}

func sign(sk *signingKey, payload []byte, access bool) (string, error) {
	signer := sk.jwt
	if access {
		signer = sk.access
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("identity: signing with key %s: %w", sk.kid, err)
	}
	return jws.CompactSerialize()
}

// prepareJWTPayload checks a signJwt payload and adds exp when it has none.
// The caller's bytes are otherwise kept as given: they are what the caller
// asked to have signed.
func prepareJWTPayload(payload string, now time.Time) ([]byte, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &claims); err != nil || claims == nil {
		return nil, invalidf("payload must be a JSON object containing a JWT Claims Set")
	}
	if raw, ok := claims["exp"]; ok {
		exp, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, invalidf("exp %s must be an integer timestamp", raw)
		}
		if exp < now.Unix() {
			return nil, invalidf("exp %d is in the past (now is %d)", exp, now.Unix())
		}
		if exp > now.Add(maxSignJWTAhead).Unix() {
			return nil, invalidf("exp %d is more than 12 hours in the future (now is %d)", exp, now.Unix())
		}
		return []byte(payload), nil
	}
	exp := now.Add(time.Hour).Unix()
	body := bytes.TrimRight([]byte(payload), " \t\r\n")
	body = body[:len(body)-1] // the closing brace: the payload is an object
	sep := ","
	if len(claims) == 0 {
		sep = ""
	}
	out := make([]byte, 0, len(body)+32)
	out = append(out, body...)
	out = append(out, sep+`"exp":`+strconv.FormatInt(exp, 10)+"}"...)
	return out, nil
}
