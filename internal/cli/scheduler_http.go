package cli

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/api/cloudscheduler/v1"
)

// `scheduler jobs create http` and `scheduler jobs update http`: gcloud's
// flags (surface/scheduler/jobs/{create,update}/http.yaml and
// command_lib/scheduler/flags.yaml), the request gcloud builds, and for
// update the mask of only the flags given (command_lib/scheduler/util.py).

// schedHTTPMethods are gcloud's choices for --http-method (no patch, no options).
var schedHTTPMethods = []string{"delete", "get", "head", "post", "put"}

// schedURIRule is gcloud's validator for --uri ("." stands for ":", which its
// YAML cannot hold).
var schedURIRule = regexp.MustCompile(`^https?.//`)

// schedHTTPJobFlags are the flags of both commands. Each value is converted
// as the command line is read (gcloudFlag), so a bad one fails in gcloud's
// order, before the argument groups are checked.
type schedHTTPJobFlags struct {
	location string

	schedule, timeZone, description, attemptDeadline      string
	maxRetryAttempts, maxDoublings                        int64
	maxRetryDuration, minBackoff, maxBackoff              string // as JSON: "5s"
	uri, httpMethod, body                                 string // body in base64
	headers, updateHeaders                                map[string]string
	oidcEmail, oidcAudience, oauthEmail, oauthScope       string
	removeHeaders                                         []string
	clearTimeZone, clearRetryAttempts, clearRetryDuration bool
	clearMinBackoff, clearMaxBackoff, clearMaxDoublings   bool
	clearMessageBody, clearAuthToken, clearHeaders        bool
}

func schedAddHTTPJobFlags(g *Globals, cmd *cobra.Command, f *schedHTTPJobFlags, create bool) {
	fs := cmd.Flags()
	def := func(v string) string {
		if create {
			return v
		}
		return ""
	}
	addLocationFlag(cmd, &f.location)
	fs.StringVar(&f.schedule, "schedule", "", "schedule on which the job will be executed, unix-cron (e.g. \"*/5 * * * *\") or English-like (e.g. \"every 10 mins\")")
	fs.StringVar(&f.timeZone, "time-zone", def("Etc/UTC"), "time zone of the schedule, a tz database name such as America/New_York")
	fs.StringVar(&f.description, "description", "", "human-readable description of the job")
	gcloudFlag(fs, &f.attemptDeadline, "attempt-deadline", "", "deadline for job attempts, e.g. 20s; 15s to 30m for HTTP targets (server default 180s)", gcloudDuration)
	gcloudFlag(fs, &f.maxRetryAttempts, "max-retry-attempts", def("0"), "number of times to retry a failed attempt, 0 to 5", gcloudInt)
	gcloudFlag(fs, &f.maxRetryDuration, "max-retry-duration", "", "time limit for retrying a failed execution, e.g. 10m; 0s means unlimited", gcloudDuration)
	gcloudFlag(fs, &f.minBackoff, "min-backoff", def("5s"), "minimum time to wait before retrying a failed attempt", gcloudDuration)
	gcloudFlag(fs, &f.maxBackoff, "max-backoff", def("3600s"), "maximum time to wait before retrying a failed attempt", gcloudDuration)
	gcloudFlag(fs, &f.maxDoublings, "max-doublings", def("5"), "times the retry interval doubles before it increases linearly", gcloudInt)
	gcloudFlag(fs, &f.uri, "uri", "", "full URI the request is sent to; must begin with http:// or https://", schedURI)
	gcloudFlag(fs, &f.httpMethod, "http-method", def("post"), "HTTP method of the request: "+strings.Join(schedHTTPMethods, ", "), schedMethod)
	gcloudFlag(fs, &f.body, "message-body", "", "body of the request (only with PUT or POST)", func(_, v string) (string, error) {
		return base64.StdEncoding.EncodeToString([]byte(v)), nil
	})
	gcloudFlag(fs, &f.body, "message-body-from-file", "", "file holding the body of the request, - for standard input (only with PUT or POST)",
		func(flag, path string) (string, error) { // base64, as the JSON API carries bytes
			b, err := g.fileContents(flag, path)
			return base64.StdEncoding.EncodeToString([]byte(b)), err
		})
	fs.StringVar(&f.oidcEmail, "oidc-service-account-email", "", "service account whose OIDC ID token the request carries")
	fs.StringVar(&f.oidcAudience, "oidc-token-audience", "", "audience of the OIDC token; defaults to --uri")
	fs.StringVar(&f.oauthEmail, "oauth-service-account-email", "", "service account whose OAuth access token the request carries (for *.googleapis.com)")
	fs.StringVar(&f.oauthScope, "oauth-token-scope", "", "scope of the OAuth token; defaults to https://www.googleapis.com/auth/cloud-platform")
	if create {
		gcloudFlag(fs, &f.headers, "headers", "", "KEY=VALUE pairs of HTTP headers to include in the request, e.g. Accept-Language=en-us,Accept=text/plain", gcloudDict)
		return
	}
	gcloudStoreTrue(fs, &f.clearTimeZone, "clear-time-zone", "", false, "clear the time zone (UTC)")
	gcloudStoreTrue(fs, &f.clearRetryAttempts, "clear-max-retry-attempts", "", false, "clear --max-retry-attempts")
	gcloudStoreTrue(fs, &f.clearRetryDuration, "clear-max-retry-duration", "", false, "clear --max-retry-duration")
	gcloudStoreTrue(fs, &f.clearMinBackoff, "clear-min-backoff", "", false, "clear --min-backoff")
	gcloudStoreTrue(fs, &f.clearMaxBackoff, "clear-max-backoff", "", false, "clear --max-backoff")
	gcloudStoreTrue(fs, &f.clearMaxDoublings, "clear-max-doublings", "", false, "clear --max-doublings")
	gcloudStoreTrue(fs, &f.clearMessageBody, "clear-message-body", "", false, "clear the request body")
	gcloudStoreTrue(fs, &f.clearAuthToken, "clear-auth-token", "", false, "clear the OIDC and OAuth token fields")
	gcloudStoreTrue(fs, &f.clearHeaders, "clear-headers", "", false, "clear the list of HTTP headers")
	gcloudFlag(fs, &f.updateHeaders, "update-headers", "", "KEY=VALUE pairs of HTTP headers to add or change, e.g. Accept-Language=en-us,Accept=text/plain", gcloudDict)
	fs.StringSliceVar(&f.removeHeaders, "remove-headers", nil, "KEY1,KEY2 list of HTTP headers to remove")
}

