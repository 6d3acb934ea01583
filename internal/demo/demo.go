// Package demo is `oidcron demo`: the classic support story (a Cloud
// Scheduler job calls a private Cloud Function and gets 403) lived by
// itself, start to finish, against a server it starts in this process.
//
// It starts a throw-away oidcron (loopback ports chosen by the kernel, a
// temporary data folder removed at exit) and an echo service standing for
// the function's code, which verifies every request's ID token with
// github.com/coreos/go-oidc against the issuer's discovery document and
// keeps the verified claims. It then drives the story through the same
// client commands a user types (internal/cli, as cmd/oidcron builds them),
// printing each as `$ oidcron ...` before its output: deploy the function,
// create a job without a token, run it (403), ask the doctor, apply the fix
// (an invoker account, the invoker role, the job's OIDC token for the
// function's URL), run it again (200) and show the claims the function
// verified. Every outcome is checked; the first one that is not what the
// story says ends the demo with an error naming the step.
//
// Waits are for events: an attempt is awaited through the attempt history
// API (whose read writes the engine's pending records first), each wait
// bounded by AttemptWait.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/server"
)

// The story's names, as in the README's walkthrough.
const (
	project  = "demo-project"
	region   = "us-central1"
	function = "hello"
	job      = "hello-job"
	account  = "scheduler-invoker"
	schedule = "*/5 * * * *"
)

// AttemptWait bounds each wait for a run's attempt to be recorded.
const AttemptWait = 30 * time.Second

// Run plays the story, writing the transcript to out. It returns nil when
// every step gave the outcome the story expects, else an error naming the
// first step that did not.
func Run(ctx context.Context, out io.Writer) error {
	return run(ctx, out, options{})
}

// options alter the story, for tests of the demo's own checks.
type options struct {
	// skipGrant leaves the invoker role out of the fix, so that the run
	// after it is still denied.
	skipGrant bool
}

// demo is one run of the story.
type demo struct {
	ctx    context.Context
	out    io.Writer
	api    string // http://host:port of the API listener
	issuer string
	fnURL  string // the function's canonical URL: the job's uri and token audience
	sa     string // the invoker account's email
	echo   *echo
	hc     *http.Client
}

func run(ctx context.Context, out io.Writer, opts options) (err error) {
	dir, err := os.MkdirTemp("", "oidcron-demo-")
	if err != nil {
		return fmt.Errorf("creating the temporary data folder: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("removing the temporary data folder: %w", rerr)
		}
	}()

	// The server's last warnings and errors are kept, and shown only if a
	// step fails.
	logs := &tail{max: 20}
	srv, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("starting the in-process server: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := srv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("stopping the in-process server: %w", serr)
		}
	}()
	defer func() {
		if err != nil && logs.len() > 0 {
			err = fmt.Errorf("%w\nthe server's last warnings and errors:\n%s", err, logs.String())
		}
	}()

	d := &demo{
		ctx: ctx, out: out, api: "http://" + srv.Addrs.API, issuer: srv.Addrs.Issuer,
		fnURL: "https://" + region + "-" + project + ".cloudfunctions.net/" + function,
		sa:    account + "@" + project + ".iam.gserviceaccount.com",
		hc:    &http.Client{Timeout: 10 * time.Second},
	}
	if d.echo, err = startEcho(ctx, d.issuer, d.fnURL); err != nil {
		return err
	}
	defer d.echo.close()
	return d.story(dir, opts)
}

