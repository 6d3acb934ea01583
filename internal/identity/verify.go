package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// Claims are a verified token's claims.
type Claims struct {
	Issuer          string
	Subject         string // the account's unique id
	Audience        string // ID tokens: the aud claim (its first member if a list; ours is one string)
	AuthorizedParty string
	Email           string // only when the token carries it
	EmailVerified   bool
	IssuedAt        time.Time
	Expiry          time.Time
	KeyID           string
	Scopes          []string // access tokens
	// Account is the subject's account as the AccountSource returned it at
	// verification, so that a caller can name the principal by email even
	// when the token carries none.
	Account Account
}

// Reason says why a token was refused; the values are stable identifiers
// for logs, metrics and the doctor.
type Reason string

const (
	ReasonMalformed       Reason = "malformed"
	ReasonNotIDToken      Reason = "not_id_token"
	ReasonNotAccessToken  Reason = "not_access_token"
	ReasonAlgorithm       Reason = "algorithm"
	ReasonUnknownKey      Reason = "unknown_key"
	ReasonSignature       Reason = "signature"
	ReasonIssuer          Reason = "issuer"
	ReasonAudience        Reason = "audience"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonAccountNotFound Reason = "account_not_found"
	ReasonAccountDisabled Reason = "account_disabled"
)

const (
	// verifyCacheSize bounds the verified-token cache (a few hundred bytes
	// an entry): the gateway sees one token per (caller, audience) per hour.
	verifyCacheSize = 10000
	// maxTokenLength: ours are about 1 KB; a longer string is not ours and
	// is refused before any parsing or hashing work.
	maxTokenLength    = 16 << 10
	verifiedAlgorithm = jose.RS256
	idTokenTyp        = "JWT"
)

// VerifyError is a refused token: the gateway answers 401 for every one.
// Any other error from a Verifier (a store failure looking up the account)
// means the token could not be judged.
type VerifyError struct {
	Reason Reason
	Detail string // names the claim and the values, e.g. aud "https://x" is not one of ["https://a/f"]
}

func (e *VerifyError) Error() string {
	return "identity: token refused (" + string(e.Reason) + "): " + e.Detail
}