func schedulerCreateHTTPCmd(g *Globals) *cobra.Command {
	var f schedHTTPJobFlags
	cmd := &cobra.Command{
		Use:   "http JOB --schedule=SCHEDULE --uri=URI",
		Short: "Create a Cloud Scheduler job that triggers an action via HTTP.",
		Args:  schedJobGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if err := schedCheckHTTPJobFlags(fs, args, "schedule", "uri"); err != nil {
				return err
			}
			job := f.createJob(fs)
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			ref, err := s.job(args[0], f.location)
			if err != nil {
				return err
			}
			job.Name = ref.Name()
			out, err := s.svc.Projects.Locations.Jobs.Create(ref.Parent(), job).Context(s.ctx).Do()
			if err != nil {
				return APIError(err)
			}
			// gcloud 528 prints the job and no "Created job" line (observed).
			return g.Print(out, false, "yaml")
		},
	}
	schedAddHTTPJobFlags(g, cmd, &f, true)
	return cmd
}

func schedulerUpdateHTTPCmd(g *Globals) *cobra.Command {
	var f schedHTTPJobFlags
	cmd := &cobra.Command{
		Use:   "http JOB",
		Short: "Update a Cloud Scheduler job that triggers an action via HTTP.",
		Args:  schedJobGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if err := schedCheckHTTPJobFlags(fs, args); err != nil {
				return err
			}
			// With no flag, gcloud 528 still sends the request, with an
			// empty updateMask.
			job, mask := f.updateJob(fs)
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			ref, err := s.job(args[0], f.location)
			if err != nil {
				return err
			}
			job.Name = ref.Name()
			out, err := s.svc.Projects.Locations.Jobs.Patch(ref.Name(), job).UpdateMask(strings.Join(mask, ",")).Context(s.ctx).Do()
			if err != nil {
				return APIError(err)
			}
			return g.Print(out, false, "yaml") // as gcloud 528: the job, no status line
		},
	}
	schedAddHTTPJobFlags(g, cmd, &f, false)
	return cmd
}

// schedHTTPGroups are gcloud's argument groups of the two commands, each
// alternative as gcloud writes it: a flag, independent flags ("--a --b"), or
// a flag with its dependent ("[--a : --b]", --b needs --a). Alternatives are
// in gcloud's order; flags the command lacks are left out.
var schedHTTPGroups = [][]string{
	{"--clear-auth-token", "[--oauth-service-account-email : --oauth-token-scope]", "[--oidc-service-account-email : --oidc-token-audience]"},
	{"--clear-headers", "--remove-headers --update-headers"},
	{"--clear-max-backoff", "--max-backoff"},
	{"--clear-max-doublings", "--max-doublings"},
	{"--clear-max-retry-attempts", "--max-retry-attempts"},
	{"--clear-max-retry-duration", "--max-retry-duration"},
	{"--clear-message-body", "--message-body", "--message-body-from-file"},
	{"--clear-min-backoff", "--min-backoff"},
	{"--clear-time-zone", "--time-zone"},
}

