package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/oidcron/oidcron/internal/store"
)

// Paths of the documents verifiers fetch, relative to the issuer, as
// Google's (www.googleapis.com/oauth2/v3/certs and v1/certs).
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/oauth2/v3/certs"
	PEMCertsPath  = "/oauth2/v1/certs"
	// ServiceAccountKeysPath prefixes the per-account key documents:
	// .../x509/EMAIL ({kid: PEM}) and .../jwk/EMAIL (a JWK set), as
	// www.googleapis.com/service_accounts/v1/metadata/....
	ServiceAccountKeysPath = "/service_accounts/v1/metadata/"
)

// discoveryMaxAge: the discovery document changes only with the
// configuration, so verifiers may keep it as long as the key set.
const discoveryMaxAge = 3600

// DiscoveryHandler serves the OpenID Provider metadata for issuer: what
// go-oidc's NewProvider reads (issuer, jwks_uri, the RS256 algorithm) and
// the fields of Google's document that describe ID tokens. There are no
// authorization or token endpoints: tokens come from IAM Credentials and
// the metadata server, not from an OAuth flow.
func DiscoveryHandler(issuer string) http.Handler {
	doc := struct {
		Issuer          string   `json:"issuer"`
		JWKSURI         string   `json:"jwks_uri"`
		ResponseTypes   []string `json:"response_types_supported"`
		SubjectTypes    []string `json:"subject_types_supported"`
		SigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
		ClaimsSupported []string `json:"claims_supported"`
	}{
		// issuer goes out exactly as configured: go-oidc compares it byte
		// for byte with the issuer it was given and with every token's iss.
		Issuer:          issuer,
		JWKSURI:         strings.TrimSuffix(issuer, "/") + JWKSPath,
		ResponseTypes:   []string{"id_token"},
		SubjectTypes:    []string{"public"},
		SigningAlgs:     []string{"RS256"},
		ClaimsSupported: []string{"aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub"},
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // static data
	}
	body = append(body, '\n')
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, body, discoveryMaxAge)
	})
}

// JWKSHandler serves the issuer's JWK set (GET /oauth2/v3/certs) with
// Cache-Control max-age = CacheMaxAge() (see there for why).
func (k *KeySet) JWKSHandler() http.Handler {
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(k.JWKS())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, body, int(k.CacheMaxAge().Seconds()))
	})
}

// PEMCertsHandler serves the issuer's keys as {"kid": "-----BEGIN
// CERTIFICATE-----..."} (GET /oauth2/v1/certs), like Google's, for verifiers
// that want x509 PEM.
func (k *KeySet) PEMCertsHandler() http.Handler {
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		certs, err := k.PEMCerts()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writePEMCerts(w, certs, int(k.CacheMaxAge().Seconds()))
	})
}

// ServiceAccountKeysHandler serves the public keys of the per-account keys
// that sign signJwt and signBlob, as Google publishes a service account's
// keys: GET /service_accounts/v1/metadata/x509/{EMAIL_OR_UNIQUE_ID} ({kid:
// PEM}) and .../jwk/{EMAIL_OR_UNIQUE_ID} (a JWK set), with Cache-Control
// max-age = AccountCacheMaxAge. An account that never signed has an empty
// set; an unknown or deleted account is 404.
func (k *KeySet) ServiceAccountKeysHandler(lookup AccountLookup) http.Handler {
	return getOnly(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, ServiceAccountKeysPath)
		format, id, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || id == "" || strings.Contains(id, "/") || (format != "x509" && format != "jwk") {
			writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "Not Found: "+r.URL.Path)
			return
		}
		acct, err := lookup(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Service account %s does not exist.", id))
			return
		}
		if err != nil {
			writeGoogleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		if err := k.refreshAccount(r.Context(), acct.UniqueID); err != nil {
			writeGoogleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		maxAge := int(k.AccountCacheMaxAge(acct.UniqueID).Seconds())
		if format == "jwk" {
			body, err := json.Marshal(k.AccountJWKS(acct.UniqueID))
			if err != nil {
				writeGoogleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
				return
			}
			writeJSON(w, body, maxAge)
			return
		}
		certs, err := k.AccountPEMCerts(acct.UniqueID)
		if err != nil {
			writeGoogleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		writePEMCerts(w, certs, maxAge)
	})
}

func writePEMCerts(w http.ResponseWriter, certs map[string]string, maxAge int) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(certs); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, buf.Bytes(), maxAge)
}

func getOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	})
}

// writeJSON sends a key document with the cache directives Google's carry,
// so that verifiers honouring HTTP caching (google-auth, go-oidc's remote
// key set refetching on an unknown kid) behave as they do with Google.
func writeJSON(w http.ResponseWriter, body []byte, maxAge int) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge)+", must-revalidate, no-transform")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func writeGoogleError(w http.ResponseWriter, code int, status, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