func refuse(r Reason, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verifier checks tokens minted by this issuer. It parses the compact JWS
// itself, with RS256 as the only algorithm, and caches successful
// cryptographic checks by token so that the gateway pays RSA once per token
// rather than once per request; expiry and the account are checked on
// every call.
type Verifier struct {
	keys     *KeySet
	clk      clock.Clock
	issuer   string
	accounts AccountSource
	// cache is keyed by the token itself: hashing it would cost several
	// times the lookup it saves, and only tokens that verified (minted here,
	// about 1 KB) are stored, so 10,000 entries stay near 10 MB.
	cache *ttlCache[string, *verified]
}

// verified is what the cache keeps: the claims of a token whose signature
// and issuer have been checked. Immutable once cached.
type verified struct {
	claims    Claims
	auds      []string
	notBefore time.Time
	access    bool
}

// NewVerifier returns a Verifier for tokens signed by keys with iss exactly
// issuer, whose subjects are resolved through accounts.
func NewVerifier(keys *KeySet, clk clock.Clock, issuer string, accounts AccountSource) *Verifier {
	return &Verifier{keys: keys, clk: clk, issuer: issuer, accounts: accounts,
		cache: newTTLCache[string, *verified](verifyCacheSize)}
}

// VerifyIDToken verifies an ID token for one of audiences (nil: any
// audience; an empty non-nil slice accepts none, so that a caller that
// computed no audience does not silently accept every one). The checks, in
// order: shape, algorithm (RS256 only), key (kid in the key set), signature,
// iss, aud, exp, iat, then the account by sub (missing or disabled).
func (v *Verifier) VerifyIDToken(ctx context.Context, raw string, audiences []string) (*Claims, error) {
	if strings.HasPrefix(raw, AccessTokenPrefix) {
		// Google answers 401 when a function is given an OAuth access token.
		return nil, refuse(ReasonNotIDToken, "an OAuth access token (%s...) is not an ID token", AccessTokenPrefix)
	}
	vd, err := v.verifyCrypto(ctx, raw, raw, false)
	if err != nil {
		return nil, err
	}
	if audiences != nil && !slices.ContainsFunc(vd.auds, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, refuse(ReasonAudience, "aud %s is not one of %s", quoteAud(vd.auds), quoteList(audiences))
	}
	return v.finish(ctx, vd)
}

// VerifyAccessToken verifies an access token minted by Minter.AccessToken.
func (v *Verifier) VerifyAccessToken(ctx context.Context, raw string) (*Claims, error) {
	jws, ok := strings.CutPrefix(raw, AccessTokenPrefix)
	if !ok {
		return nil, refuse(ReasonNotAccessToken, "the token does not start with %q: an ID token is not an OAuth access token", AccessTokenPrefix)
	}
	vd, err := v.verifyCrypto(ctx, raw, jws, true)
	if err != nil {
		return nil, err
	}
	return v.finish(ctx, vd)
}

// finish runs the checks that depend on now and on the account, which are
// never cached.
func (v *Verifier) finish(ctx context.Context, vd *verified) (*Claims, error) {
	now := v.clk.Now()
	c := vd.claims
	// No leeway on exp: tokens are minted by this issuer with the same
	// clock (or NTP-synchronised replicas), the minter hands a token out
	// only while at least 10 minutes of it remain, and Google's own
	// libraries reject now > exp outright; leeway would only stretch a
	// credential's life.
	if !now.Before(c.Expiry) {
		return nil, refuse(ReasonExpired, "exp %s is not after now %s", stamp(c.Expiry), stamp(now))
	}
	if c.IssuedAt.After(now.Add(clockSkew)) {
		return nil, refuse(ReasonNotYetValid, "iat %s is more than %v after now %s", stamp(c.IssuedAt), clockSkew, stamp(now))
	}
	if !vd.notBefore.IsZero() && vd.notBefore.After(now.Add(clockSkew)) {
		return nil, refuse(ReasonNotYetValid, "nbf %s is more than %v after now %s", stamp(vd.notBefore), clockSkew, stamp(now))
	}
	acct, err := v.accounts.AccountByUniqueID(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(ReasonAccountNotFound, "sub %q names no live service account (deleted or unknown)", c.Subject)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: looking up the token's account %q: %w", c.Subject, err)
	}
	if acct.Disabled {
		return nil, refuse(ReasonAccountDisabled, "service account %s (sub %q) is disabled", accountName(acct), c.Subject)
	}
	c.Account = acct
	c.Scopes = append([]string(nil), c.Scopes...)
	return &c, nil
}

// header is the JOSE header as we read it before go-jose does, to classify
// a refusal precisely.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type payloadClaims struct {
	Iss           string           `json:"iss"`
	Sub           string           `json:"sub"`
	Aud           jwt.Audience     `json:"aud"`
	Azp           string           `json:"azp"`
	Email         string           `json:"email"`
	EmailVerified bool             `json:"email_verified"`
	Iat           *jwt.NumericDate `json:"iat"`
	Exp           *jwt.NumericDate `json:"exp"`
	Nbf           *jwt.NumericDate `json:"nbf"`
	Scope         string           `json:"scope"`
	TokenUse      string           `json:"token_use"`
}