// schedCheckHTTPJobFlags checks the argument groups as gcloud does
// (parser_extensions.validate_specified_args): groups sorted by name, a
// group's inner pairs before the group, the required arguments last.
func schedCheckHTTPJobFlags(fs *pflag.FlagSet, args []string, required ...string) error {
	var groups [][]string
	for _, grp := range schedHTTPGroups {
		grp = slices.DeleteFunc(slices.Clone(grp), func(alt string) bool { return fs.Lookup(schedAltFlags(alt)[0]) == nil })
		if len(grp) > 1 {
			groups = append(groups, grp)
		}
	}
	slices.SortStableFunc(groups, func(a, b []string) int {
		return strings.Compare(strings.Trim(a[0], "[]"), strings.Trim(b[0], "[]"))
	})
	for _, grp := range groups {
		if err := schedMutexFlags(fs, grp); err != nil {
			return err
		}
	}
	return schedMissing(fs, args, required...)
}

// schedAltFlags are the flag names of one alternative of a group.
func schedAltFlags(alt string) []string {
	var names []string
	for _, w := range strings.Fields(strings.Trim(alt, "[]")) {
		if n, ok := strings.CutPrefix(w, "--"); ok {
			names = append(names, n)
		}
	}
	return names
}

// schedMutexFlags fails, as gcloud, when a pair's dependent flag is given
// without its flag, then when more than one alternative is given, naming
// the first given.
func schedMutexFlags(fs *pflag.FlagSet, alts []string) error {
	var given []string
	for _, alt := range alts {
		names := schedAltFlags(alt)
		if strings.HasPrefix(alt, "[") && fs.Changed(names[1]) && !fs.Changed(names[0]) {
			return usagef("argument --%s: --%s must be specified.", names[1], names[0])
		}
		if slices.ContainsFunc(names, fs.Changed) {
			given = append(given, alt)
		}
	}
	if len(given) > 1 {
		return usagef("argument %s: At most one of %s can be specified.", given[0], strings.Join(alts, " | "))
	}
	return nil
}

// createJob builds the job gcloud sends on create: every flag with a
// default is sent (time zone, method, retry settings), the rest only when
// given.
func (f *schedHTTPJobFlags) createJob(fs *pflag.FlagSet) *cloudscheduler.Job {
	job := &cloudscheduler.Job{Schedule: f.schedule, TimeZone: f.timeZone, Description: f.description, AttemptDeadline: f.attemptDeadline}
	job.RetryConfig = &cloudscheduler.RetryConfig{
		RetryCount: f.maxRetryAttempts, MaxRetryDuration: f.maxRetryDuration,
		MinBackoffDuration: f.minBackoff, MaxBackoffDuration: f.maxBackoff, MaxDoublings: f.maxDoublings,
		ForceSendFields: []string{"RetryCount", "MaxDoublings"},
	}
	t := &cloudscheduler.HttpTarget{Uri: f.uri, HttpMethod: f.httpMethod, Headers: f.headers, Body: f.body}
	if fs.Changed("oidc-service-account-email") {
		t.OidcToken = &cloudscheduler.OidcToken{ServiceAccountEmail: f.oidcEmail, Audience: f.oidcAudience}
	}
	if fs.Changed("oauth-service-account-email") {
		t.OauthToken = &cloudscheduler.OAuthToken{ServiceAccountEmail: f.oauthEmail, Scope: f.oauthScope}
	}
	job.HttpTarget = t
	return job
}