func (d *demo) story(dir string, opts options) error {
	d.say("oidcron demo: a Cloud Scheduler job calls a private Cloud Function and gets 403; the doctor")
	d.say("names the broken link; the fix; 200. All of it runs in this process, against a throw-away server:")
	d.say("  API and OIDC issuer   %s", d.api)
	d.say("  data                  %s (removed at exit)", dir)
	d.say("  the function's code   %s: an echo service that verifies each request's ID token with", d.echo.url)
	d.say("                        go-oidc against the issuer's discovery document and keeps its claims")
	d.say("Every command below is one you can type yourself, in a shell set up with:")
	fmt.Fprintf(d.out, "$ export OIDCRON_ENDPOINT=%s OIDCRON_PROJECT=%s\n", d.api, project)

	d.step("1. A function in front of the echo service, private (the default), and a job calling it as")
	d.say("   people first write it: without a token.")
	if _, err := d.oidcron("functions", "deploy", function, "--region="+region, "--upstream="+d.echo.url); err != nil {
		return err
	}
	if _, err := d.oidcron("scheduler", "jobs", "create", "http", job, "--location="+region,
		"--schedule="+schedule, "--uri="+d.fnURL, "--http-method=GET"); err != nil {
		return err
	}

	d.step("2. Run it once. The invoker gateway refuses the call before it reaches the function, and the")
	d.say("   job's attempt history records the 403.")
	a, err := d.runJob("run the job without a token")
	if err != nil {
		return err
	}
	if a.HTTPStatus != http.StatusForbidden || a.Status != "PERMISSION_DENIED" {
		return fmt.Errorf("step 2 (run the job without a token): the attempt got %s, want 403 PERMISSION_DENIED", a)
	}
	if n := d.echo.count(); n != 0 {
		return fmt.Errorf("step 2 (run the job without a token): the function was called %d time(s); the gateway should have stopped the call", n)
	}
	if _, err := d.oidcron("scheduler", "jobs", "executions", job, "--location="+region); err != nil {
		return err
	}

	d.step("3. Why? The doctor walks the chain link by link without calling the function, and prints the")
	d.say("   commands that fix a broken link.")
	rep, err := d.oidcron("doctor", "job", job, "--location="+region)
	if err != nil {
		return err
	}
	if !hasLinePrefix(rep, "FAIL ") || !hasLinePrefix(rep, "Predicted: 403") {
		return errors.New("step 3 (the doctor): its report has no FAIL line or does not predict 403")
	}

	d.step("4. The fix: an invoker account, the invoker role for it, and a job that carries the account's")
	d.say("   OIDC token with the function's URL as audience.")
	if _, err := d.oidcron("iam", "service-accounts", "create", account, "--display-name=Scheduler Invoker"); err != nil {
		return err
	}
	if !opts.skipGrant {
		if _, err := d.oidcron("projects", "add-iam-policy-binding", project,
			"--member=serviceAccount:"+d.sa, "--role=roles/cloudfunctions.invoker"); err != nil {
			return err
		}
	}
	if _, err := d.oidcron("scheduler", "jobs", "update", "http", job, "--location="+region,
		"--schedule="+schedule, "--uri="+d.fnURL, "--http-method=GET",
		"--oidc-service-account-email="+d.sa, "--oidc-token-audience="+d.fnURL); err != nil {
		return err
	}

	d.step("5. Run it again: the gateway lets the token through, and the function answers 200.")
	a, err = d.runJob("run the job after the fix")
	if err != nil {
		return err
	}
	if a.HTTPStatus != http.StatusOK {
		msg := fmt.Sprintf("step 5 (run the job after the fix): the attempt got %s, want 200", a)
		if r := d.echo.lastRejection(); r != "" {
			msg += "; the function refused the token: " + r
		}
		return errors.New(msg)
	}
	if _, err := d.oidcron("scheduler", "jobs", "executions", job, "--location="+region); err != nil {
		return err
	}

	d.step("6. What the function received: an ordinary OIDC ID token, which it verified itself with go-oidc")
	d.say("   (issuer %s, keys from its discovery document, audience its own URL). Its claims:", d.issuer)
	c, ok := d.echo.last()
	if !ok {
		return errors.New("step 6 (the verified claims): the attempt got 200 but the function recorded no verified token")
	}
	if err := d.checkClaims(c); err != nil {
		return fmt.Errorf("step 6 (the verified claims): %w", err)
	}
	d.printClaims(c)

	d.step("Done: without a token the call got 403; with %s's OIDC token for the", account)
	d.say("function's URL it got 200. The README's walkthrough is the same story by hand, with a server of")
	d.say("your own (`oidcron serve`) and the service-agent detour people usually take first.")
	return nil
}

// say writes a line of narration, as a shell comment.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "# "+format+"\n", args...)
}

// step starts a new part of the story after a blank line.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintln(d.out)
	d.say(format, args...)
}