// strictB64 refuses non-canonical encodings (non-zero unused trailing
// bits), so that one signed token has exactly one accepted spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// verifyCrypto checks shape, algorithm, key, signature, issuer and token
// kind, or returns the cached result of having done so. raw is the token as
// presented (the cache key); jws is its compact JWS part.
func (v *Verifier) verifyCrypto(ctx context.Context, raw, jws string, access bool) (*verified, error) {
	if len(raw) > maxTokenLength {
		return nil, refuse(ReasonMalformed, "token of %d bytes exceeds %d", len(raw), maxTokenLength)
	}
	now := v.clk.Now()
	if vd, ok := v.cache.get(raw, now); ok && vd.access == access {
		// A key deleted from the set (say, withdrawn after a compromise)
		// stops vouching for tokens at once, cached or not.
		if v.keys.published(vd.claims.KeyID, now) {
			return vd, nil
		}
	}

	// Only the base64url alphabet and the two dots: Go's base64 decoders
	// skip CR and LF even in strict mode, and one signed token must have
	// exactly one accepted spelling.
	for i := 0; i < len(jws); i++ {
		if c := jws[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return nil, refuse(ReasonMalformed, "byte %d (%q) is not base64url", i, c)
		}
	}
	segs := strings.Split(jws, ".")
	if len(segs) != 3 {
		return nil, refuse(ReasonMalformed, "a compact JWS has 3 dot-separated parts, this token has %d", len(segs))
	}
	hb, err := strictB64.DecodeString(segs[0])
	if err != nil {
		return nil, refuse(ReasonMalformed, "the header is not base64url: %v", err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse(ReasonMalformed, "the header is not a JSON object: %v", err)
	}
	// The algorithm is judged before the rest of the shape: an alg "none"
	// token has an empty signature and must be refused for its algorithm.
	if h.Alg != string(verifiedAlgorithm) {
		return nil, refuse(ReasonAlgorithm, "alg %q is not %s, the only algorithm accepted", h.Alg, verifiedAlgorithm)
	}
	for i, s := range segs[1:] {
		if s == "" {
			return nil, refuse(ReasonMalformed, "part %d of the token is empty", i+2)
		}
		if _, err := strictB64.DecodeString(s); err != nil {
			return nil, refuse(ReasonMalformed, "part %d is not base64url: %v", i+2, err)
		}
	}
	if access && h.Typ != accessTokenTyp {
		return nil, refuse(ReasonNotAccessToken, "header typ %q is not %q", h.Typ, accessTokenTyp)
	}
	if !access && h.Typ != idTokenTyp {
		return nil, refuse(ReasonNotIDToken, "header typ %q is not %q", h.Typ, idTokenTyp)
	}
	if h.Kid == "" {
		return nil, refuse(ReasonUnknownKey, "the header has no kid")
	}
	sk, err := v.keys.issuerKey(ctx, h.Kid)
	if err != nil {
		return nil, refuse(ReasonUnknownKey, "kid %q is not in the issuer's key set (re-reading the keys failed: %v)", h.Kid, err)
	}
	if sk == nil {
		return nil, refuse(ReasonUnknownKey, "kid %q is not in the issuer's key set", h.Kid)
	}
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{verifiedAlgorithm})
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	payload, err := obj.Verify(&sk.priv.PublicKey)
	if err != nil {
		return nil, refuse(ReasonSignature, "the signature does not verify with key %s", sk.kid)
	}

	var p payloadClaims
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, refuse(ReasonMalformed, "payload is not a JSON claims object: %v", err)
	}
	if access && p.TokenUse != tokenUseAccess {
		return nil, refuse(ReasonNotAccessToken, "token_use %q is not %q", p.TokenUse, tokenUseAccess)
	}
	if !access && p.TokenUse != "" {
		return nil, refuse(ReasonNotIDToken, "token_use %q marks a token that is not an ID token", p.TokenUse)
	}
	if p.Iss != v.issuer {
		return nil, refuse(ReasonIssuer, "iss %q is not %q", p.Iss, v.issuer)
	}
	switch {
	case p.Sub == "":
		return nil, refuse(ReasonMalformed, "claim sub is missing")
	case p.Exp == nil:
		return nil, refuse(ReasonMalformed, "claim exp is missing")
	case p.Iat == nil:
		return nil, refuse(ReasonMalformed, "claim iat is missing")
	case !access && len(p.Aud) == 0:
		return nil, refuse(ReasonMalformed, "claim aud is missing")
	}
	vd := &verified{access: access, claims: Claims{
		Issuer:          p.Iss,
		Subject:         p.Sub,
		AuthorizedParty: p.Azp,
		Email:           p.Email,
		EmailVerified:   p.EmailVerified,
		IssuedAt:        p.Iat.Time(),
		Expiry:          p.Exp.Time(),
		KeyID:           sk.kid,
	}}
	if len(p.Aud) > 0 {
		// Ours is always one string; a list is accepted when any member
		// matches, as go-oidc does.
		vd.auds = []string(p.Aud)
		vd.claims.Audience = p.Aud[0]
	}
	if p.Nbf != nil {
		vd.notBefore = p.Nbf.Time()
	}
	if access {
		vd.claims.Scopes = strings.Fields(p.Scope)
	}
	v.cache.put(raw, vd, vd.claims.Expiry, now)
	return vd, nil
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func quoteAud(auds []string) string {
	if len(auds) == 1 {
		return strconv.Quote(auds[0])
	}
	return quoteList(auds)
}

func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + strconv.FormatInt(t.Unix(), 10) + ")"
}
