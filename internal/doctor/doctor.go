// Package doctor predicts what the next attempt of a Cloud Scheduler job
// will get, without calling its target, and says which link of the chain
// scheduler -> token -> gateway -> function is broken and which oidcron
// commands repair it.
//
// It reads through the same components the engine and the gateway use, so it
// cannot disagree with them: the directory (projects, accounts, functions,
// policies), iam.Authorize for every access question (with its explanation),
// the engine's Credentials to mint the job's token exactly as an attempt would
// (minting calls no target), and gateway.Decide for the verdict the gateway
// will give that token.
//
// # What the caller may see
//
// A diagnosis is made for a caller (the subject of the request) and shows
// only what that caller could read through the APIs. Before each read the
// doctor asks iam.Authorize for the permission Google requires for it:
// cloudfunctions.functions.get on the function the uri (or an audience)
// names, the getIamPolicy permission of every policy an access question
// reads (cloudfunctions.functions.getIamPolicy on a 1st gen function,
// run.services.getIamPolicy on a 2nd gen function's service,
// resourcemanager.projects.getIamPolicy on the project), and
// iam.serviceAccounts.get on an account. Where the caller lacks one, the
// check is SKIP with "cannot judge: you lack PERMISSION on RESOURCE", and the
// prediction is UNKNOWN when it depends on what was not read. An account of
// another project is judged from its email alone. Minting the token uses the
// service agent's own rights, as the engine does; what it reveals of another
// project is only whether it succeeded.
//
// # Checks
//
// Each check is one link, in the order an attempt crosses them; its result is
// PASS, FAIL (the link breaks the attempt), WARN (it works now but is
// probably not what was meant, or breaks later) or SKIP (does not apply, or
// cannot be judged with the caller's permissions). A
// FAIL or WARN carries the commands that fix it, in order.
//
//	job              the job exists; a paused job does not fire
//	schedule         the next five fire times; DST gaps and overlaps at fixed hours, day-of-month OR day-of-week
//	target           the uri is a function hosted here (canonical URL or gateway path form), or external
//	access           whether the function requires authentication (allUsers holds the invoke permission)
//	token            what the job sends: an OIDC ID token, an OAuth access token, or nothing; the kind the target's host takes
//	service-account  the token's account exists, is in the job's project, is enabled
//	service-agent    the project's Cloud Scheduler service agent may mint the account's tokens
//	audience         the ID token's audience is exactly a URL of the function
//	invoker          the token's account holds the invoke permission where the function checks it
//	agent-invoker    (only when seen) the invoke permission granted to the service agent, which helps nothing
//	gateway          the gateway's verdict on the token the attempt would carry
//
// # JSON
//
// The endpoint (GET /oidcron/v1/projects/P/locations/L/jobs/J:diagnose, or
// POST to it with ?probe=true to also run the job)
// and `oidcron doctor job --format json` return a Report:
//
//	{
//	  "job": "projects/P/locations/L/jobs/J",
//	  "state": "ENABLED",
//	  "target": {
//	    "uri": "https://us-central1-P.cloudfunctions.net/F",
//	    "kind": "FUNCTION",            // FUNCTION | NO_FUNCTION (a function URL, nothing hosted there) | EXTERNAL | UNKNOWN (the caller may not see it)
//	    "function": "projects/P/locations/us-central1/functions/F",
//	    "environment": "GEN_1",        // GEN_1 | GEN_2
//	    "url": "https://us-central1-P.cloudfunctions.net/F",
//	    "invokePermission": "cloudfunctions.functions.invoke",
//	    "invokeResource": "projects/P/locations/us-central1/functions/F"
//	  },
//	  "nextFires": ["2025-01-01T00:05:00Z", ...],
//	  "checks": [{"id": "job", "result": "PASS", "detail": "...", "fix": ["oidcron ..."]}, ...],
//	  "prediction": {
//	    "outcome": "DENIED",              // ALLOWED | DENIED | NOT_SENT | NOT_FOUND | UPSTREAM_ERROR | UNKNOWN
//	    "httpStatus": 403,                 // the gateway's answer; absent for ALLOWED, NOT_SENT, UNKNOWN
//	    "code": "PERMISSION_DENIED",       // the google.rpc code the attempt will record; absent for ALLOWED, UNKNOWN
//	    "reason": "...",
//	    "summary": "403 PERMISSION_DENIED (...)"
//	  },
//	  "probe": {                           // only with probe=true
//	    "scheduleTime": "...", "startTime": "...",
//	    "httpStatus": 403, "code": "PERMISSION_DENIED", "message": "...",
//	    "agreement": "MATCH",              // MATCH | MISMATCH | NO_PREDICTION
//	    "summary": "..."
//	  }
//	}
//
// Field names and enum values are stable; detail, reason and summary texts
// are for people and may change.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/cron"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/gateway"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/store"
)

// Result is the verdict on one link.
type Result string

const (
	Pass Result = "PASS"
	Fail Result = "FAIL"
	Warn Result = "WARN"
	Skip Result = "SKIP"
)

// Check is one link of the chain.
type Check struct {
	ID     string   `json:"id"`
	Result Result   `json:"result"`
	Detail string   `json:"detail"`
	Fix    []string `json:"fix,omitempty"`
}

// Target kinds.
const (
	TargetFunction   = "FUNCTION"
	TargetNoFunction = "NO_FUNCTION"
	TargetExternal   = "EXTERNAL"
	// TargetUnknown: the uri names a function the caller may not see
	// (cloudfunctions.functions.get), so whether it exists is not said.
	TargetUnknown = "UNKNOWN"
)

// Target is what the job's uri reaches.
type Target struct {
	URI              string `json:"uri"`
	Kind             string `json:"kind"`
	Function         string `json:"function,omitempty"`
	Environment      string `json:"environment,omitempty"`
	URL              string `json:"url,omitempty"`
	InvokePermission string `json:"invokePermission,omitempty"`
	InvokeResource   string `json:"invokeResource,omitempty"`
}

// Prediction outcomes.
const (
	Allowed       = "ALLOWED"        // the gateway lets the request through; the function answers
	Denied        = "DENIED"         // the gateway answers 401 or 403
	NotSent       = "NOT_SENT"       // the token cannot be minted: the attempt fails before sending
	NotFound      = "NOT_FOUND"      // the gateway has no function at the uri's path: 404
	UpstreamError = "UPSTREAM_ERROR" // the function has no valid upstream: 502
	Unknown       = "UNKNOWN"        // the target is not hosted here, or the caller may not see what decides
)