// oidcron runs one client command exactly as `oidcron ARGS...` would from a
// shell set up with OIDCRON_ENDPOINT and OIDCRON_PROJECT: it prints the
// command, then what the command writes (stdout and stderr, in order), and
// returns its stdout. A failing command prints gcloud's ERROR line and
// ends the story.
func (d *demo) oidcron(args ...string) (string, error) {
	line := shellJoin(args)
	fmt.Fprintf(d.out, "$ oidcron %s\n", line)
	var stdout bytes.Buffer
	g := cli.NewGlobals()
	g.Endpoint, g.Project, g.AccessToken = d.api, project, ""
	g.Interactive, g.Quiet = false, false
	g.In = strings.NewReader("")
	g.Out, g.Err = io.MultiWriter(&stdout, d.out), d.out
	root := &cobra.Command{Use: "oidcron", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(root)
	root.AddCommand(cli.Commands(g)...)
	root.SetOut(g.Out)
	root.SetErr(g.Err)
	cmd, err := cli.Execute(d.ctx, root, args)
	if err != nil {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(d.out, "ERROR: (%s) %s\n", strings.ReplaceAll(cmd.CommandPath(), " ", "."), err)
		return stdout.String(), fmt.Errorf("`oidcron %s` failed: %w", line, err)
	}
	return stdout.String(), nil
}

// attempt is one recorded attempt, as the history API returns it.
type attempt struct {
	Manual     bool   `json:"manual"`
	Attempt    int32  `json:"attempt"`
	HTTPStatus int32  `json:"httpStatus"`
	Status     string `json:"status"`
	Message    string `json:"message"`
}

func (a attempt) String() string {
	s := a.Status
	if a.HTTPStatus != 0 {
		s = fmt.Sprintf("%d %s", a.HTTPStatus, a.Status)
	}
	if a.Message != "" {
		s += " (" + a.Message + ")"
	}
	return s
}

// runJob runs the job with `scheduler jobs run` and returns the first
// attempt of that run once the history records it.
func (d *demo) runJob(what string) (attempt, error) {
	before, err := d.manualRuns()
	if err != nil {
		return attempt{}, fmt.Errorf("%s: reading the attempt history: %w", what, err)
	}
	if _, err := d.oidcron("scheduler", "jobs", "run", job, "--location="+region); err != nil {
		return attempt{}, err
	}
	ctx, cancel := context.WithTimeout(d.ctx, AttemptWait)
	defer cancel()
	// The engine announces attempts to no one outside the process's tests;
	// its history read writes the pending records first, so the run is
	// awaited there, at a short and growing interval, within AttemptWait.
	wait := 5 * time.Millisecond
	for {
		runs, err := d.manualRuns()
		if err != nil {
			return attempt{}, fmt.Errorf("%s: reading the attempt history: %w", what, err)
		}
		if len(runs) > len(before) {
			return runs[len(runs)-len(before)-1], nil // newest first: the oldest new one
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt{}, fmt.Errorf("%s: no attempt was recorded within %s: %w", what, AttemptWait, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// manualRuns lists the first attempts of the job's manual runs, newest
// first, through the attempt history API.
func (d *demo) manualRuns() ([]attempt, error) {
	u := d.api + "/oidcron/v1/projects/" + project + "/locations/" + region + "/jobs/" + job + "/attempts?pageSize=1000"
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var page struct {
		Attempts []attempt `json:"attempts"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, err
	}
	var runs []attempt
	for _, a := range page.Attempts {
		if a.Manual && a.Attempt == 1 {
			runs = append(runs, a)
		}
	}
	return runs, nil
}

// checkClaims checks the verified claims against the story: this issuer,
// the function's URL as audience, the invoker account's identity, and a
// lifetime.
func (d *demo) checkClaims(c map[string]any) error {
	str := func(k string) string { s, _ := c[k].(string); return s }
	num := func(k string) float64 { f, _ := c[k].(float64); return f }
	switch {
	case str("iss") != d.issuer:
		return fmt.Errorf("iss is %q, want %q", str("iss"), d.issuer)
	case str("aud") != d.fnURL:
		return fmt.Errorf("aud is %v, want %q", c["aud"], d.fnURL)
	case str("sub") == "":
		return errors.New("sub is empty")
	case str("email") != d.sa:
		return fmt.Errorf("email is %q, want %q", str("email"), d.sa)
	case c["email_verified"] != true:
		return fmt.Errorf("email_verified is %v, want true", c["email_verified"])
	case num("iat") <= 0 || num("exp") <= num("iat"):
		return fmt.Errorf("iat %v and exp %v are not a lifetime", c["iat"], c["exp"])
	}
	return nil
}

// printClaims prints the claims one per line: the story's first, in order,
// then any others by name.
func (d *demo) printClaims(c map[string]any) {
	order := []string{"iss", "aud", "sub", "email", "email_verified", "iat", "exp"}
	var rest []string
	for k := range c {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(order, rest...) {
		v, ok := c[k]
		if !ok {
			continue
		}
		s := fmt.Sprint(v)
		if f, isNum := v.(float64); isNum {
			s = fmt.Sprintf("%.0f", f)
			if k == "iat" || k == "exp" {
				s += " (" + time.Unix(int64(f), 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(d.out, "  %-15s %s\n", k, s)
	}
	if iat, exp := c["iat"].(float64), c["exp"].(float64); exp > iat {
		d.say("   The token is valid for %s from its issue; sub (and azp) is the account's unique id.",
			time.Duration(exp-iat)*time.Second)
	}
}

func hasLinePrefix(text, prefix string) bool {
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// shellJoin writes args as a POSIX shell would need them typed: an argument
// with characters the shell treats specially is single-quoted (after its
// --flag= when it has one).
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(a string) string {
	if a != "" && strings.IndexFunc(a, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return a
	}
	if strings.HasPrefix(a, "--") {
		if name, val, ok := strings.Cut(a, "="); ok && strings.IndexFunc(name, func(r rune) bool { return !shellSafe(r) }) < 0 {
			return name + "=" + shellQuote(val)
		}
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

func shellSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r)
}

// echo stands for the function's code: an HTTP service that verifies each
// request's bearer ID token with go-oidc, against the issuer's discovery
// document and for the function's URL as audience, keeps the verified
// claims, and answers 200 with them (401 without a valid token).
type echo struct {
	url      string
	srv      *http.Server
	verifier *oidc.IDTokenVerifier

	mu       sync.Mutex
	calls    int
	claims   []map[string]any
	rejected []string
}

func startEcho(ctx context.Context, issuer, audience string) (*echo, error) {
	// go-oidc reads the discovery document now and the JWKS when it first
	// meets a key id, both from the in-process server.
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("reading the issuer's discovery document with go-oidc: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the echo function: %w", err)
	}
	e := &echo{url: "http://" + ln.Addr().String(), verifier: provider.Verifier(&oidc.Config{ClientID: audience})}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.calls++
	e.mu.Unlock()
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		e.reject(w, "the request carries no bearer token")
		return
	}
	tok, err := e.verifier.Verify(r.Context(), raw)
	if err != nil {
		e.reject(w, err.Error())
		return
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		e.reject(w, err.Error())
		return
	}
	e.mu.Lock()
	e.claims = append(e.claims, claims)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"verified": true, "claims": claims})
}

func (e *echo) reject(w http.ResponseWriter, why string) {
	e.mu.Lock()
	e.rejected = append(e.rejected, why)
	e.mu.Unlock()
	http.Error(w, why, http.StatusUnauthorized)
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

func (e *echo) last() (map[string]any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.claims) == 0 {
		return nil, false
	}
	return e.claims[len(e.claims)-1], true
}

func (e *echo) lastRejection() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.rejected) == 0 {
		return ""
	}
	return e.rejected[len(e.rejected)-1]
}

func (e *echo) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}

// tail keeps the last max lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.part + string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		// An attempt's log entry repeats what the transcript shows.
		if !strings.Contains(s[:i], "msg=AttemptFinished") {
			t.lines = append(t.lines, s[:i])
		}
		s = s[i+1:]
	}
	t.part = s
	if len(t.lines) > t.max {
		t.lines = slices.Clone(t.lines[len(t.lines)-t.max:])
	}
	return len(p), nil
}

func (t *tail) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