// updateJob builds the PATCH body and mask from the flags given, as
// gcloud's UpdateHTTPMaskHook does: a --clear-* flag puts its path in the
// mask and nothing in the body. The mask is sorted and without repeats.
func (f *schedHTTPJobFlags) updateJob(fs *pflag.FlagSet) (*cloudscheduler.Job, []string) {
	job := &cloudscheduler.Job{}
	rc := &cloudscheduler.RetryConfig{}
	t := &cloudscheduler.HttpTarget{}
	var mask []string
	given := func(flag, path string) bool {
		if !fs.Changed(flag) {
			return false
		}
		mask = append(mask, strings.Split(path, ",")...)
		return true
	}
	if given("schedule", "schedule") {
		job.Schedule = f.schedule
	}
	if given("time-zone", "timeZone") {
		job.TimeZone = f.timeZone
	}
	given("clear-time-zone", "timeZone")
	if given("description", "description") {
		job.Description = f.description
	}
	if given("attempt-deadline", "attemptDeadline") {
		job.AttemptDeadline = f.attemptDeadline
	}
	if given("max-retry-attempts", "retryConfig.retryCount") {
		rc.RetryCount = f.maxRetryAttempts
		rc.ForceSendFields = append(rc.ForceSendFields, "RetryCount")
	}
	given("clear-max-retry-attempts", "retryConfig.retryCount")
	if given("max-retry-duration", "retryConfig.maxRetryDuration") {
		rc.MaxRetryDuration = f.maxRetryDuration
	}
	given("clear-max-retry-duration", "retryConfig.maxRetryDuration")
	if given("min-backoff", "retryConfig.minBackoffDuration") {
		rc.MinBackoffDuration = f.minBackoff
	}
	given("clear-min-backoff", "retryConfig.minBackoffDuration")
	if given("max-backoff", "retryConfig.maxBackoffDuration") {
		rc.MaxBackoffDuration = f.maxBackoff
	}
	given("clear-max-backoff", "retryConfig.maxBackoffDuration")
	if given("max-doublings", "retryConfig.maxDoublings") {
		rc.MaxDoublings = f.maxDoublings
		rc.ForceSendFields = append(rc.ForceSendFields, "MaxDoublings")
	}
	given("clear-max-doublings", "retryConfig.maxDoublings")
	if given("uri", "httpTarget.uri") {
		t.Uri = f.uri
	}
	if given("http-method", "httpTarget.httpMethod") {
		t.HttpMethod = f.httpMethod
	}
	given("clear-headers", "httpTarget.headers")
	// gcloud's SetHTTPRequestUpdateHeaders: only the changes, each removed
	// header as a null value (the server merges them into the job's);
	// --clear-headers sends the mask alone.
	if given("update-headers", "httpTarget.headers") {
		t.Headers = f.updateHeaders
	}
	if given("remove-headers", "httpTarget.headers") {
		t.ForceSendFields = append(t.ForceSendFields, "Headers")
		for _, k := range f.removeHeaders {
			t.NullFields = append(t.NullFields, "Headers."+k)
		}
	}
	if given("message-body", "httpTarget.body") || given("message-body-from-file", "httpTarget.body") {
		t.Body = f.body
	}
	given("clear-message-body", "httpTarget.body")
	oidcEmail := given("oidc-service-account-email", "httpTarget.oidcToken.serviceAccountEmail")
	oidcAud := given("oidc-token-audience", "httpTarget.oidcToken.audience")
	if oidcEmail || oidcAud {
		t.OidcToken = &cloudscheduler.OidcToken{ServiceAccountEmail: f.oidcEmail, Audience: f.oidcAudience}
	}
	oauthEmail := given("oauth-service-account-email", "httpTarget.oauthToken.serviceAccountEmail")
	oauthScope := given("oauth-token-scope", "httpTarget.oauthToken.scope")
	if oauthEmail || oauthScope {
		t.OauthToken = &cloudscheduler.OAuthToken{ServiceAccountEmail: f.oauthEmail, Scope: f.oauthScope}
	}
	given("clear-auth-token", "httpTarget.oidcToken.serviceAccountEmail,httpTarget.oidcToken.audience,"+
		"httpTarget.oauthToken.serviceAccountEmail,httpTarget.oauthToken.scope")

	if len(rc.ForceSendFields) > 0 || rc.MaxRetryDuration != "" || rc.MinBackoffDuration != "" || rc.MaxBackoffDuration != "" {
		job.RetryConfig = rc
	}
	job.HttpTarget = t // always there, as in gcloud's request
	slices.Sort(mask)
	return job, slices.Compact(mask)
}

func schedURI(flag, v string) (string, error) {
	if !schedURIRule.MatchString(v) {
		return "", usagef("argument %s: Bad value [%s]: Must be a valid HTTP or HTTPS URL.", flag, v)
	}
	return v, nil
}

func schedMethod(flag, v string) (string, error) {
	if slices.Contains(schedHTTPMethods, strings.ToLower(v)) {
		return strings.ToUpper(v), nil
	}
	return "", usagef("argument %s: Invalid choice: '%s'.\n\nValid choices are [%s].", flag, v, strings.Join(schedHTTPMethods, ", "))
}
