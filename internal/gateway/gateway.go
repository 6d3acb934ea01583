// Package gateway is the invoker front door for functions hosted by
// oidcron. It routes a request to a function (by its cloudfunctions.net host
// or by the path form /PROJECT/REGION/NAME), verifies the caller's ID token,
// asks iam.Authorize for the invoke permission, and proxies what is allowed.
// It answers 401 and 403 as Cloud Functions does, and logs the precise
// reason for every denial.
package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"

	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/store"
)

// ReasonHeader carries the denial reason to the caller in dev mode, and to
// requests that prove they are the dispatcher's own (ReasonKeyHeader).
const ReasonHeader = "X-Oidcron-Denial-Reason"

// ReasonKeyHeader carries Config.ReasonKey on the dispatcher's requests.
// The gateway removes it before proxying: no function sees it.
const ReasonKeyHeader = "X-Oidcron-Reason-Key"

// Config is what the gateway needs.
type Config struct {
	Dir      *directory.Directory
	Verifier *identity.Verifier
	// BaseURL is the gateway's own URL ("http://127.0.0.1:8931"): the path
	// form of a function URL, an accepted audience, is built on it.
	BaseURL string
	// ExposeReasons returns each denial's reason in ReasonHeader (dev mode).
	ExposeReasons bool
	// ReasonKey, when set, returns the reason in every mode to requests
	// carrying it in ReasonKeyHeader: the dispatcher's own, a secret of the
	// process. Their reason goes into the job's status, which only those
	// who may read the job see, and lets the doctor tell the gateway's
	// 401/403 from a function's.
	ReasonKey string
	Logger    *slog.Logger
	// Transport reaches the upstreams; nil means a tuned default.
	Transport http.RoundTripper
	// Observe, if set, is told the outcome of every request (for metrics).
	Observe func(outcome Outcome)
}

// Outcome is how a request ended.
type Outcome string

const (
	Allowed      Outcome = "allowed"
	NoRoute      Outcome = "no_route"
	NoToken      Outcome = "no_token"      // 403
	InvalidToken Outcome = "invalid_token" // 401
	Denied       Outcome = "denied"        // 403
	UpstreamErr  Outcome = "upstream_error"
)

// Gateway is an http.Handler.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	proxy *httputil.ReverseProxy
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:               nil, // upstreams are reached directly, never through an env proxy
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: cfg.Transport,
		// A function cannot speak for the gateway: a reason it sends would
		// read as the gateway's denial.
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del(ReasonHeader)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t := targetFrom(r.Context())
			g.log.Warn("gateway upstream failed", "function", t.fn.GetName(), "upstream", t.upstream.String(), "error", err)
			g.observe(UpstreamErr)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
	}
	return g
}

// Route is a request's function and the part of the path it gets.
type Route struct {
	Function *functionspb.Function
	Rest     string // path after the function name, "/" at least
}

// Resolve finds the function a request is for: by a host of the form
// REGION-PROJECT.cloudfunctions.net with the function name as the first
// path segment, or by the path /PROJECT/REGION/NAME on any host. Regions
// have one shape (functions.ValidRegion), so a host names one project.
func (g *Gateway) Resolve(ctx context.Context, host, p string) (Route, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	segs := strings.SplitN(strings.TrimPrefix(CleanPath(p), "/"), "/", 4)
	if sub, ok := strings.CutSuffix(strings.ToLower(host), ".cloudfunctions.net"); ok && len(segs) >= 1 && segs[0] != "" {
		region, project, ok := functions.SplitHost(sub)
		if !ok {
			return Route{}, false
		}
		if f, ok := g.function(ctx, project, region, segs[0]); ok {
			return Route{Function: f, Rest: restOf(segs[1:])}, true
		}
		return Route{}, false
	}
	if len(segs) >= 3 {
		if f, ok := g.function(ctx, segs[0], segs[1], segs[2]); ok {
			return Route{Function: f, Rest: restOf(segs[3:])}, true
		}
	}
	return Route{}, false
}

// CleanPath resolves the dot segments of a request path (decoded, so
// %2e%2e and ..%2F count) as a browser or a normalising front end would,
// keeping a trailing slash: the function is resolved from the clean path,
// and its rest can never climb out of the upstream's base path. Exported
// for the doctor, which must name the function Resolve will look up.
func CleanPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func restOf(segs []string) string {
	if len(segs) == 0 {
		return "/"
	}
	return "/" + strings.Join(segs, "/")
}

func (g *Gateway) function(ctx context.Context, project, region, name string) (*functionspb.Function, bool) {
	if project == "" || region == "" || name == "" {
		return nil, false
	}
	f, err := g.cfg.Dir.Function(ctx, iam.FunctionResource(project, region, name))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			g.log.Error("gateway function lookup failed", "error", err)
		}
		return nil, false
	}
	return f, true
}

// Audiences are the two URLs of a function its tokens may be minted for:
// the canonical cloudfunctions.net URL and the gateway's path form.
func (g *Gateway) Audiences(f *functionspb.Function) []string {
	p, l, n, _ := functions.Parts(f.GetName())
	return []string{f.GetUrl(), functions.PathURL(g.cfg.BaseURL, p, l, n)}
}

// Verdict is the gateway's decision on one request, with its explanation.
type Verdict struct {
	Status   int     // 0 = allowed; else 401, 403 or 404
	Outcome  Outcome // what happened
	Reason   string  // precise, for logs and the doctor
	Subject  string  // the caller, when a token was verified
	Decision *iam.Decision
}