// Prediction is the expected outcome of the next attempt.
type Prediction struct {
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Code       string `json:"code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Summary    string `json:"summary"`
}

// Probe agreements.
const (
	Match        = "MATCH"
	Mismatch     = "MISMATCH"
	NoPrediction = "NO_PREDICTION"
)

// Probe is the recorded first attempt of a run started by the doctor.
type Probe struct {
	ScheduleTime time.Time `json:"scheduleTime"`
	StartTime    time.Time `json:"startTime"`
	HTTPStatus   int32     `json:"httpStatus,omitempty"`
	Code         string    `json:"code"`
	Message      string    `json:"message,omitempty"`
	Agreement    string    `json:"agreement"`
	Summary      string    `json:"summary"`
}

// Report is the whole diagnosis.
type Report struct {
	Job        string      `json:"job"`
	State      string      `json:"state"`
	Target     Target      `json:"target"`
	NextFires  []time.Time `json:"nextFires,omitempty"`
	Checks     []Check     `json:"checks"`
	Prediction Prediction  `json:"prediction"`
	Probe      *Probe      `json:"probe,omitempty"`
}

// Check returns the check with this id, or nil.
func (r *Report) Check(id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

// Config is what the doctor reads through.
type Config struct {
	Dir     *directory.Directory
	Gateway *gateway.Gateway
	// Credentials mints a job's token as the engine does
	// (scheduler.AgentCredentials).
	Credentials scheduler.Credentials
	// GatewayURL is the gateway's public base URL (the path form of
	// function URLs).
	GatewayURL string
	Clock      clock.Clock
}

// Doctor diagnoses jobs. It is safe for concurrent use.
type Doctor struct{ cfg Config }

// New returns a Doctor.
func New(cfg Config) *Doctor {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	cfg.GatewayURL = strings.TrimSuffix(cfg.GatewayURL, "/")
	return &Doctor{cfg: cfg}
}

const (
	roleServiceAgent = "roles/cloudscheduler.serviceAgent"
	permOpenID       = "iam.serviceAccounts.getOpenIdToken"
	permAccess       = "iam.serviceAccounts.getAccessToken"
	invokerAccount   = "scheduler-invoker"
)

// roleServiceAccountUser grants iam.serviceAccounts.actAs, which giving a
// job an account's token takes.
const roleServiceAccountUser = "roles/iam.serviceAccountUser"

// diag is one diagnosis in progress.
type diag struct {
	d   *Doctor
	ctx context.Context
	sub iam.Subject // the caller: what it may not read is not shown
	job *schedulerpb.Job
	rep *Report

	project, location, jobID string
	agent                    string // the service agent's email ("" if the project is unknown)
	agentHidden              string // why the caller may not learn the agent ("" if it may)

	fn           *functionspb.Function // the hosted function the uri reaches
	targetHidden string                // why the caller may not see what the uri reaches
	fnURL        string                // the function's URL as the job addresses it (canonical or path form)
	perm         string
	resource     string
	public       bool
	pubDec       iam.Decision
	policyHidden string // why the caller may not read the policies deciding the invoke permission

	kind       string // "OIDC", "OAUTH" or ""
	email      string // the token's account
	local      bool   // the email names an account of the job's project
	acct       *adminpb.ServiceAccount
	acctHidden string // why the caller may not read the account
	uid        string // a deleted account's unique id, when found in a policy
	// mintVisible: the caller may read everything the minting reads, so its
	// error may be shown as it is.
	mintVisible bool
	// fixNotes explains a fix command to the check that prints it (why a
	// grant to the caller comes before a job update).
	fixNotes map[string]string
}

// Diagnose walks the chain for job (as stored) and predicts its next
// attempt, showing only what sub may read. It sends nothing to the target.
func (d *Doctor) Diagnose(ctx context.Context, sub iam.Subject, job *schedulerpb.Job) (*Report, error) {
	g := &diag{d: d, ctx: ctx, sub: sub, job: job, rep: &Report{Job: job.GetName(), State: job.GetState().String(), Checks: []Check{}}}
	p := strings.Split(job.GetName(), "/")
	if len(p) != 6 {
		return nil, fmt.Errorf("doctor: %q is not a job name", job.GetName())
	}
	g.project, g.location, g.jobID = p[1], p[3], p[5]
	why, err := g.may("resourcemanager.projects.get", iam.ProjectResource(g.project))
	if err != nil {
		return nil, err
	}
	if why != "" {
		g.agentHidden = why
	} else if proj, err := d.cfg.Dir.Project(ctx, g.project); err == nil {
		if num, err := strconv.ParseInt(strings.TrimPrefix(proj.GetName(), "projects/"), 10, 64); err == nil {
			g.agent = iam.SchedulerServiceAgent(num)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	t := job.GetHttpTarget()
	switch {
	case t.GetOidcToken() != nil:
		g.kind, g.email = "OIDC", strings.ToLower(t.GetOidcToken().GetServiceAccountEmail())
	case t.GetOauthToken() != nil:
		g.kind, g.email = "OAUTH", strings.ToLower(t.GetOauthToken().GetServiceAccountEmail())
	}
	if _, proj, ok := splitAccountEmail(g.email); ok && proj == g.project {
		g.local = true
	}
	steps := []func() error{g.checkJob, g.checkSchedule, g.checkTarget, g.checkAccess, g.checkToken,
		g.checkAccount, g.checkAgent, g.checkAudience, g.checkInvoker, g.checkAgentInvoker, g.predict}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return g.rep, nil
}

func (g *diag) add(id string, r Result, detail string, fix ...string) {
	for _, f := range fix {
		if n := g.fixNotes[f]; n != "" {
			detail += ". " + n
		}
	}
	g.rep.Checks = append(g.rep.Checks, Check{ID: id, Result: r, Detail: detail, Fix: fix})
}

// authorize is iam.Authorize through the directory, for the chain's own
// principals (the job's account, the service agent, allUsers).
func (g *diag) authorize(member string, perm, resource string) (iam.Decision, error) {
	sub := iam.Subject{Member: member}
	if member == "" {
		sub = iam.Subject{Anonymous: true}
	}
	return g.d.cfg.Dir.Authorize(g.ctx, sub, perm, resource)
}

// may asks whether the caller holds perm on resource, before the doctor
// reads what perm guards. It returns "" when the caller does, else the
// "cannot judge" text of the check that needed it. resource is chosen
// without reading what it guards, so the answer does not depend on whether
// that exists.
func (g *diag) may(perm, resource string) (string, error) {
	d, err := g.d.cfg.Dir.Authorize(g.ctx, g.sub, perm, g.d.cfg.Dir.CanonicalResource(g.ctx, resource))
	if err != nil {
		return "", err
	}
	if d.Granted {
		return "", nil
	}
	return cannotJudge(perm, resource), nil
}

func cannotJudge(perm, resource string) string {
	return fmt.Sprintf("cannot judge: you lack %s on %s", perm, resource)
}

// policyPermission is what reading resource's policy takes; "" for the
// root, the installation's own policy, which no API reads.
func policyPermission(resource string) string {
	switch iam.KindOf(resource) {
	case iam.KindProject:
		return "resourcemanager.projects.getIamPolicy"
	case iam.KindServiceAccount:
		return "iam.serviceAccounts.getIamPolicy"
	case iam.KindFunction:
		return "cloudfunctions.functions.getIamPolicy"
	case iam.KindService:
		return "run.services.getIamPolicy"
	}
	return ""
}

// mayReadPolicies is may for every policy an access question on resource
// reads (the resource's and its ancestors'), the first one lacking.
func (g *diag) mayReadPolicies(resource string) (string, error) {
	for r, ok := resource, true; ok; r, ok = iam.Parent(r) {
		perm := policyPermission(r)
		if perm == "" {
			continue
		}
		if why, err := g.may(perm, r); err != nil || why != "" {
			return why, err
		}
	}
	return "", nil
}

// The fix commands, gcloud-shaped.

func (g *diag) jobFlags() []string {
	return []string{"--location=" + quote(g.location), "--project=" + quote(g.project)}
}

func command(words ...string) string {
	return "oidcron " + strings.Join(words, " ")
}

func (g *diag) resumeCmd() string {
	return command(append([]string{"scheduler", "jobs", "resume", quote(g.jobID)}, g.jobFlags()...)...)
}

func (g *diag) updateOIDCCmd(email, audience string) string {
	w := append([]string{"scheduler", "jobs", "update", "http", quote(g.jobID)}, g.jobFlags()...)
	w = append(w, "--oidc-service-account-email="+quote(email), "--oidc-token-audience="+quote(audience))
	return command(w...)
}

func (g *diag) invokerCmd(email string) string {
	p, l, n, _ := functions.Parts(g.fn.GetName())
	return command("functions", "add-invoker-policy-binding", quote(n), "--region="+quote(l),
		"--member="+quote("serviceAccount:"+email), "--project="+quote(p))
}

// actAs returns what must come before a job update that gives the job a
// token of email, an account of the job's project: Google refuses the
// update to a caller without iam.serviceAccounts.actAs on the account
// (reference §5.5), so a caller who lacks it is first granted
// roles/iam.serviceAccountUser on the account.
func (g *diag) actAs(email string) ([]string, error) {
	resource := iam.ServiceAccountResource(g.project, email)
	why, err := g.may("iam.serviceAccounts.actAs", resource)
	if err != nil || why == "" || g.sub.Member == "" {
		return nil, err
	}
	grant := command("iam", "service-accounts", "add-iam-policy-binding", quote(email),
		"--member="+quote(g.sub.Member), "--role="+roleServiceAccountUser, "--project="+quote(g.project))
	note := fmt.Sprintf("Giving the job %s's token needs iam.serviceAccounts.actAs on that account, which you lack: the command before the job's update grants you %s on it", email, roleServiceAccountUser)
	if why, err := g.may("iam.serviceAccounts.setIamPolicy", resource); err != nil {
		return nil, err
	} else if why != "" {
		note += " (you may not set the account's IAM policy either: someone who may, with iam.serviceAccounts.setIamPolicy, must run it)"
	}
	if g.fixNotes == nil {
		g.fixNotes = map[string]string{}
	}
	g.fixNotes[grant] = note
	return []string{grant}, nil
}

// withActAs is fix followed by update, a job update giving the job a token
// of email, with what the caller needs for it in between (actAs).
func (g *diag) withActAs(fix []string, email, update string) ([]string, error) {
	grant, err := g.actAs(email)
	if err != nil {
		return nil, err
	}
	return append(append(fix, grant...), update), nil
}

func agentRoleCmd(project, agent string) string {
	return command("projects", "add-iam-policy-binding", quote(project),
		"--member="+quote("serviceAccount:"+agent), "--role="+roleServiceAgent)
}

func createAccountCmd(id, project string) string {
	return command("iam", "service-accounts", "create", quote(id), "--display-name="+quote("Scheduler Invoker"), "--project="+quote(project))
}

// quote makes s one shell word.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%+=:,./_-", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// ---- job ----

func (g *diag) checkJob() error {
	switch st := g.job.GetState(); st {
	case schedulerpb.Job_ENABLED:
		g.add("job", Pass, g.job.GetName()+" is ENABLED")
	case schedulerpb.Job_PAUSED:
		g.add("job", Warn, g.job.GetName()+" is PAUSED: it does not fire on its schedule until resumed (a run still sends it; what follows is about that attempt)", g.resumeCmd())
	default:
		g.add("job", Warn, fmt.Sprintf("%s is %s: it does not fire on its schedule", g.job.GetName(), st))
	}
	return nil
}

// ---- schedule ----

func (g *diag) checkSchedule() error {
	spec, tzName := g.job.GetSchedule(), g.job.GetTimeZone()
	if tzName == "" {
		tzName = "Etc/UTC"
	}
	loc, err := cron.LoadZone(g.job.GetTimeZone())
	if err != nil {
		g.add("schedule", Fail, fmt.Sprintf("time zone %q is unknown: %v", g.job.GetTimeZone(), err))
		return nil
	}
	sch, err := cron.Parse(spec, loc)
	if err != nil {
		g.add("schedule", Fail, fmt.Sprintf("schedule %q does not parse: %v", spec, err))
		return nil
	}
	now := g.d.cfg.Clock.Now()
	var shown []string
	for t := now; len(g.rep.NextFires) < 5; {
		t = sch.Next(t)
		if t.IsZero() {
			break
		}
		g.rep.NextFires = append(g.rep.NextFires, t.UTC())
		shown = append(shown, t.In(loc).Format("Mon 2006-01-02 15:04 MST"))
	}
	lead := "next fires"
	if g.job.GetState() != schedulerpb.Job_ENABLED {
		lead = "once resumed, next fires"
	}
	detail := fmt.Sprintf("%q in %s; %s: %s", spec, tzName, lead, strings.Join(shown, ", "))
	notes := scheduleNotes(spec, loc, now)
	if len(notes) == 0 {
		g.add("schedule", Pass, detail)
		return nil
	}
	g.add("schedule", Warn, detail+". "+strings.Join(notes, " "))
	return nil
}

// scheduleNotes names what may surprise: day-of-month and day-of-week both
// restricted (they are ORed), and, for a schedule that names the hours it
// fires at, fire times that fall into a DST gap or overlap within the next
// year. A schedule that fires every hour or every few hours ("*/5 * * * *",
// "0 */2 * * *", "every 5 minutes") runs through a DST change as the clock
// does, which surprises no one.
func scheduleNotes(spec string, loc *time.Location, now time.Time) []string {
	var notes []string
	if !cron.IsEnglish(spec) {
		if f := strings.Fields(spec); len(f) == 5 && !strings.HasPrefix(f[2], "*") && !strings.HasPrefix(f[4], "*") {
			notes = append(notes, fmt.Sprintf("Day-of-month %q and day-of-week %q are both restricted, so the job fires on every day matching EITHER one (cron's OR rule), not only on days matching both.", f[2], f[4]))
		}
	}
	if !fixedHours(spec) {
		return notes
	}
	t := now.In(loc)
	horizon := now.AddDate(1, 0, 0)
	for range 4 {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.After(horizon) {
			break
		}
		_, before := end.Add(-time.Second).In(loc).Zone()
		_, after := end.In(loc).Zone()
		diff := time.Duration(after-before) * time.Second
		fixed := time.FixedZone("", before)
		sch, err := cron.Parse(spec, fixed)
		if err != nil {
			break
		}
		switch {
		case diff > 0: // spring forward: wall times [end, end+diff) in the old offset do not exist
			if n := sch.Next(end.Add(-time.Second)); !n.IsZero() && n.Before(end.Add(diff)) {
				w := n.In(fixed)
				notes = append(notes, fmt.Sprintf("On %s the local time %s does not exist (clocks jump from %s to %s): that fire runs once, at %s.",
					w.Format("2006-01-02"), w.Format("15:04"), end.In(fixed).Format("15:04"), end.In(loc).Format("15:04"), end.In(loc).Format("15:04 MST")))
			}
		case diff < 0: // fall back: wall times [end+diff, end) in the old offset occur twice
			if n := sch.Next(end.Add(diff).Add(-time.Second)); !n.IsZero() && n.Before(end) {
				w := n.In(fixed)
				notes = append(notes, fmt.Sprintf("On %s the local time %s occurs twice (clocks fall back from %s to %s): the job fires once, at the first occurrence (%s).",
					w.Format("2006-01-02"), w.Format("15:04"), end.In(fixed).Format("15:04"), end.In(loc).Format("15:04"), n.In(loc).Format("15:04 MST")))
			}
		}
		t = end.In(loc)
	}
	return notes
}

// fixedHours reports whether spec names the hours it fires at: a unix-cron
// hour field of values and ranges that leaves some hour out ("30 2 * * *",
// "0 1,13 * * *"), or an English-like schedule at a time of day ("every day
// 02:30", "1st monday of month 09:00"), not an interval ("every 5 minutes",
// "every 2 hours from 01:00 to 05:00").
func fixedHours(spec string) bool {
	f := strings.Fields(strings.ToLower(spec))
	if cron.IsEnglish(spec) {
		return !(len(f) >= 2 && f[0] == "every" && f[1] != "" && strings.Trim(f[1], "0123456789") == "")
	}
	if len(f) != 5 || strings.ContainsAny(f[1], "*/") {
		return false
	}
	var hours [24]bool
	for _, item := range strings.Split(f[1], ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			return true // Parse accepted it; judge it as named hours
		}
		for h := max(a, 0); h <= min(b, 23); h++ {
			hours[h] = true
		}
	}
	return slices.Contains(hours[:], false)
}

// ---- target ----

func (g *diag) checkTarget() error {
	uri := g.job.GetHttpTarget().GetUri()
	g.rep.Target = Target{URI: uri, Kind: TargetExternal}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		g.add("target", Fail, fmt.Sprintf("the uri %q is not an absolute URL", uri))
		return nil
	}
	host := strings.ToLower(u.Hostname())
	canonical := strings.HasSuffix(host, ".cloudfunctions.net")
	pathForm := !canonical && g.d.cfg.GatewayURL != "" && sameOrigin(u, g.d.cfg.GatewayURL)
	if !canonical && !pathForm {
		g.add("target", Skip, uri+" is not a function hosted by oidcron: only the minting of the job's token is checked, and nothing is predicted about the response")
		return nil
	}
	name := functionAt(u.Host, u.Path)
	if name != "" {
		why, err := g.may("cloudfunctions.functions.get", name)
		if err != nil {
			return err
		}
		if why != "" {
			g.targetHidden = why
			g.rep.Target.Kind = TargetUnknown
			g.add("target", Skip, why+" (the function the uri names), so whether it is hosted here, and how it is guarded, is not shown")
			return nil
		}
	}
	route, ok := g.d.cfg.Gateway.Resolve(g.ctx, u.Host, u.Path)
	if ok && route.Function.GetName() != name {
		// functionAt and the gateway disagree: never show what was not asked for.
		g.targetHidden = cannotJudge("cloudfunctions.functions.get", route.Function.GetName())
		g.rep.Target.Kind = TargetUnknown
		g.add("target", Skip, g.targetHidden)
		return nil
	}
	if !ok {
		g.rep.Target.Kind = TargetNoFunction
		if canonical {
			g.add("target", Warn, uri+" has the form of a Cloud Functions URL, but no function is hosted here at it: the request leaves oidcron for the real cloudfunctions.net, whose answer cannot be judged (oidcron functions list shows the functions hosted here)")
		} else {
			g.add("target", Fail, uri+" is on oidcron's gateway, but no function is hosted at its path: the gateway answers 404 (the path form is /PROJECT/REGION/FUNCTION)")
		}
		return nil
	}
	g.fn = route.Function
	g.perm, g.resource = functions.InvokePermission(g.fn), functions.InvokeResource(g.fn)
	p, l, n, _ := functions.Parts(g.fn.GetName())
	g.fnURL = g.fn.GetUrl()
	form := "its canonical URL"
	if pathForm {
		g.fnURL = functions.PathURL(g.d.cfg.GatewayURL, p, l, n)
		form = "the gateway's path form"
	}
	gen := "1st gen"
	if functions.IsGen2(g.fn) {
		gen = "2nd gen"
	}
	g.rep.Target = Target{URI: uri, Kind: TargetFunction, Function: g.fn.GetName(), Environment: g.fn.GetEnvironment().String(),
		URL: g.fnURL, InvokePermission: g.perm, InvokeResource: g.resource}
	if up, err := url.Parse(functions.Upstream(g.fn)); err != nil || up.Host == "" {
		g.add("target", Fail, fmt.Sprintf("%s is function %s (%s), but it has no valid upstream (%s): the gateway answers 502 to what it lets through", uri, n, gen, functions.UpstreamEnv))
		return nil
	}
	g.add("target", Pass, fmt.Sprintf("%s is function %s (%s) in %s of project %s, by %s; it is served through oidcron's gateway", uri, n, gen, l, p, form))
	return nil
}

// functionAt names the function Gateway.Resolve looks up for host and path
// ("" when it looks up none), so that the caller's permission on it can be
// asked before the lookup, whatever the lookup would find. The path is
// cleaned as Resolve cleans it: "//hello" and "/x/../hello" reach hello.
func functionAt(host, path string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	segs := strings.SplitN(strings.TrimPrefix(gateway.CleanPath(path), "/"), "/", 4)
	if sub, ok := strings.CutSuffix(strings.ToLower(host), ".cloudfunctions.net"); ok && len(segs) >= 1 && segs[0] != "" {
		region, project, ok := functions.SplitHost(sub)
		if !ok {
			return ""
		}
		return iam.FunctionResource(project, region, segs[0])
	}
	if len(segs) >= 3 && segs[0] != "" && segs[1] != "" && segs[2] != "" {
		return iam.FunctionResource(segs[0], segs[1], segs[2])
	}
	return ""
}

func sameOrigin(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(hostPort(u), hostPort(b))
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// ---- access ----

func (g *diag) checkAccess() error {
	switch {
	case g.targetHidden != "":
		g.add("access", Skip, g.targetHidden)
		return nil
	case g.fn == nil:
		g.add("access", Skip, "the target is not a function hosted here")
		return nil
	}
	why, err := g.mayReadPolicies(g.resource)
	if err != nil {
		return err
	}
	if why != "" {
		g.policyHidden = why
		g.add("access", Skip, why+" (the policies that decide who may invoke the function)")
		return nil
	}
	dec, err := g.authorize("", g.perm, g.resource)
	if err != nil {
		return err
	}
	g.pubDec, g.public = dec, dec.Granted
	if dec.Granted {
		g.add("access", Pass, fmt.Sprintf("the function is public: allUsers holds %s on %s (%s), so the gateway lets every request in without looking at its token", g.perm, g.resource, dec.Reason))
		return nil
	}
	g.add("access", Pass, fmt.Sprintf("the function requires authentication: allUsers lacks %s on %s, so a request needs an ID token of an account that holds it", g.perm, g.resource))
	return nil
}

// ---- token ----

// headerAuthorization is the Authorization header the job sets itself.
func (g *diag) headerAuthorization() string {
	for k, v := range g.job.GetHttpTarget().GetHeaders() {
		if strings.EqualFold(k, "Authorization") {
			return v
		}
	}
	return ""
}

func (g *diag) checkToken() error {
	t := g.job.GetHttpTarget()
	private := g.fn != nil && !g.public && g.policyHidden == ""
	switch g.kind {
	case "OIDC":
		aud, how := t.GetOidcToken().GetAudience(), ""
		if aud == "" {
			aud, how = t.GetUri(), ", defaulted to the uri"
		}
		detail := fmt.Sprintf("the job sends an OIDC ID token of %s (audience %q%s)", g.email, aud, how)
		if kind, _ := hostKind(t.GetUri()); g.fn == nil && kind == "OAUTH" {
			fix, err := g.kindFix()
			if err != nil {
				return err
			}
			g.add("token", Warn, detail+fmt.Sprintf(", but %s is a Google API (*.googleapis.com), which takes OAuth access tokens and answers 401 UNAUTHENTICATED to an ID token: switch the job to an OAuth token", hostOf(t.GetUri())), fix...)
			return nil
		}
		g.add("token", Pass, detail)
	case "OAUTH":
		scope := t.GetOauthToken().GetScope()
		if scope == "" {
			scope = identity.CloudPlatformScope
		}
		if kind, _ := hostKind(t.GetUri()); g.fn == nil && kind == "OIDC" {
			fix, err := g.kindFix()
			if err != nil {
				return err
			}
			g.add("token", Warn, fmt.Sprintf("the job sends an OAuth access token of %s (scope %s), but %s is a Cloud Run service or Cloud Function (*.run.app, *.cloudfunctions.net), which accepts only OIDC ID tokens and answers 401 to an access token: switch the job to an OIDC token with the service's or function's URL as audience", g.email, scope, hostOf(t.GetUri())), fix...)
			return nil
		}
		if g.fn == nil {
			g.add("token", Pass, fmt.Sprintf("the job sends an OAuth access token of %s (scope %s): right for Google APIs (*.googleapis.com); a function or Cloud Run service would answer 401", g.email, scope))
			return nil
		}
		fix, err := g.oidcFix()
		if err != nil {
			return err
		}
		switch {
		case private:
			g.add("token", Fail, fmt.Sprintf("the job sends an OAuth access token of %s, but a function accepts only OIDC ID tokens: the gateway answers 401 (switch the job to an OIDC token with the function's URL as audience)", g.email), fix...)
		case g.policyHidden != "":
			g.add("token", Fail, fmt.Sprintf("the job sends an OAuth access token of %s, but a function accepts only OIDC ID tokens: the gateway answers 401 unless the function is public (whether it is: %s)", g.email, g.policyHidden), fix...)
		default:
			g.add("token", Warn, fmt.Sprintf("the job sends an OAuth access token of %s: the gateway does not look at it while the function is public, but would answer 401 once it is private", g.email), fix...)
		}
	default:
		own := g.headerAuthorization()
		switch {
		case g.targetHidden != "":
			g.add("token", Skip, "the job sends no token; whether its target needs one: "+g.targetHidden)
		case g.fn != nil && g.policyHidden != "":
			g.add("token", Skip, "the job sends no token; whether the function needs one: "+g.policyHidden)
		case private && own != "":
			fix, err := g.accountFix()
			if err != nil {
				return err
			}
			g.add("token", Fail, "the job mints no token and sends the Authorization header set in its headers, a fixed credential the gateway judges like any token (see gateway); give the job an OIDC token instead", fix...)
		case private:
			fix, err := g.accountFix()
			if err != nil {
				return err
			}
			detail := "the job sends no token (it has no --oidc-service-account-email), and the function is private: a request without an Authorization header gets 403"
			if g.agent != "" {
				if d, err := g.authorize("serviceAccount:"+g.agent, g.perm, g.resource); err == nil && d.Granted {
					detail += fmt.Sprintf(". The invoke permission held by the Cloud Scheduler service agent (%s) does not change this: the agent only mints the job's token, and this job asks for none", d.GrantedBy.Role)
				}
			}
			g.add("token", Fail, detail, fix...)
		case g.fn != nil:
			g.add("token", Pass, "the job sends no token, and the public function needs none")
		default:
			g.add("token", Pass, "the job sends no token; the target's own rules decide whether it needs one")
		}
	}
	return nil
}

// oidcFix switches the job to an OIDC token with the function's URL as
// audience: of its own account when that is of the job's project, else of
// an account that may invoke the function (accountFix).
func (g *diag) oidcFix() ([]string, error) {
	if g.local {
		return g.withActAs(nil, g.email, g.updateOIDCCmd(g.email, g.fnURL))
	}
	return g.accountFix()
}

// The invoker roles: an account granted one of these directly is one the
// user meant to call functions with. An account that holds the invoke
// permission through a broad role (owner, editor) is not suggested: handing
// its token to a job spreads far more than the right to invoke.
var invokerRoles = []string{"roles/cloudfunctions.invoker", "roles/run.invoker"}

// accountFix gives a tokenless job (or one whose account cannot serve) the
// token of an account that may invoke the function: an existing enabled one
// of the job's project that is granted an invoker role directly, where the
// function's permission is checked, else scheduler-invoker, created and
// granted as needed. It reads only what the caller may read.
func (g *diag) accountFix() ([]string, error) {
	var found []string
	for _, pe := range g.pubDec.Policies { // empty when the caller may not read them
		for _, be := range pe.Bindings {
			if !be.RoleGrantsPermission || be.Conditional || !slices.Contains(invokerRoles, be.Role) {
				continue
			}
			for _, m := range be.Members {
				email, ok := strings.CutPrefix(m, "serviceAccount:")
				if !ok || email == g.agent || slices.Contains(found, email) {
					continue
				}
				if _, proj, ok := splitAccountEmail(email); !ok || proj != g.project {
					continue
				}
				sa, err := g.readAccount(email)
				if err != nil {
					return nil, err
				}
				if sa != nil && !sa.GetDisabled() && sa.GetProjectId() == g.project {
					found = append(found, sa.GetEmail())
				}
			}
		}
	}
	if len(found) > 0 {
		slices.Sort(found)
		return g.withActAs(nil, found[0], g.updateOIDCCmd(found[0], g.fnURL))
	}
	email := invokerAccount + "@" + g.project + ".iam.gserviceaccount.com"
	fix, err := g.ensureInvokerAccount(email)
	if err != nil {
		return nil, err
	}
	return g.withActAs(append(fix, g.invokerCmd(email)), email, g.updateOIDCCmd(email, g.fnURL))
}

// readAccount reads an account of the job's project if the caller may
// (iam.serviceAccounts.get); nil when it may not, or there is none.
func (g *diag) readAccount(email string) (*adminpb.ServiceAccount, error) {
	why, err := g.may("iam.serviceAccounts.get", iam.ServiceAccountResource(g.project, email))
	if err != nil || why != "" {
		return nil, err
	}
	sa, err := g.d.cfg.Dir.ServiceAccount(g.ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sa.GetEmail() != email {
		return nil, nil
	}
	return sa, nil
}

// ensureInvokerAccount returns the commands that make email (an account of
// the job's project) exist and be enabled. An account the caller may not
// read is taken as missing: creating it then says if it exists.
func (g *diag) ensureInvokerAccount(email string) ([]string, error) {
	sa, err := g.readAccount(email)
	switch {
	case err != nil:
		return nil, err
	case sa == nil:
		id, _, _ := splitAccountEmail(email)
		return []string{createAccountCmd(id, g.project)}, nil
	case sa.GetDisabled():
		return []string{command("iam", "service-accounts", "enable", quote(email), "--project="+quote(g.project))}, nil
	}
	return nil, nil
}

// localAccountFix replaces an account that cannot serve (of another
// project, or not a service account at all) with one of the job's project:
// for a function hosted here, an OIDC token of an account that may invoke
// it; for any other target, scheduler-invoker in place of the account
// (updateTokenCmd).
func (g *diag) localAccountFix() ([]string, error) {
	if g.fn != nil {
		return g.accountFix()
	}
	email := invokerAccount + "@" + g.project + ".iam.gserviceaccount.com"
	fix, err := g.ensureInvokerAccount(email)
	if err != nil {
		return nil, err
	}
	return g.withActAs(fix, email, g.updateTokenCmd(email))
}

// kindFix switches a job whose target is not hosted here to the token kind
// the target's host takes (hostKind): of its own account when that is of
// the job's project, else of the one localAccountFix gives it, so that the
// token and service-account checks print the same command.
func (g *diag) kindFix() ([]string, error) {
	if !g.local {
		return g.localAccountFix()
	}
	return g.withActAs(nil, g.email, g.updateTokenCmd(g.email))
}

// updateTokenCmd gives a job whose target is not hosted here a token of
// email: of the kind the target's host takes (hostKind), with its audience
// when it becomes an ID token; for any other host, of the kind the job
// has, its audience and scope kept.
func (g *diag) updateTokenCmd(email string) string {
	w := append([]string{"scheduler", "jobs", "update", "http", quote(g.jobID)}, g.jobFlags()...)
	want, aud := hostKind(g.job.GetHttpTarget().GetUri())
	if want == "" {
		want = g.kind
	}
	switch {
	case want == "OAUTH":
		w = append(w, "--oauth-service-account-email="+quote(email))
	case g.kind != "OIDC" && aud != "":
		w = append(w, "--oidc-service-account-email="+quote(email), "--oidc-token-audience="+quote(aud))
	default:
		w = append(w, "--oidc-service-account-email="+quote(email))
	}
	return command(w...)
}

// hostKind is the token kind Google's hosts take (reference §8): an OIDC ID
// token for a Cloud Run service (*.run.app) or a Cloud Function
// (*.cloudfunctions.net), with aud its audience (the service's base URL,
// the function's URL); an OAuth access token for a Google API
// (*.googleapis.com). Each answers 401 to the other kind. "" for any other
// host.
func hostKind(uri string) (kind, aud string) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", ""
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.HasSuffix(host, ".run.app"):
		return "OIDC", "https://" + host
	case strings.HasSuffix(host, ".cloudfunctions.net"):
		name, _, _ := strings.Cut(strings.TrimPrefix(gateway.CleanPath(u.Path), "/"), "/")
		if name == "" {
			return "OIDC", "" // no function named: its audience is unknown
		}
		return "OIDC", "https://" + host + "/" + name
	case strings.HasSuffix(host, ".googleapis.com"):
		return "OAUTH", ""
	}
	return "", ""
}

// ---- service account ----

func (g *diag) checkAccount() error {
	if g.kind == "" {
		g.add("service-account", Skip, "the job sends no token, so no account is involved")
		return nil
	}
	id, proj, ok := splitAccountEmail(g.email)
	if !ok || proj != g.project {
		// Judged from the email alone: nothing of another project is read.
		fix, err := g.localAccountFix()
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("the job's account %s is not a service account's email (ACCOUNT@PROJECT.iam.gserviceaccount.com): no such account exists, so the service agent cannot mint its token and every attempt fails PERMISSION_DENIED without sending anything; give the job an account of its project %s", g.email, g.project)
		if ok {
			detail = fmt.Sprintf("the job's account %s belongs to project %s, not to the job's project %s: Cloud Scheduler requires an account of the job's own project (Google Cloud refuses such a job; oidcron's API does too when the token is set again); give the job an account of %s", g.email, proj, g.project, g.project)
		}
		g.add("service-account", Fail, detail, fix...)
		return nil
	}
	why, err := g.may("iam.serviceAccounts.get", iam.ServiceAccountResource(g.project, g.email))
	if err != nil {
		return err
	}
	if why != "" {
		g.acctHidden = why
		g.add("service-account", Skip, why+" (whether the job's account exists and is enabled)")
		return nil
	}
	if g.acct, err = g.readAccount(g.email); err != nil {
		return err
	}
	switch {
	case g.acct == nil:
		uid, err := g.deletedUID()
		if err != nil {
			return err
		}
		g.uid = uid
		if uid != "" {
			g.add("service-account", Fail, fmt.Sprintf("the job's account %s was deleted (unique id %s): the service agent cannot mint its token, so every attempt fails PERMISSION_DENIED without sending anything; undeleting it restores it with its grants", g.email, uid),
				command("iam", "service-accounts", "undelete", uid, "--project="+quote(g.project)))
			return nil
		}
		g.add("service-account", Fail, fmt.Sprintf("the job's account %s does not exist: the service agent cannot mint its token, so every attempt fails PERMISSION_DENIED without sending anything", g.email),
			command("iam", "service-accounts", "create", quote(id), "--project="+quote(g.project)))
	case g.acct.GetDisabled():
		g.add("service-account", Fail, fmt.Sprintf("the job's account %s is disabled: its tokens cannot be minted, so every attempt fails PERMISSION_DENIED without sending anything", g.email),
			command("iam", "service-accounts", "enable", quote(g.email), "--project="+quote(g.project)))
	default:
		g.add("service-account", Pass, fmt.Sprintf("%s exists in the job's project %s and is enabled", g.email, g.project))
	}
	return nil
}

// splitAccountEmail splits ID@PROJECT.iam.gserviceaccount.com.
func splitAccountEmail(email string) (id, project string, ok bool) {
	id, domain, ok := strings.Cut(email, "@")
	project, ok2 := strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	return id, project, ok && ok2 && id != "" && project != ""
}

// deletedUID finds the unique id of the deleted account g.email (of the
// job's project) in the policies on the way that the caller may read (its
// grants became deleted:serviceAccount:EMAIL?uid=N).
func (g *diag) deletedUID() (string, error) {
	prefix := "deleted:serviceAccount:" + g.email + "?uid="
	var resources []string
	for _, pe := range g.pubDec.Policies { // empty when the caller may not read them
		resources = append(resources, pe.Resource)
	}
	if r := iam.ProjectResource(g.project); !slices.Contains(resources, r) {
		resources = append(resources, r)
	}
	for _, r := range resources {
		perm := policyPermission(r)
		if perm == "" {
			continue
		}
		why, err := g.may(perm, r)
		if err != nil {
			return "", err
		}
		if why != "" {
			continue
		}
		p, err := g.d.cfg.Dir.Policy(g.ctx, r)
		if err != nil || p == nil {
			continue
		}
		for _, b := range p.GetBindings() {
			for _, m := range b.GetMembers() {
				if uid, ok := strings.CutPrefix(m, prefix); ok {
					return uid, nil
				}
			}
		}
	}
	return "", nil
}

// ---- service agent ----

func (g *diag) checkAgent() error {
	switch {
	case g.agentHidden != "":
		g.add("service-agent", Skip, g.agentHidden+" (the project's number, which names its Cloud Scheduler service agent)")
		return nil
	case g.agent == "":
		g.add("service-agent", Fail, fmt.Sprintf("project %s does not exist, so it has no Cloud Scheduler service agent to mint tokens", g.project))
		return nil
	}
	perm, resource := permOpenID, iam.ProjectResource(g.project)
	if g.kind == "OAUTH" {
		perm = permAccess
	}
	_, proj, isAccount := splitAccountEmail(g.email)
	switch {
	case g.kind == "":
	case !isAccount:
		g.add("service-agent", Skip, fmt.Sprintf("%s is no service account, so there are no tokens of it to mint (see service-account)", g.email))
		return nil
	case !g.local || g.acct != nil || g.acctHidden != "":
		// The agent's own rights on the account, as the engine asks; for an
		// account the doctor has not read, by the name its email gives.
		resource = iam.ServiceAccountResource(proj, g.email)
	}
	d, err := g.authorize("serviceAccount:"+g.agent, perm, resource)
	if err != nil {
		return err
	}
	// The explanation quotes policies: only the job's project's, and only
	// to a caller who may read them.
	reason := ""
	if g.kind == "" || g.local {
		why, err := g.mayReadPolicies(resource)
		if err != nil {
			return err
		}
		if why == "" {
			reason = d.Reason
		}
	}
	g.mintVisible = g.local && g.acctHidden == "" && reason != ""
	withReason := func(format string) string {
		if reason == "" {
			return ""
		}
		return fmt.Sprintf(format, reason)
	}
	switch {
	case d.Granted && g.kind == "":
		g.add("service-agent", Pass, fmt.Sprintf("the Cloud Scheduler service agent %s could mint tokens in %s%s; this job asks for none", g.agent, g.project, withReason(" (%s)")))
	case d.Granted:
		g.add("service-agent", Pass, fmt.Sprintf("the Cloud Scheduler service agent %s may mint %s's tokens%s", g.agent, g.email, withReason(": %s")))
	case g.kind == "":
		g.add("service-agent", Warn, fmt.Sprintf("the Cloud Scheduler service agent %s lacks %s in %s%s: once the job has a token, minting it will fail", g.agent, perm, g.project, withReason(" (%s)")),
			agentRoleCmd(g.project, g.agent))
	case !g.local:
		// Granting the agent a role in another project is not the fix: the
		// account itself is wrong (see service-account).
		g.add("service-agent", Fail, fmt.Sprintf("the Cloud Scheduler service agent %s cannot mint %s's tokens, an account of project %s: every attempt fails PERMISSION_DENIED before sending. Switch the job to an account of %s (see service-account) rather than granting the agent a role in %s", g.agent, g.email, proj, g.project, proj))
	default:
		g.add("service-agent", Fail, fmt.Sprintf("the Cloud Scheduler service agent %s cannot mint %s's tokens%s. It needs %s (Google grants it when the API is enabled); without it every attempt with a token fails PERMISSION_DENIED before sending", g.agent, g.email, withReason(": %s"), roleServiceAgent),
			agentRoleCmd(g.project, g.agent))
	}
	return nil
}

// ---- audience ----

func (g *diag) checkAudience() error {
	if g.kind != "OIDC" {
		g.add("audience", Skip, "only an OIDC token has an audience")
		return nil
	}
	t := g.job.GetHttpTarget()
	aud, defaulted := t.GetOidcToken().GetAudience(), false
	if aud == "" {
		aud, defaulted = t.GetUri(), true
	}
	if g.targetHidden != "" {
		g.add("audience", Skip, fmt.Sprintf("the audience is %q; which audiences the target accepts: %s", aud, g.targetHidden))
		return nil
	}
	if g.fn == nil {
		if u, err := url.Parse(aud); err == nil && (u.RawQuery != "" || u.Fragment != "") {
			g.add("audience", Warn, fmt.Sprintf("the audience %q carries a query string or fragment: Cloud Functions and Cloud Run answer 401 to such a token; whether this target accepts it is its own business", aud))
			return nil
		}
		g.add("audience", Skip, fmt.Sprintf("the audience is %q; the target is not hosted here, so which audience it accepts cannot be judged", aud))
		return nil
	}
	accepted := g.d.cfg.Gateway.Audiences(g.fn)
	if slices.Contains(accepted, aud) {
		g.add("audience", Pass, fmt.Sprintf("the audience %q is the function's URL", aud))
		return nil
	}
	why, err := g.audienceProblem(aud, accepted)
	if err != nil {
		return err
	}
	if defaulted {
		why += " (no --oidc-token-audience was given, so the audience defaults to the whole uri)"
	}
	res := Fail
	tail := ": the gateway answers 401"
	switch {
	case g.policyHidden != "":
		tail = ": the gateway answers 401 unless the function is public (whether it is: " + g.policyHidden + ")"
	case g.public:
		res, tail = Warn, ": the gateway ignores tokens while the function is public, but would answer 401 once it is private"
	}
	fix, err := g.oidcFix()
	if err != nil {
		return err
	}
	g.add("audience", res, fmt.Sprintf("the audience %q is not one the function accepts (%s): %s%s", aud, strings.Join(quoteAll(accepted), " or "), why, tail), fix...)
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// audienceProblem names the classic mistakes. It names another function
// only if the caller may see it.
func (g *diag) audienceProblem(aud string, accepted []string) (string, error) {
	u, err := url.Parse(aud)
	if err != nil || u.Host == "" {
		return "it is not a URL", nil
	}
	switch {
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(aud, "?"):
		return "it carries a query string or fragment, which an audience must not", nil
	case strings.HasSuffix(u.Path, "/") && slices.Contains(accepted, strings.TrimSuffix(aud, "/")):
		return "it has a trailing slash; the function's URL has none", nil
	case u.Path == "" || u.Path == "/":
		return "it is the host only; a function's audience is its full URL, with the function's name", nil
	}
	const other = "it is not this function's URL"
	name := functionAt(u.Host, u.Path)
	if name == "" {
		return other, nil
	}
	if name != g.fn.GetName() {
		why, err := g.may("cloudfunctions.functions.get", name)
		if err != nil || why != "" {
			return other, err
		}
	}
	if r, ok := g.d.cfg.Gateway.Resolve(g.ctx, u.Host, u.Path); ok && r.Function.GetName() == name {
		if name != g.fn.GetName() {
			_, _, n, _ := functions.Parts(name)
			return "it is the URL of another function, " + n, nil
		}
		if r.Rest != "/" {
			return "it has a path after the function's name; the audience is the function's URL itself", nil
		}
		return misspelt(u, accepted), nil
	}
	return other, nil
}

// misspelt says how u, which the gateway routes to the function itself with
// nothing after its name, differs from the function's URL: routing forgives
// a scheme, a host's case or port, an unclean path, but a token's audience
// is compared with the URL as a string.
func misspelt(u *url.URL, accepted []string) string {
	const tail = ": the gateway routes it to the function, but an audience must be one of the function's URLs exactly as written"
	for _, a := range accepted {
		w, err := url.Parse(a)
		if err != nil || !strings.EqualFold(w.Hostname(), u.Hostname()) {
			continue
		}
		var diffs []string
		if u.Scheme != w.Scheme {
			diffs = append(diffs, fmt.Sprintf("its scheme is %s, not %s", u.Scheme, w.Scheme))
		}
		if u.Host != w.Host {
			diffs = append(diffs, fmt.Sprintf("its host is %s, not %s", u.Host, w.Host))
		}
		if u.EscapedPath() != w.EscapedPath() {
			diffs = append(diffs, fmt.Sprintf("its path is %s, not %s", u.EscapedPath(), w.EscapedPath()))
		}
		if len(diffs) > 0 {
			return strings.Join(diffs, "; ") + tail
		}
	}
	return fmt.Sprintf("it names the function by its path, but its host %s is not the host of the function's URLs", u.Host)
}

// ---- invoker ----

func (g *diag) checkInvoker() error {
	switch {
	case g.targetHidden != "":
		g.add("invoker", Skip, g.targetHidden)
		return nil
	case g.fn == nil:
		g.add("invoker", Skip, "the target is not a function hosted here")
		return nil
	case g.kind == "":
		if g.public {
			g.add("invoker", Skip, "the job sends no token, and the public function needs none")
		} else {
			g.add("invoker", Skip, "the job sends no token, so there is no account whose permission could count (see token)")
		}
		return nil
	case g.policyHidden != "":
		g.add("invoker", Skip, g.policyHidden+" (whether "+g.email+" may invoke the function)")
		return nil
	}
	if !g.local {
		g.add("invoker", Skip, g.email+" is no account of the job's project, so it is to be replaced, not granted (see service-account)")
		return nil
	}
	d, err := g.authorize("serviceAccount:"+g.email, g.perm, g.resource)
	if err != nil {
		return err
	}
	if d.Granted {
		g.add("invoker", Pass, fmt.Sprintf("%s holds %s on %s: %s", g.email, g.perm, g.resource, d.Reason))
		return nil
	}
	detail := d.Reason
	if functions.IsGen2(g.fn) {
		// The function's own policy, besides its service's: read only if the caller may.
		why, err := g.mayReadPolicies(g.fn.GetName())
		if err != nil {
			return err
		}
		if d1, err := g.authorize("serviceAccount:"+g.email, "cloudfunctions.functions.invoke", g.fn.GetName()); why == "" && err == nil && d1.Granted {
			detail += fmt.Sprintf(". %s is granted %s on %s, which grants nothing here: a 2nd gen function checks run.routes.invoke on its Cloud Run service %s (roles/run.invoker); add-invoker-policy-binding grants the right role in the right place",
				g.email, d1.GrantedBy.Role, d1.GrantedBy.Resource, g.resource)
		}
	}
	if g.public {
		g.add("invoker", Skip, "not needed while the function is public ("+detail+")")
		return nil
	}
	if g.acct == nil && g.uid != "" && g.deletedHolds() {
		g.add("invoker", Skip, fmt.Sprintf("%s is deleted; its grant of %s comes back with the undelete", g.email, g.perm))
		return nil
	}
	g.add("invoker", Fail, detail+": the gateway answers 403", g.invokerCmd(g.email))
	return nil
}

// deletedHolds reports whether the deleted account's entry is a member of a
// binding that grants the invoke permission.
func (g *diag) deletedHolds() bool {
	m := "deleted:serviceAccount:" + g.email + "?uid=" + g.uid
	for _, pe := range g.pubDec.Policies {
		for _, be := range pe.Bindings {
			if be.RoleGrantsPermission && !be.Conditional && slices.Contains(be.Members, m) {
				return true
			}
		}
	}
	return false
}

// ---- the classic trap ----

func (g *diag) checkAgentInvoker() error {
	if g.fn == nil || g.agent == "" || g.public || g.policyHidden != "" {
		return nil
	}
	d, err := g.authorize("serviceAccount:"+g.agent, g.perm, g.resource)
	if err != nil || !d.Granted || d.GrantedBy.Member != "serviceAccount:"+g.agent {
		return err
	}
	carries := "no token at all"
	if g.kind != "" {
		carries = "the token of " + g.email
	}
	var fix []string
	if role := d.GrantedBy.Role; role == "roles/cloudfunctions.invoker" || role == "roles/run.invoker" {
		member := "--member=" + quote("serviceAccount:"+g.agent)
		switch on := d.GrantedBy.Resource; {
		case on == g.fn.GetName():
			p, l, n, _ := functions.Parts(on)
			fix = []string{command("functions", "remove-iam-policy-binding", quote(n), "--region="+quote(l), member, "--role="+role, "--project="+quote(p))}
		case on == iam.ProjectResource(g.project):
			fix = []string{command("projects", "remove-iam-policy-binding", quote(g.project), member, "--role="+role)}
		case on == g.resource && functions.IsGen2(g.fn):
			// A 2nd gen function's invoker role sits on its Cloud Run
			// service, which the functions command reaches by the
			// function's name.
			p, l, n, _ := functions.Parts(g.fn.GetName())
			fix = []string{command("functions", "remove-invoker-policy-binding", quote(n), "--region="+quote(l), member, "--project="+quote(p))}
		}
	}
	g.add("agent-invoker", Warn, fmt.Sprintf("the Cloud Scheduler service agent %s holds %s on %s (%s on %s), which helps nothing: the agent only mints the job's token, and the request carries %s. The invoker role belongs to the account the job's token is for",
		g.agent, g.perm, g.resource, d.GrantedBy.Role, d.GrantedBy.Resource, carries), fix...)
	return nil
}

// ---- prediction ----

func (g *diag) predict() error {
	pr := &g.rep.Prediction
	unknown := func(why string) error {
		*pr = Prediction{Outcome: Unknown, Reason: why, Summary: "unknown (" + why + ")"}
		if g.fn != nil || g.targetHidden != "" {
			g.add("gateway", Skip, why)
		}
		return nil
	}
	auth, mintErr := "", error(nil)
	if g.kind != "" {
		// Minting reads the account: not for a caller who may not.
		switch {
		case g.agentHidden != "":
			return unknown(g.agentHidden)
		case g.acctHidden != "":
			return unknown(g.acctHidden)
		}
		if g.d.cfg.Credentials == nil {
			return errors.New("doctor: no credentials to mint with")
		}
		auth, mintErr = g.d.cfg.Credentials.Authorization(g.ctx, g.job)
	} else {
		auth = g.headerAuthorization()
	}
	if mintErr != nil {
		reason := mintErr.Error()
		if !g.mintVisible {
			// The error may quote what the caller may not read (another
			// project's account and policies).
			reason = "the Cloud Scheduler service agent cannot mint a token of " + g.email
		}
		*pr = Prediction{Outcome: NotSent, Code: "PERMISSION_DENIED", Reason: reason,
			Summary: "PERMISSION_DENIED, no request sent (" + reason + ")"}
		if g.fn != nil {
			g.add("gateway", Skip, "no request reaches the gateway: the job's token cannot be minted ("+reason+")")
		}
		return nil
	}
	switch {
	case g.targetHidden != "":
		return unknown(g.targetHidden)
	case g.fn != nil && g.policyHidden != "":
		return unknown(g.policyHidden)
	}
	switch g.rep.Target.Kind {
	case TargetExternal:
		what := "no token is sent"
		if g.kind != "" {
			what = "the job's token can be minted"
		}
		*pr = Prediction{Outcome: Unknown, Summary: "unknown (the target is not hosted by oidcron; " + what + ", and its answer is the target's own)"}
		return nil
	case TargetNoFunction:
		if g.fn == nil && !strings.HasSuffix(strings.ToLower(hostOf(g.rep.Target.URI)), ".cloudfunctions.net") {
			reason := "the gateway has no function at " + pathOf(g.rep.Target.URI)
			*pr = Prediction{Outcome: NotFound, HTTPStatus: 404, Code: "NOT_FOUND", Reason: reason, Summary: "404 NOT_FOUND (" + reason + ")"}
			return nil
		}
		*pr = Prediction{Outcome: Unknown, Summary: "unknown (no function is hosted here at the uri; the request goes to the real cloudfunctions.net)"}
		return nil
	}
	v := g.d.cfg.Gateway.Decide(g.ctx, g.fn, auth)
	switch v.Status {
	case 0:
		if c := g.rep.Check("target"); c != nil && c.Result == Fail {
			reason := "the function has no valid upstream"
			g.add("gateway", Pass, "the gateway lets the request in: "+v.Reason)
			*pr = Prediction{Outcome: UpstreamError, HTTPStatus: 502, Code: "UNAVAILABLE", Reason: reason, Summary: "502 UNAVAILABLE (" + reason + ")"}
			return nil
		}
		g.add("gateway", Pass, "the gateway lets the request through to the function: "+v.Reason)
		*pr = Prediction{Outcome: Allowed, Reason: v.Reason, Summary: "2xx (the request is allowed through the gateway; the status is then the function's own)"}
	case 401:
		g.add("gateway", Fail, "the gateway answers 401: "+v.Reason)
		*pr = Prediction{Outcome: Denied, HTTPStatus: 401, Code: "UNAUTHENTICATED", Reason: v.Reason, Summary: "401 UNAUTHENTICATED (" + v.Reason + ")"}
	case 403:
		g.add("gateway", Fail, "the gateway answers 403: "+v.Reason)
		*pr = Prediction{Outcome: Denied, HTTPStatus: 403, Code: "PERMISSION_DENIED", Reason: v.Reason, Summary: "403 PERMISSION_DENIED (" + v.Reason + ")"}
	default:
		return fmt.Errorf("doctor: the gateway could not decide: %s", v.Reason)
	}
	return nil
}

func hostOf(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Hostname()
	}
	return ""
}

func pathOf(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.Path != "" {
		return u.Path
	}
	return "/"
}
