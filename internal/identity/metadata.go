package identity

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/oidcron/oidcron/internal/store"
)

// MetadataOptions configures MetadataHandler.
type MetadataOptions struct {
	// Minter mints the tokens. Required.
	Minter *Minter
	// Email of the service account the workload runs as (the "default"
	// account). Required.
	Email string
	// Lookup resolves Email to the account on every request, so that a
	// disabled or deleted account gets an error instead of a token.
	// Required.
	Lookup AccountLookup
	// Scopes of the default access token (default: cloud-platform, as a VM
	// created with the default "Allow full access" setting).
	Scopes []string
}

const metadataAccountsPrefix = "/computeMetadata/v1/instance/service-accounts/"

// CloudPlatformScope is the OAuth scope of every API oidcron serves, and
// the default of its access tokens (the metadata server's, a job's).
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// MetadataHandler serves the service-account part of the GCE metadata
// server (reference §3.4) for workloads beside oidcron, so that Google's
// client libraries (cloud.google.com/go/compute/metadata, idtoken's compute
// source, google-auth's compute credentials) get tokens from oidcron with
// GCE_METADATA_HOST pointed at it:
//
//	/computeMetadata/v1/instance/service-accounts/                    "default/\nEMAIL/\n"
//	/computeMetadata/v1/instance/service-accounts/{default|EMAIL}/    listing; ?recursive=true: JSON
//	.../{default|EMAIL}/email                                         the email
//	.../{default|EMAIL}/aliases                                       "default"
//	.../{default|EMAIL}/scopes                                        one scope a line
//	.../{default|EMAIL}/token[?scopes=A,B]                            {"access_token","expires_in","token_type":"Bearer"}
//	.../{default|EMAIL}/identity?audience=AUD[&format=standard|full][&licenses=TRUE|FALSE]   the ID token, with email
//	/computeMetadata/v1/project/project-id                            the account's project
//
// Like the real server: GET only; requests without "Metadata-Flavor:
// Google", or with X-Forwarded-For (a request relayed by a proxy, the shape
// of SSRF), get 403; every response carries "Metadata-Flavor: Google".
// format=full cannot add the real server's "google.compute_engine" claims
// (there is no instance), so it returns the standard token. It panics if a
// required option is missing.
func MetadataHandler(opts MetadataOptions) http.Handler {
	if opts.Minter == nil || opts.Email == "" || opts.Lookup == nil {
		panic("identity: MetadataHandler needs Minter, Email and Lookup")
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{CloudPlatformScope}
	}
	return &metadataServer{opts: opts}
}

type metadataServer struct{ opts MetadataOptions }

func (s *metadataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		metadataText(w, http.StatusForbidden, "Your client does not have permission to get URL "+r.URL.Path+" from this server. Missing Metadata-Flavor:Google header.\n")
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		metadataText(w, http.StatusForbidden, "Your client does not have permission to get URL "+r.URL.Path+" from this server. Requests with X-Forwarded-For are refused: the metadata server serves local workloads, not proxied requests.\n")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		metadataText(w, http.StatusMethodNotAllowed, "Method not allowed: the metadata server answers GET only.\n")
		return
	}
	switch p := r.URL.Path; p {
	case "/", "":
		metadataText(w, http.StatusOK, "computeMetadata/\n")
		return
	case "/computeMetadata/":
		metadataText(w, http.StatusOK, "v1/\n")
		return
	case "/computeMetadata/v1/":
		metadataText(w, http.StatusOK, "instance/\nproject/\n")
		return
	case "/computeMetadata/v1/instance/":
		metadataText(w, http.StatusOK, "service-accounts/\n")
		return
	case "/computeMetadata/v1/project/":
		metadataText(w, http.StatusOK, "project-id\n")
		return
	case "/computeMetadata/v1/project/project-id":
		a, ok := s.account(w, r)
		if !ok {
			return
		}
		if a.ProjectID == "" {
			metadataNotFound(w, r)
			return
		}
		metadataText(w, http.StatusOK, a.ProjectID)
		return
	case metadataAccountsPrefix:
		metadataText(w, http.StatusOK, "default/\n"+s.opts.Email+"/\n")
		return
	}

	rest, ok := strings.CutPrefix(r.URL.Path, metadataAccountsPrefix)
	if !ok {
		metadataNotFound(w, r)
		return
	}
	alias, leaf, _ := strings.Cut(rest, "/")
	if alias != "default" && alias != s.opts.Email {
		metadataNotFound(w, r)
		return
	}
	q := r.URL.Query()
	switch leaf {
	case "":
		if q.Get("recursive") == "true" {
			a, ok := s.account(w, r)
			if !ok {
				return
			}
			metadataJSON(w, map[string]any{"aliases": []string{"default"}, "email": a.Email, "scopes": s.opts.Scopes})
			return
		}
		metadataText(w, http.StatusOK, "aliases\nemail\nidentity\nscopes\ntoken\n")
	case "aliases":
		metadataText(w, http.StatusOK, "default\n")
	case "email":
		a, ok := s.account(w, r)
		if !ok {
			return
		}
		metadataText(w, http.StatusOK, a.Email)
	case "scopes":
		metadataText(w, http.StatusOK, strings.Join(s.opts.Scopes, "\n")+"\n")
	case "token":
		s.token(w, r, q.Get("scopes"))
	case "identity":
		s.identity(w, r)
	default:
		metadataNotFound(w, r)
	}
}