// Decide runs the checks for a request to f bearing authorization (the raw
// Authorization header, "" for none) without proxying anything. The doctor
// uses it to predict what an attempt will get.
func (g *Gateway) Decide(ctx context.Context, f *functionspb.Function, authorization string) Verdict {
	perm := functions.InvokePermission(f)
	resource := functions.InvokeResource(f)
	// A public function lets everyone in, and its token is not checked.
	pub, err := g.cfg.Dir.Authorize(ctx, iam.Subject{Anonymous: true}, perm, resource)
	if err != nil {
		return Verdict{Status: http.StatusInternalServerError, Outcome: Denied, Reason: "authorization lookup failed: " + err.Error()}
	}
	if pub.Granted {
		return Verdict{Outcome: Allowed, Reason: pub.Reason, Decision: &pub}
	}
	if authorization == "" {
		return Verdict{Status: http.StatusForbidden, Outcome: NoToken, Decision: &pub,
			Reason: "the request carries no Authorization header and " + resource + " is not public (allUsers lacks " + perm + ")"}
	}
	scheme, raw, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Verdict{Status: http.StatusUnauthorized, Outcome: InvalidToken, Reason: "the Authorization header is not a Bearer token"}
	}
	claims, err := g.cfg.Verifier.VerifyIDToken(ctx, strings.TrimSpace(raw), g.Audiences(f))
	var refused *identity.VerifyError
	if errors.As(err, &refused) {
		return Verdict{Status: http.StatusUnauthorized, Outcome: InvalidToken, Reason: "token rejected: " + err.Error()}
	}
	if err != nil { // the token could not be judged (the store is down): not the caller's fault
		return Verdict{Status: http.StatusInternalServerError, Outcome: Denied, Reason: "token verification failed: " + err.Error()}
	}
	acct := claims.Account // as found at verification: live and enabled
	sub := iam.Subject{Member: "serviceAccount:" + acct.Email, Disabled: acct.Disabled}
	d, err := g.cfg.Dir.Authorize(ctx, sub, perm, resource)
	if err != nil {
		return Verdict{Status: http.StatusInternalServerError, Outcome: Denied, Subject: sub.Member, Reason: "authorization lookup failed: " + err.Error()}
	}
	if !d.Granted {
		return Verdict{Status: http.StatusForbidden, Outcome: Denied, Subject: sub.Member, Reason: d.Reason, Decision: &d}
	}
	return Verdict{Outcome: Allowed, Subject: sub.Member, Reason: d.Reason, Decision: &d}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := g.Resolve(r.Context(), r.Host, r.URL.Path)
	if !ok {
		g.observe(NoRoute)
		writePage(w, http.StatusNotFound, notFoundPage(r.URL.Path))
		return
	}
	f := route.Function
	v := g.Decide(r.Context(), f, r.Header.Get("Authorization"))
	if v.Status != 0 {
		g.observe(v.Outcome)
		g.log.Info("gateway denied", "function", f.GetName(), "status", v.Status, "outcome", string(v.Outcome), "subject", v.Subject, "reason", v.Reason, "path", r.URL.Path)
		if g.cfg.ExposeReasons || g.dispatcher(r) {
			w.Header().Set(ReasonHeader, v.Reason)
		}
		switch v.Status {
		case http.StatusUnauthorized:
			writePage(w, v.Status, unauthorizedPage(r.URL.Path))
		case http.StatusForbidden:
			writePage(w, v.Status, forbiddenPage(r.URL.Path))
		default:
			http.Error(w, "internal error", v.Status)
		}
		return
	}
	up, err := url.Parse(functions.Upstream(f))
	if err != nil || up.Host == "" {
		g.observe(UpstreamErr)
		g.log.Error("gateway function has no valid upstream", "function", f.GetName())
		http.Error(w, "function has no valid upstream", http.StatusBadGateway)
		return
	}
	g.observe(Allowed)
	ctx := context.WithValue(r.Context(), targetKey{}, target{fn: f, upstream: up, rest: route.Rest})
	g.proxy.ServeHTTP(w, r.WithContext(ctx))
}

type targetKey struct{}

type target struct {
	fn       *functionspb.Function
	upstream *url.URL
	rest     string
}

func targetFrom(ctx context.Context) target {
	t, _ := ctx.Value(targetKey{}).(target)
	return t
}

// rewrite sends the request to the function's upstream: the path after the
// function name is appended to the upstream's path, the query joined to the
// upstream URL's own (SetURL), the Authorization header kept (the function
// may verify the token itself) and ReasonKeyHeader removed, and
// X-Forwarded-* set.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	t := targetFrom(pr.In.Context())
	pr.SetURL(t.upstream)
	pr.Out.URL.Path = joinPath(t.upstream.Path, t.rest)
	pr.Out.URL.RawPath = ""
	pr.Out.Header.Del(ReasonKeyHeader)
	pr.SetXForwarded()
}

// dispatcher reports whether r carries the process's ReasonKey.
func (g *Gateway) dispatcher(r *http.Request) bool {
	key := r.Header.Get(ReasonKeyHeader)
	return g.cfg.ReasonKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(g.cfg.ReasonKey)) == 1
}

func joinPath(base, rest string) string {
	if base == "" || base == "/" {
		return rest
	}
	if rest == "/" {
		return base
	}
	return strings.TrimSuffix(base, "/") + rest
}

func (g *Gateway) observe(o Outcome) {
	if g.cfg.Observe != nil {
		g.cfg.Observe(o)
	}
}
