package cli

import (
	"encoding/base64"
	"errors"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
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

// schedHTTPJobFlags are the flags of both commands, kept as typed so each can be
// checked with gcloud's error naming it.
type schedHTTPJobFlags struct {
	location string

	schedule, timeZone, description, attemptDeadline       string
	maxRetryAttempts, maxRetryDuration, minBackoff         string
	maxBackoff, maxDoublings                               string
	uri, httpMethod, headers, messageBody, messageBodyFile string
	oidcEmail, oidcAudience, oauthEmail, oauthScope        string
	updateHeaders                                          string
	removeHeaders                                          []string
	clearTimeZone, clearRetryAttempts, clearRetryDuration  bool
	clearMinBackoff, clearMaxBackoff, clearMaxDoublings    bool
	clearMessageBody, clearAuthToken, clearHeaders         bool
}

func schedAddHTTPJobFlags(cmd *cobra.Command, f *schedHTTPJobFlags, create bool) {
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
	fs.StringVar(&f.attemptDeadline, "attempt-deadline", "", "deadline for job attempts, e.g. 20s; 15s to 30m for HTTP targets (server default 180s)")
	fs.StringVar(&f.maxRetryAttempts, "max-retry-attempts", def("0"), "number of times to retry a failed attempt, 0 to 5")
	fs.StringVar(&f.maxRetryDuration, "max-retry-duration", "", "time limit for retrying a failed execution, e.g. 10m; 0 means unlimited")
	fs.StringVar(&f.minBackoff, "min-backoff", def("5s"), "minimum time to wait before retrying a failed attempt")
	fs.StringVar(&f.maxBackoff, "max-backoff", def("3600s"), "maximum time to wait before retrying a failed attempt")
	fs.StringVar(&f.maxDoublings, "max-doublings", def("5"), "times the retry interval doubles before it increases linearly")
	fs.StringVar(&f.uri, "uri", "", "full URI the request is sent to; must begin with http:// or https://")
	fs.StringVar(&f.httpMethod, "http-method", def("post"), "HTTP method of the request: "+strings.Join(schedHTTPMethods, ", "))
	fs.StringVar(&f.messageBody, "message-body", "", "body of the request (only with PUT or POST)")
	fs.StringVar(&f.messageBodyFile, "message-body-from-file", "", "file holding the body of the request (only with PUT or POST)")
	fs.StringVar(&f.oidcEmail, "oidc-service-account-email", "", "service account whose OIDC ID token the request carries")
	fs.StringVar(&f.oidcAudience, "oidc-token-audience", "", "audience of the OIDC token; defaults to --uri")
	fs.StringVar(&f.oauthEmail, "oauth-service-account-email", "", "service account whose OAuth access token the request carries (for *.googleapis.com)")
	fs.StringVar(&f.oauthScope, "oauth-token-scope", "", "scope of the OAuth token; defaults to https://www.googleapis.com/auth/cloud-platform")
	if create {
		fs.StringVar(&f.headers, "headers", "", "KEY=VALUE pairs of HTTP headers to include in the request, e.g. Accept-Language=en-us,Accept=text/plain")
		return
	}
	fs.BoolVar(&f.clearTimeZone, "clear-time-zone", false, "clear the time zone (UTC)")
	fs.BoolVar(&f.clearRetryAttempts, "clear-max-retry-attempts", false, "clear --max-retry-attempts")
	fs.BoolVar(&f.clearRetryDuration, "clear-max-retry-duration", false, "clear --max-retry-duration")
	fs.BoolVar(&f.clearMinBackoff, "clear-min-backoff", false, "clear --min-backoff")
	fs.BoolVar(&f.clearMaxBackoff, "clear-max-backoff", false, "clear --max-backoff")
	fs.BoolVar(&f.clearMaxDoublings, "clear-max-doublings", false, "clear --max-doublings")
	fs.BoolVar(&f.clearMessageBody, "clear-message-body", false, "clear the request body")
	fs.BoolVar(&f.clearAuthToken, "clear-auth-token", false, "clear the OIDC and OAuth token fields")
	fs.BoolVar(&f.clearHeaders, "clear-headers", false, "clear the list of HTTP headers")
	fs.StringVar(&f.updateHeaders, "update-headers", "", "KEY=VALUE pairs of HTTP headers to add or change, e.g. Accept-Language=en-us,Accept=text/plain")
	fs.StringSliceVar(&f.removeHeaders, "remove-headers", nil, "KEY1,KEY2 list of HTTP headers to remove")
}

func schedulerCreateHTTPCmd(g *Globals) *cobra.Command {
	var f schedHTTPJobFlags
	cmd := &cobra.Command{
		Use:   "http JOB --schedule=SCHEDULE --uri=URI",
		Short: "Create a Cloud Scheduler job that triggers an action via HTTP.",
		Args:  schedulerJobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if err := schedCheckHTTPJobFlags(fs, true); err != nil {
				return err
			}
			job, err := f.createJob(fs)
			if err != nil {
				return err
			}
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
	schedAddHTTPJobFlags(cmd, &f, true)
	return cmd
}

func schedulerUpdateHTTPCmd(g *Globals) *cobra.Command {
	var f schedHTTPJobFlags
	cmd := &cobra.Command{
		Use:   "http JOB",
		Short: "Update a Cloud Scheduler job that triggers an action via HTTP.",
		Args:  schedulerJobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if err := schedCheckHTTPJobFlags(fs, false); err != nil {
				return err
			}
			job, mask, err := f.updateJob(fs)
			if err != nil {
				return err
			}
			if len(mask) == 0 {
				return errors.New("Must specify at least one valid parameter to update.")
			}
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
	schedAddHTTPJobFlags(cmd, &f, false)
	return cmd
}

// schedCheckHTTPJobFlags enforces gcloud's required flags and argument groups.
func schedCheckHTTPJobFlags(fs *pflag.FlagSet, create bool) error {
	if create {
		var missing []string
		for _, n := range []string{"schedule", "uri"} {
			if !fs.Changed(n) {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			return usagef("argument %s: Must be specified.", strings.Join(missing, " "))
		}
	}
	groups := [][][]string{
		{{"message-body"}, {"message-body-from-file"}, {"clear-message-body"}},
		{{"oidc-service-account-email", "oidc-token-audience"}, {"oauth-service-account-email", "oauth-token-scope"}, {"clear-auth-token"}},
		{{"clear-headers"}, {"update-headers", "remove-headers"}},
		{{"time-zone"}, {"clear-time-zone"}},
		{{"max-retry-attempts"}, {"clear-max-retry-attempts"}},
		{{"max-retry-duration"}, {"clear-max-retry-duration"}},
		{{"min-backoff"}, {"clear-min-backoff"}},
		{{"max-backoff"}, {"clear-max-backoff"}},
		{{"max-doublings"}, {"clear-max-doublings"}},
	}
	for _, grp := range groups {
		if err := schedMutexFlags(fs, grp); err != nil {
			return err
		}
	}
	// Within the token groups the account is required.
	for _, pair := range [][2]string{{"oidc-token-audience", "oidc-service-account-email"}, {"oauth-token-scope", "oauth-service-account-email"}} {
		if fs.Changed(pair[0]) && !fs.Changed(pair[1]) {
			return usagef("argument --%s: Must be specified.", pair[1])
		}
	}
	return nil
}

// schedMutexFlags fails when flags of more than one alternative are given, with
// gcloud's "At most one of ... may be specified.".
func schedMutexFlags(fs *pflag.FlagSet, alts [][]string) error {
	first := -1
	for i, alt := range alts {
		for _, n := range alt {
			if !fs.Changed(n) {
				continue
			}
			if first >= 0 && first != i {
				return usagef("argument --%s: At most one of %s may be specified.", n, strings.Join(schedAltNames(fs, alts), " | "))
			}
			first = i
		}
	}
	return nil
}

func schedAltNames(fs *pflag.FlagSet, alts [][]string) []string {
	var out []string
	for _, alt := range alts {
		var shown []string
		for _, n := range alt {
			if fs.Lookup(n) != nil {
				shown = append(shown, "--"+n)
			}
		}
		if len(shown) > 0 {
			out = append(out, strings.Join(shown, " "))
		}
	}
	return out
}

// createJob builds the job gcloud sends on create: every flag with a
// default is sent (time zone, method, retry settings), the rest only when
// given.
func (f *schedHTTPJobFlags) createJob(fs *pflag.FlagSet) (*cloudscheduler.Job, error) {
	job := &cloudscheduler.Job{Schedule: f.schedule, TimeZone: f.timeZone, Description: f.description}
	var err error
	if fs.Changed("attempt-deadline") {
		if job.AttemptDeadline, err = schedDurationFlag("attempt-deadline", f.attemptDeadline); err != nil {
			return nil, err
		}
	}
	rc := &cloudscheduler.RetryConfig{ForceSendFields: []string{"RetryCount", "MaxDoublings"}}
	if rc.RetryCount, err = schedRetryAttemptsFlag(f.maxRetryAttempts); err != nil {
		return nil, err
	}
	if fs.Changed("max-retry-duration") {
		if rc.MaxRetryDuration, err = schedDurationFlag("max-retry-duration", f.maxRetryDuration); err != nil {
			return nil, err
		}
	}
	if rc.MinBackoffDuration, err = schedDurationFlag("min-backoff", f.minBackoff); err != nil {
		return nil, err
	}
	if rc.MaxBackoffDuration, err = schedDurationFlag("max-backoff", f.maxBackoff); err != nil {
		return nil, err
	}
	if rc.MaxDoublings, err = schedIntFlag("max-doublings", f.maxDoublings); err != nil {
		return nil, err
	}
	job.RetryConfig = rc
	t := &cloudscheduler.HttpTarget{}
	if err := schedURIFlag(f.uri); err != nil {
		return nil, err
	}
	t.Uri = f.uri
	if t.HttpMethod, err = schedMethodFlag(f.httpMethod); err != nil {
		return nil, err
	}
	if fs.Changed("headers") {
		if t.Headers, err = schedDictFlag("headers", f.headers); err != nil {
			return nil, err
		}
	}
	if t.Body, err = f.body(fs); err != nil {
		return nil, err
	}
	if fs.Changed("oidc-service-account-email") {
		t.OidcToken = &cloudscheduler.OidcToken{ServiceAccountEmail: f.oidcEmail, Audience: f.oidcAudience}
	}
	if fs.Changed("oauth-service-account-email") {
		t.OauthToken = &cloudscheduler.OAuthToken{ServiceAccountEmail: f.oauthEmail, Scope: f.oauthScope}
	}
	job.HttpTarget = t
	return job, nil
}

// updateJob builds the PATCH body and mask from the flags given, as
// gcloud's UpdateHTTPMaskHook does: a --clear-* flag puts its path in the
// mask and nothing in the body. The mask is sorted and without repeats.
func (f *schedHTTPJobFlags) updateJob(fs *pflag.FlagSet) (*cloudscheduler.Job, []string, error) {
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
	var err error
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
		if job.AttemptDeadline, err = schedDurationFlag("attempt-deadline", f.attemptDeadline); err != nil {
			return nil, nil, err
		}
	}
	if given("max-retry-attempts", "retryConfig.retryCount") {
		if rc.RetryCount, err = schedRetryAttemptsFlag(f.maxRetryAttempts); err != nil {
			return nil, nil, err
		}
		rc.ForceSendFields = append(rc.ForceSendFields, "RetryCount")
	}
	given("clear-max-retry-attempts", "retryConfig.retryCount")
	if given("max-retry-duration", "retryConfig.maxRetryDuration") {
		if rc.MaxRetryDuration, err = schedDurationFlag("max-retry-duration", f.maxRetryDuration); err != nil {
			return nil, nil, err
		}
	}
	given("clear-max-retry-duration", "retryConfig.maxRetryDuration")
	if given("min-backoff", "retryConfig.minBackoffDuration") {
		if rc.MinBackoffDuration, err = schedDurationFlag("min-backoff", f.minBackoff); err != nil {
			return nil, nil, err
		}
	}
	given("clear-min-backoff", "retryConfig.minBackoffDuration")
	if given("max-backoff", "retryConfig.maxBackoffDuration") {
		if rc.MaxBackoffDuration, err = schedDurationFlag("max-backoff", f.maxBackoff); err != nil {
			return nil, nil, err
		}
	}
	given("clear-max-backoff", "retryConfig.maxBackoffDuration")
	if given("max-doublings", "retryConfig.maxDoublings") {
		if rc.MaxDoublings, err = schedIntFlag("max-doublings", f.maxDoublings); err != nil {
			return nil, nil, err
		}
		rc.ForceSendFields = append(rc.ForceSendFields, "MaxDoublings")
	}
	given("clear-max-doublings", "retryConfig.maxDoublings")
	if given("uri", "httpTarget.uri") {
		if err := schedURIFlag(f.uri); err != nil {
			return nil, nil, err
		}
		t.Uri = f.uri
	}
	if given("http-method", "httpTarget.httpMethod") {
		if t.HttpMethod, err = schedMethodFlag(f.httpMethod); err != nil {
			return nil, nil, err
		}
	}
	given("clear-headers", "httpTarget.headers")
	// gcloud's SetHTTPRequestUpdateHeaders: only the changes, each removed
	// header as a null value (the server merges them into the job's);
	// --clear-headers sends the mask alone.
	if given("update-headers", "httpTarget.headers") {
		if t.Headers, err = schedDictFlag("update-headers", f.updateHeaders); err != nil {
			return nil, nil, err
		}
	}
	if given("remove-headers", "httpTarget.headers") {
		t.ForceSendFields = append(t.ForceSendFields, "Headers")
		for _, k := range f.removeHeaders {
			t.NullFields = append(t.NullFields, "Headers."+k)
		}
	}
	if given("message-body", "httpTarget.body") || given("message-body-from-file", "httpTarget.body") {
		if t.Body, err = f.body(fs); err != nil {
			return nil, nil, err
		}
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
	return job, slices.Compact(mask), nil
}

// body is --message-body or the bytes of --message-body-from-file, base64
// as the JSON API carries bytes.
func (f *schedHTTPJobFlags) body(fs *pflag.FlagSet) (string, error) {
	switch {
	case fs.Changed("message-body"):
		return base64.StdEncoding.EncodeToString([]byte(f.messageBody)), nil
	case fs.Changed("message-body-from-file"):
		b, err := os.ReadFile(f.messageBodyFile)
		if err != nil {
			return "", usagef("argument --message-body-from-file: Unable to read file [%s]: %v", f.messageBodyFile, errors.Unwrap(err))
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", nil
}

func schedURIFlag(v string) error {
	if !schedURIRule.MatchString(v) {
		return usagef("argument --uri: Bad value [%s]: Must be a valid HTTP or HTTPS URL.", v)
	}
	return nil
}

func schedMethodFlag(v string) (string, error) {
	if slices.Contains(schedHTTPMethods, strings.ToLower(v)) {
		return strings.ToUpper(v), nil
	}
	return "", usagef("argument --http-method: Invalid choice: '%s'. Valid choices are [%s].", v, strings.Join(schedHTTPMethods, ", "))
}

func schedIntFlag(flag, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, usagef("argument --%s: invalid int value: '%s'", flag, v)
	}
	return n, nil
}

func schedRetryAttemptsFlag(v string) (int64, error) {
	n, err := schedIntFlag("max-retry-attempts", v)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 5 {
		return 0, usagef("argument --max-retry-attempts: Value must be greater than or equal to 0 and less than or equal to 5; received: %d", n)
	}
	return n, nil
}

// schedDurationFlag parses gcloud's duration forms (a number of seconds, or
// numbers with units s, m, h, d such as 1h30m or 2.5s) into the API's
// "Ns" JSON form.
func schedDurationFlag(flag, v string) (string, error) {
	secs, ok := schedParseDuration(v)
	if !ok {
		return "", usagef("argument --%s: Failed to parse duration: [%s]; give seconds or a number with a unit s, m, h or d, e.g. 20s, 10m, 1h.", flag, v)
	}
	return strconv.FormatFloat(secs, 'f', -1, 64) + "s", nil
}

func schedParseDuration(v string) (float64, bool) {
	s := strings.ToLower(strings.TrimSpace(v))
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return n, n >= 0 && !math.IsInf(n, 0) && !math.IsNaN(n)
	}
	units := map[byte]float64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
	total := 0.0
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, false
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		mult, ok := units[s[i]]
		if err != nil || !ok {
			return 0, false
		}
		total += n * mult
		s = s[i+1:]
	}
	return total, true
}

// schedDictFlag parses gcloud's ArgDict: KEY=VALUE pairs split on commas, or on
// the delimiter D of a value written "^D^KEY=VALUE D KEY=VALUE".
func schedDictFlag(flag, v string) (map[string]string, error) {
	out := map[string]string{}
	sep := ","
	if strings.HasPrefix(v, "^") {
		if end := strings.Index(v[1:], "^"); end > 0 {
			sep, v = v[1:1+end], v[2+end:]
		}
	}
	// gcloud drops one trailing delimiter ("A=1," is {A: 1}; "A=1,," is
	// still bad syntax).
	v = strings.TrimSuffix(v, sep)
	if v == "" {
		return out, nil
	}
	for _, kv := range strings.Split(v, sep) {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("argument --%s: Bad syntax for dict arg: [%s]. Give KEY=VALUE pairs separated by commas, e.g. Accept=text/plain,X-Trace=1.", flag, kv)
		}
		out[k] = val
	}
	return out, nil
}