func (s *metadataServer) identity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aud := q.Get("audience")
	if aud == "" {
		metadataText(w, http.StatusBadRequest, "non-empty audience parameter required\n")
		return
	}
	if f := q.Get("format"); f != "" && f != "standard" && f != "full" {
		metadataText(w, http.StatusBadRequest, "invalid format "+strconv.Quote(f)+": want \"standard\" or \"full\"\n")
		return
	}
	if l := strings.ToUpper(q.Get("licenses")); l != "" && l != "TRUE" && l != "FALSE" {
		metadataText(w, http.StatusBadRequest, "invalid licenses "+strconv.Quote(q.Get("licenses"))+": want TRUE or FALSE\n")
		return
	}
	a, ok := s.account(w, r)
	if !ok {
		return
	}
	// The real metadata server's tokens carry the email (reference §3.1).
	tok, _, err := s.opts.Minter.NewIDToken(r.Context(), a, aud, true)
	if err != nil {
		metadataMintError(w, err)
		return
	}
	metadataText(w, http.StatusOK, tok)
}

func (s *metadataServer) token(w http.ResponseWriter, r *http.Request, scopeParam string) {
	scopes := s.opts.Scopes
	if scopeParam != "" {
		scopes = slices.DeleteFunc(strings.Split(scopeParam, ","), func(s string) bool { return s == "" })
	}
	a, ok := s.account(w, r)
	if !ok {
		return
	}
	tok, exp, err := s.opts.Minter.AccessToken(r.Context(), a, scopes, 0)
	if err != nil {
		metadataMintError(w, err)
		return
	}
	metadataJSON(w, struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}{tok, int64(exp.Sub(s.opts.Minter.clk.Now()).Seconds()), "Bearer"})
}

// account resolves the configured account now, answering the request
// itself when it cannot be used.
func (s *metadataServer) account(w http.ResponseWriter, r *http.Request) (Account, bool) {
	a, err := s.opts.Lookup(r.Context(), s.opts.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		metadataText(w, http.StatusNotFound, "service account "+s.opts.Email+" does not exist (deleted?)\n")
		return Account{}, false
	case err != nil:
		metadataText(w, http.StatusInternalServerError, "looking up service account "+s.opts.Email+": "+err.Error()+"\n")
		return Account{}, false
	case a.Disabled:
		metadataText(w, http.StatusForbidden, "service account "+s.opts.Email+" is disabled\n")
		return Account{}, false
	}
	return a, true
}

func metadataMintError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		metadataText(w, http.StatusBadRequest, err.Error()+"\n")
	case errors.Is(err, ErrAccountDisabled):
		metadataText(w, http.StatusForbidden, err.Error()+"\n")
	default:
		metadataText(w, http.StatusInternalServerError, err.Error()+"\n")
	}
}

func metadataNotFound(w http.ResponseWriter, r *http.Request) {
	metadataText(w, http.StatusNotFound, "Not Found: "+r.URL.Path+"\n")
}

func metadataText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func metadataJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		metadataText(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
