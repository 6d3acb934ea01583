package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/api/rest"
	"github.com/oidcron/oidcron/internal/cron"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// Engine is what the scheduler API needs of the dispatch engine.
type Engine interface {
	// Changed tells the engine the job was written (or deleted).
	Changed(name string)
	// RunNow dispatches the job at once, even while it is running.
	RunNow(ctx context.Context, name string) error
	// Attempts returns the job's recorded attempts, newest first.
	Attempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error)
}

// Google's limits and defaults for jobs (reference §1.3-1.7).
const (
	maxDescription     = 500
	maxURILength       = 2083
	maxHeaderBytes     = 80 * 1024
	maxJobPageSize     = 500
	maxJobBytes        = 1 << 20
	defaultDeadline    = 180 * time.Second
	minDeadline        = 15 * time.Second
	maxDeadline        = 30 * time.Minute
	maxRetryCount      = 5
	defaultMinBackoff  = 5 * time.Second
	defaultMaxBackoff  = time.Hour
	defaultMaxDoubling = 5
	msgBadSchedule     = "Schedule or time zone is invalid."
	userAgent          = "Google-Cloud-Scheduler"
)

var jobIDRule = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)

// Scheduler implements google.cloud.scheduler.v1.CloudScheduler.
type Scheduler struct {
	schedulerpb.UnimplementedCloudSchedulerServer
	s *Server
}

// parseJobName splits "projects/P/locations/L/jobs/J".
func parseJobName(field, name string) (project, location, job string, err error) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "jobs" || p[1] == "" || p[3] == "" {
		return "", "", "", invalid("%s: %q is not a job name of the form projects/PROJECT_ID/locations/LOCATION_ID/jobs/JOB_ID.", field, name)
	}
	if !jobIDRule.MatchString(p[5]) {
		return "", "", "", invalid("%s: the job id %q is invalid: it may contain only letters ([A-Za-z]), numbers ([0-9]), hyphens (-) and underscores (_), and be at most 500 characters.", field, p[5])
	}
	return p[1], p[3], p[5], nil
}

func jobNotFound() error { return status.Error(codes.NotFound, "Job not found.") }

// job resolves a job name and checks permission on its project (Cloud
// Scheduler has no per-job IAM).
func (s *Server) job(ctx context.Context, name, permission string) (store.JobRecord, string, error) {
	return s.jobAt(ctx, "name", name, permission)
}

// jobAt is job for a name held in the request's field (UpdateJob's is
// job.name), which its errors name.
func (s *Server) jobAt(ctx context.Context, field, name, permission string) (store.JobRecord, string, error) {
	proj, loc, id, err := parseJobName(field, name)
	if err != nil {
		return store.JobRecord{}, "", err
	}
	projectID := ""
	r, err := resolveIn(ctx, s, proj, permission, func() error { return deniedPrincipal(permission, name) },
		func(pid string) (store.JobRecord, string, error) {
			projectID = pid
			r, err := s.st.GetJob(ctx, iam.JobResource(pid, loc, id))
			return r, iam.ProjectResource(pid), err // no per-job IAM: the project decides
		},
		func(string) error { return jobNotFound() })
	return r, projectID, err
}

// validateJob checks a job as it will be stored and fills Google's stored
// defaults. project is the job's project id.
func (s *Server) validateJob(ctx context.Context, j *schedulerpb.Job, project string, checkAuth bool) error {
	if n := proto.Size(j); n > maxJobBytes {
		return invalid("job: %d bytes; a job may be at most 1 MB.", n)
	}
	if len([]rune(j.GetDescription())) > maxDescription {
		return invalid("description: must be at most %d characters; it has %d.", maxDescription, len([]rune(j.GetDescription())))
	}
	switch j.GetTarget().(type) {
	case *schedulerpb.Job_HttpTarget:
	case *schedulerpb.Job_PubsubTarget:
		return invalid("pubsub_target: Pub/Sub targets are not supported by oidcron; use http_target.")
	case *schedulerpb.Job_AppEngineHttpTarget:
		return invalid("app_engine_http_target: App Engine targets are not supported by oidcron; use http_target.")
	default:
		return invalid("target: a job needs a target; oidcron supports http_target.")
	}
	t := j.GetHttpTarget()
	if err := validateURI(t.GetUri()); err != nil {
		return err
	}
	if t.HttpMethod == schedulerpb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
		t.HttpMethod = schedulerpb.HttpMethod_POST
	}
	// gRPC carries any number in an enum field; one HttpMethod does not
	// name would otherwise be stored and sent as POST.
	if _, known := schedulerpb.HttpMethod_name[int32(t.HttpMethod)]; !known {
		return invalid("http_target.http_method: %d is not an HttpMethod.", int32(t.HttpMethod))
	}
	if len(t.GetBody()) > 0 {
		switch t.GetHttpMethod() {
		case schedulerpb.HttpMethod_POST, schedulerpb.HttpMethod_PUT, schedulerpb.HttpMethod_PATCH:
		default:
			return invalid("http_target.body: a body is allowed only with POST, PUT or PATCH, not %s.", t.GetHttpMethod())
		}
	}
	if t.Headers == nil {
		t.Headers = map[string]string{}
	}
	for k := range t.Headers {
		switch lk := strings.ToLower(k); {
		case lk == "host" || lk == "content-length":
			delete(t.Headers, k) // computed from the request, as Google does
		case lk == "user-agent":
			delete(t.Headers, k)
		case strings.HasPrefix(lk, "x-google-") || strings.HasPrefix(lk, "x-appengine-"):
			// "Google internal use only": ignored, as Host is (the
			// dispatcher would not send them either).
			delete(t.Headers, k)
		}
	}
	if err := checkRepeatedHeaders(t.Headers); err != nil {
		return err
	}
	t.Headers["User-Agent"] = userAgent
	if len(t.GetBody()) > 0 && !hasHeader(t.Headers, "Content-Type") {
		t.Headers["Content-Type"] = "application/octet-stream"
	}
	size := 0
	for k, v := range t.Headers {
		size += len(k) + len(v)
	}
	if size >= maxHeaderBytes {
		return invalid("http_target.headers: the headers total %d bytes; they must be under 80 KB.", size)
	}
	if checkAuth {
		if err := s.validateAuth(ctx, t, project); err != nil {
			return err
		}
	}
	loc, err := cron.CheckZone(j.GetTimeZone())
	if err != nil || j.GetSchedule() == "" {
		return invalid(msgBadSchedule)
	}
	if _, err := cron.Parse(j.GetSchedule(), loc); err != nil {
		return invalid(msgBadSchedule)
	}
	if err := fillRetryConfig(j); err != nil {
		return err
	}
	if err := j.GetAttemptDeadline().CheckValid(); j.AttemptDeadline != nil && err != nil {
		// AsDuration would read it as some in-range value, and the job
		// could then not be written as JSON.
		return invalid("attempt_deadline: %v.", err)
	}
	if j.AttemptDeadline == nil || j.AttemptDeadline.AsDuration() == 0 {
		j.AttemptDeadline = durationpb.New(defaultDeadline)
	}
	if d := j.AttemptDeadline.AsDuration(); d < minDeadline || d > maxDeadline {
		return invalid("attempt_deadline: %s is out of range: for an HTTP target it must be between 15s and 30m.", durationString(j.AttemptDeadline))
	}
	return nil
}

// checkRepeatedHeaders refuses two keys that name one header: HTTP header
// names are case-insensitive, and "repeated headers are not supported";
// stored side by side, which one is sent would be chance.
func checkRepeatedHeaders(h map[string]string) error {
	if len(h) < 2 {
		return nil
	}
	seen := make(map[string]string, len(h))
	for k := range h {
		c := strings.ToLower(k)
		if other, ok := seen[c]; ok {
			a, b := min(k, other), max(k, other)
			return invalid("http_target.headers: %q and %q are the same header; repeated headers are not supported.", a, b)
		}
		seen[c] = k
	}
	return nil
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func validateURI(uri string) error {
	if uri == "" {
		return invalid("http_target.uri: required.")
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("http_target.uri: %q must be an absolute URL beginning with http:// or https://.", uri)
	}
	if n := len(u.String()); n > maxURILength {
		return invalid("http_target.uri: %d characters after encoding; at most %d are allowed.", n, maxURILength)
	}
	return nil
}

// validateAuth enforces Google's rules on the token a job sends: the
// caller may act as the account, and the account exists in the job's
// project. Permission comes first, as at Google: a caller without
// iam.serviceAccounts.actAs learns nothing about the account, not even
// whether it exists. actAs is checked on the account when it lives in the
// job's project, and on that project otherwise (an account that does not
// exist, or one of another project, which a job may not use anyway), so the
// answer never depends on whether an account exists outside what the caller
// may act as; the message for an account outside the project is worded from
// its email alone.
func (s *Server) validateAuth(ctx context.Context, t *schedulerpb.HttpTarget, project string) error {
	var email, field string
	switch a := t.GetAuthorizationHeader().(type) {
	case *schedulerpb.HttpTarget_OidcToken:
		email, field = a.OidcToken.GetServiceAccountEmail(), "http_target.oidc_token"
	case *schedulerpb.HttpTarget_OauthToken:
		email, field = a.OauthToken.GetServiceAccountEmail(), "http_target.oauth_token"
	default:
		return nil
	}
	if !strings.Contains(email, "@") {
		return invalid("%s.service_account_email: %q must be a service account's email.", field, email)
	}
	sa, err := s.dir.ServiceAccount(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return internal(err)
	}
	inProject := err == nil && sa.GetProjectId() == project
	resource := iam.ProjectResource(project)
	if inProject {
		resource = iam.ServiceAccountResource(project, sa.GetEmail())
	}
	if err := s.check(ctx, "iam.serviceAccounts.actAs", resource, func() error {
		return deniedPrincipal("iam.serviceAccounts.actAs", email)
	}); err != nil {
		return err
	}
	switch {
	case inProject:
		return nil
	case strings.HasSuffix(strings.ToLower(email), "@"+project+".iam.gserviceaccount.com"):
		return invalid("%s.service_account_email: service account %s does not exist in project %s.", field, email, project)
	default:
		return invalid("%s.service_account_email: %s must be a service account in the job's project %s.", field, email, project)
	}
}

// fillRetryConfig validates retry_config and stores Google's defaults.
func fillRetryConfig(j *schedulerpb.Job) error {
	rc := j.GetRetryConfig()
	if rc == nil {
		rc = &schedulerpb.RetryConfig{}
		j.RetryConfig = rc
	}
	if rc.RetryCount < 0 || rc.RetryCount > maxRetryCount {
		return invalid("retry_config.retry_count: %d is out of range: values greater than 5 and negative values are not allowed.", rc.RetryCount)
	}
	for _, d := range []struct {
		name string
		v    *durationpb.Duration
	}{{"max_retry_duration", rc.MaxRetryDuration}, {"min_backoff_duration", rc.MinBackoffDuration}, {"max_backoff_duration", rc.MaxBackoffDuration}} {
		if d.v != nil && (d.v.CheckValid() != nil || d.v.AsDuration() < 0) {
			return invalid("retry_config.%s: must be a non-negative duration.", d.name)
		}
	}
	if rc.MaxDoublings < 0 {
		return invalid("retry_config.max_doublings: must not be negative.")
	}
	if rc.MaxRetryDuration == nil {
		rc.MaxRetryDuration = durationpb.New(0)
	}
	if rc.MinBackoffDuration == nil || rc.MinBackoffDuration.AsDuration() == 0 {
		rc.MinBackoffDuration = durationpb.New(defaultMinBackoff)
	}
	if rc.MaxBackoffDuration == nil || rc.MaxBackoffDuration.AsDuration() == 0 {
		rc.MaxBackoffDuration = durationpb.New(defaultMaxBackoff)
	}
	if rc.MinBackoffDuration.AsDuration() > rc.MaxBackoffDuration.AsDuration() {
		return invalid("retry_config: min_backoff_duration (%s) must not exceed max_backoff_duration (%s).", durationString(rc.MinBackoffDuration), durationString(rc.MaxBackoffDuration))
	}
	if rc.MaxDoublings == 0 {
		// proto3 cannot tell 0 from unset: 0 means Google's default.
		rc.MaxDoublings = defaultMaxDoubling
	}
	return nil
}

func durationString(d *durationpb.Duration) string {
	return fmt.Sprintf("%gs", d.AsDuration().Seconds())
}

// nextFire is the first slot of j's schedule after t (zero: never).
func nextFire(j *schedulerpb.Job, t time.Time) time.Time {
	loc, err := cron.LoadZone(j.GetTimeZone())
	if err != nil {
		return time.Time{}
	}
	sch, err := cron.Parse(j.GetSchedule(), loc)
	if err != nil {
		return time.Time{}
	}
	return sch.Next(t)
}

// schedule sets the engine fields of r from its job's state at now. The
// next slot is never at or before the last one fired (r.LastSlot): this
// clock may be behind the one that fired it (another replica's, or this
// one's before it stepped back), and the slot would fire twice.
func schedule(r *store.JobRecord, now time.Time) {
	r.NextFire = time.Time{}
	if r.Job.GetState() == schedulerpb.Job_ENABLED {
		r.NextFire = nextFire(r.Job, store.Later(now, r.LastSlot))
	}
	r.DueTime = r.NextFire
	if r.Exec != nil && !r.Exec.NextAttempt.IsZero() && r.Job.GetState() == schedulerpb.Job_ENABLED {
		r.DueTime = r.Exec.NextAttempt
	}
	r.Job.ScheduleTime = nil
	if !r.DueTime.IsZero() {
		r.Job.ScheduleTime = timestamppb.New(r.DueTime)
	}
}

func (s *Server) changed(name string) {
	if s.cfg.Engine != nil {
		s.cfg.Engine.Changed(name)
	}
}

func (x *Scheduler) CreateJob(ctx context.Context, req *schedulerpb.CreateJobRequest) (*schedulerpb.Job, error) {
	proj, loc, err := parseLocationName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	deny := func() error { return deniedPrincipal("cloudscheduler.jobs.create", req.GetParent()) }
	p, err := x.s.project(ctx, proj)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deny()
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := x.s.check(ctx, "cloudscheduler.jobs.create", iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	if !slices.Contains(x.s.regions(), loc) {
		return nil, invalid("parent: %q is not one of Cloud Scheduler's locations (ListLocations lists them).", loc)
	}
	j := proto.Clone(req.GetJob()).(*schedulerpb.Job)
	if j == nil || req.GetJob() == nil {
		return nil, invalid("job: required.")
	}
	id := ""
	if j.GetName() != "" {
		jp, jl, jid, err := parseJobName("job.name", j.GetName())
		if err != nil {
			return nil, err
		}
		if "projects/"+jp+"/locations/"+jl != req.GetParent() {
			return nil, invalid("job.name: %q is not in the parent %q.", j.GetName(), req.GetParent())
		}
		id = jid
	} else {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b) // "the system will generate a random unique name"
	}
	if err := x.s.validateJob(ctx, j, p.GetProjectId(), true); err != nil {
		return nil, err
	}
	now := x.s.clk.Now()
	j.Name = iam.JobResource(p.GetProjectId(), loc, id)
	j.State = schedulerpb.Job_ENABLED
	j.UserUpdateTime = timestamppb.New(now.Truncate(time.Microsecond)) // Google shows microseconds
	j.Status, j.LastAttemptTime = nil, nil
	r := store.JobRecord{Job: j}
	schedule(&r, now)
	err = x.s.write(ctx, func(tx store.Tx) error { return tx.CreateJob(ctx, r) })
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, status.Errorf(codes.AlreadyExists, "Job %s already exists.", j.GetName())
	}
	if err != nil {
		return nil, storeErr(err)
	}
	x.s.changed(j.GetName())
	x.s.log.Info("job created", "job", j.GetName(), "schedule", j.GetSchedule(), "time_zone", j.GetTimeZone(), "by", SubjectFrom(ctx).Member)
	return j, nil
}

func (x *Scheduler) GetJob(ctx context.Context, req *schedulerpb.GetJobRequest) (*schedulerpb.Job, error) {
	r, _, err := x.s.job(ctx, req.GetName(), "cloudscheduler.jobs.get")
	if err != nil {
		return nil, err
	}
	return r.Job, nil
}

func (x *Scheduler) ListJobs(ctx context.Context, req *schedulerpb.ListJobsRequest) (*schedulerpb.ListJobsResponse, error) {
	proj, loc, err := parseLocationName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	deny := func() error { return deniedPrincipal("cloudscheduler.jobs.list", req.GetParent()) }
	p, err := x.s.project(ctx, proj)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deny()
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := x.s.check(ctx, "cloudscheduler.jobs.list", iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), maxJobPageSize, maxJobPageSize) // unspecified means the maximum
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	list, err := x.s.st.ListJobs(ctx, p.GetProjectId(), loc, store.Page{Size: size + 1, After: after})
	if err != nil {
		return nil, internal(err)
	}
	page, next := pageOf(list, size, func(r store.JobRecord) string { return r.Job.GetName() })
	resp := &schedulerpb.ListJobsResponse{NextPageToken: next}
	for _, r := range page {
		resp.Jobs = append(resp.Jobs, r.Job)
	}
	return resp, nil
}

// outputOnly are the Job fields an update ignores, as Google does.
var outputOnly = map[string]bool{"user_update_time": true, "state": true, "status": true, "schedule_time": true, "last_attempt_time": true, "name": true}

func (x *Scheduler) UpdateJob(ctx context.Context, req *schedulerpb.UpdateJobRequest) (*schedulerpb.Job, error) {
	in := req.GetJob()
	if in.GetName() == "" {
		return nil, invalid("job.name: required.")
	}
	r, project, err := x.s.jobAt(ctx, "job.name", in.GetName(), "cloudscheduler.jobs.update")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range req.GetUpdateMask().GetPaths() {
		if !outputOnly[p] {
			paths = append(paths, p)
		}
	}
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		// No mask: the fields the request sets replace the job's (AIP-134).
		in.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if name := string(fd.Name()); !outputOnly[name] {
				paths = append(paths, name)
			}
			return true
		})
	}
	if bad := applyMask(proto.Clone(r.Job), in, paths); bad != "" {
		return nil, invalid("Invalid mask for Job: %s", bad)
	}
	plain, tokenPaths := splitTokenPaths(paths)
	mergeHeaders := slices.Contains(plain, headersPath)
	plain = slices.DeleteFunc(plain, func(p string) bool { return p == headersPath })
	removed := removedHeaders(ctx)
	out, err := x.s.updateJob(ctx, r, func(next *schedulerpb.Job) (*schedulerpb.Job, error) {
		before := proto.Clone(next).(*schedulerpb.Job).GetHttpTarget()
		applyMask(next, in, plain)
		if mergeHeaders {
			// Merged one by one, a pair would leave whichever came last.
			if err := checkRepeatedHeaders(in.GetHttpTarget().GetHeaders()); err != nil {
				return nil, err
			}
			applyHeaders(next, in.GetHttpTarget().GetHeaders(), removed)
		}
		if err := applyTokenMask(next, in.GetHttpTarget(), tokenPaths); err != nil {
			return nil, err
		}
		if t := next.GetHttpTarget(); t != nil {
			if o := t.GetOidcToken(); o != nil && o.GetServiceAccountEmail() == "" && o.GetAudience() == "" {
				t.AuthorizationHeader = nil // gcloud --clear-auth-token sends the emptied fields
			}
			if o := t.GetOauthToken(); o != nil && o.GetServiceAccountEmail() == "" && o.GetScope() == "" {
				t.AuthorizationHeader = nil
			}
		}
		// actAs is asked again only when the token could reach someone new:
		// another account, audience or scope, or another URI (the audience
		// defaults to it).
		after := next.GetHttpTarget()
		authChanged := !proto.Equal(before.GetOidcToken(), after.GetOidcToken()) ||
			!proto.Equal(before.GetOauthToken(), after.GetOauthToken()) || before.GetUri() != after.GetUri()
		if err := x.s.validateJob(ctx, next, project, authChanged); err != nil {
			return nil, err
		}
		next.UserUpdateTime = timestamppb.New(x.s.clk.Now().Truncate(time.Microsecond))
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	x.s.log.Info("job updated", "job", out.GetName(), "mask", strings.Join(paths, ","), "by", SubjectFrom(ctx).Member)
	return out, nil
}

// Headers under the mask path http_target.headers merge, as gcloud's
// `scheduler jobs update http` expects: it sends only the headers that
// --update-headers changes, and a removed header (--remove-headers) as a
// null value in the REST body; --clear-headers sends the path with no
// headers at all. So the request's map is merged into the job's (a key
// replaces the job's header of that name, matched case-insensitively as
// HTTP does), the keys whose value was null are removed, and a request
// with neither clears the map. (Google documents none of this; a replace
// would make --update-headers wipe the other headers.) Defaults the server
// sets come back as on create: User-Agent always, Content-Type with a body.
// Over gRPC a map value cannot be null: removing a header there means
// clearing the map and setting the rest again. A mask naming http_target
// as a whole replaces the target, headers included.

const headersPath = "http_target.headers"

// removedHeadersKey carries, in a REST call's context, the header names
// UpdateJob's body hook took out of the body (their values were null).
type removedHeadersKey struct{}

func removedHeaders(ctx context.Context) []string {
	v, _ := ctx.Value(removedHeadersKey{}).([]string)
	return v
}

// RESTBodyHooks gives the transcoder UpdateJob's hook: protojson refuses
// null map values, so the null headers are taken out of the body first and
// their names passed on in the context.
func (x *Scheduler) RESTBodyHooks() map[string]rest.BodyHook {
	return map[string]rest.BodyHook{"UpdateJob": stripNullHeaders}
}

// stripNullHeaders removes the null values of httpTarget.headers (or
// http_target.headers) from a Job's JSON and records their keys. A body it
// cannot read is returned as it is, for the transcoder to report.
func stripNullHeaders(ctx context.Context, body []byte) (context.Context, []byte, error) {
	var job map[string]json.RawMessage
	if json.Unmarshal(body, &job) != nil {
		return ctx, body, nil
	}
	var removed []string
	for _, tk := range []string{"httpTarget", "http_target"} {
		var target map[string]json.RawMessage
		if json.Unmarshal(job[tk], &target) != nil || target == nil {
			continue
		}
		var headers map[string]json.RawMessage
		if json.Unmarshal(target["headers"], &headers) != nil || headers == nil {
			continue
		}
		n := len(removed)
		for k, v := range headers {
			if string(bytes.TrimSpace(v)) == "null" {
				removed = append(removed, k)
				delete(headers, k)
			}
		}
		if len(removed) == n {
			continue
		}
		var err error
		if target["headers"], err = json.Marshal(headers); err != nil {
			return ctx, body, nil
		}
		if job[tk], err = json.Marshal(target); err != nil {
			return ctx, body, nil
		}
	}
	if len(removed) == 0 {
		return ctx, body, nil
	}
	out, err := json.Marshal(job)
	if err != nil {
		return ctx, body, nil
	}
	slices.Sort(removed)
	return context.WithValue(ctx, removedHeadersKey{}, removed), out, nil
}

// applyHeaders merges set into the job's headers and removes the names in
// remove (both case-insensitively); with neither, it clears them.
func applyHeaders(job *schedulerpb.Job, set map[string]string, remove []string) {
	if job.GetHttpTarget() == nil {
		job.Target = &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{}}
	}
	t := job.GetHttpTarget()
	if len(set) == 0 && len(remove) == 0 {
		t.Headers = nil
		return
	}
	if t.Headers == nil {
		t.Headers = map[string]string{}
	}
	drop := func(name string) {
		for k := range t.Headers {
			if strings.EqualFold(k, name) {
				delete(t.Headers, k)
			}
		}
	}
	for _, k := range remove {
		drop(k)
	}
	for k, v := range set {
		drop(k)
		t.Headers[k] = v
	}
}

// The token a job sends is a oneof (http_target.authorization_header):
// oidc_token or oauth_token. A field mask path into one of them is applied
// by applyTokenMask, with an explicit rule instead of the order-dependent
// flips of a field-by-field copy:
//
//   - paths into the member the job has merge into it as usual; clearing
//     all its fields removes the token;
//   - paths into the other member replace the job's token: the new one is
//     built from the request alone (nothing of the old one carries over);
//   - a mask naming both members keeps the member the request sets and
//     removes the other; a request setting neither removes the token (what
//     gcloud's --clear-auth-token sends);
//   - a mask naming one member while the request sets the other, or naming
//     the member the job lacks with the request setting none, is
//     INVALID_ARGUMENT rather than a silent change.
//
// The result holds at most one token and is then validated like any job,
// the actAs check included when the token could reach someone new.

const (
	oidcMember  = "oidc_token"
	oauthMember = "oauth_token"
)

// tokenMemberOf names the token member a mask path reaches into ("" for
// other paths; "http_target" as a whole is an ordinary path: it copies the
// request's target, token and all).
func tokenMemberOf(path string) string {
	for _, m := range []string{oidcMember, oauthMember} {
		if path == "http_target."+m || strings.HasPrefix(path, "http_target."+m+".") {
			return m
		}
	}
	return ""
}

func splitTokenPaths(paths []string) (plain, token []string) {
	for _, p := range paths {
		if tokenMemberOf(p) != "" {
			token = append(token, p)
		} else {
			plain = append(plain, p)
		}
	}
	return plain, token
}

// tokenMember names the member t holds ("" for none).
func tokenMember(t *schedulerpb.HttpTarget) string {
	switch t.GetAuthorizationHeader().(type) {
	case *schedulerpb.HttpTarget_OidcToken:
		return oidcMember
	case *schedulerpb.HttpTarget_OauthToken:
		return oauthMember
	}
	return ""
}

// applyTokenMask applies the token paths of a mask from the request's target
// (src, possibly nil) to the job, by the rule above.
func applyTokenMask(job *schedulerpb.Job, src *schedulerpb.HttpTarget, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	named := map[string]bool{}
	for _, p := range paths {
		named[tokenMemberOf(p)] = true
	}
	if job.GetHttpTarget() == nil {
		job.Target = &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{}}
	}
	dst := job.GetHttpTarget()
	if src == nil {
		src = &schedulerpb.HttpTarget{}
	}
	cur, req := tokenMember(dst), tokenMember(src)
	want := req // both members named: the request's member, or none
	if len(named) == 1 {
		want = oidcMember
		if named[oauthMember] {
			want = oauthMember
		}
		switch {
		case req != "" && req != want:
			return invalid("update_mask: it names http_target.%s, but the job in the request has an http_target.%s; a job has one token: name the fields of the token it is to have.", want, req)
		case req == "" && cur != "" && cur != want:
			return invalid("update_mask: it names http_target.%s, which the job does not have, and the request sets none; to remove the job's http_target.%s, name its fields (gcloud's --clear-auth-token names both tokens' fields).", want, cur)
		}
	}
	if want == "" {
		dst.AuthorizationHeader = nil
		return nil
	}
	// Build the new token in a scratch target holding only the base: the
	// job's token when it is the same member, else nothing (a replacement).
	scratch := &schedulerpb.HttpTarget{}
	if cur == want {
		scratch.AuthorizationHeader = dst.AuthorizationHeader
	}
	for _, p := range paths {
		if tokenMemberOf(p) == want {
			copyPath(scratch.ProtoReflect(), src.ProtoReflect(), strings.Split(strings.TrimPrefix(p, "http_target."), "."))
		}
	}
	dst.AuthorizationHeader = scratch.AuthorizationHeader
	return nil
}

// updateJob writes the job that build makes from the stored one. If the
// engine or another request wrote the job in between, it reads it again
// and build runs again on the fresh copy, so no change is ever applied to
// a stale job (a pause is never undone by a concurrent update).
func (s *Server) updateJob(ctx context.Context, r store.JobRecord, build func(*schedulerpb.Job) (*schedulerpb.Job, error)) (*schedulerpb.Job, error) {
	for range 10 {
		next, err := build(proto.Clone(r.Job).(*schedulerpb.Job))
		if err != nil {
			return nil, err
		}
		cur := r
		cur.Job = next
		cur.Job.Status, cur.Job.LastAttemptTime = r.Job.GetStatus(), r.Job.GetLastAttemptTime()
		if next.GetSchedule() == r.Job.GetSchedule() && next.GetTimeZone() == r.Job.GetTimeZone() && next.GetState() == r.Job.GetState() {
			// When it fires is unchanged: keep the stored next slot.
			// Recomputing it from now would drop a slot that is due but
			// not yet claimed, or, on a replica whose clock is behind,
			// bring back a slot another replica has already sent.
			cur.Job.ScheduleTime = r.Job.GetScheduleTime()
		} else {
			schedule(&cur, s.clk.Now())
		}
		err = s.write(ctx, func(tx store.Tx) error { return tx.UpdateJob(ctx, cur, r.Version) })
		if errors.Is(err, store.ErrVersionMismatch) {
			if r, err = s.st.GetJob(ctx, r.Job.GetName()); err != nil {
				return nil, storeErr(err)
			}
			continue
		}
		if err != nil {
			return nil, storeErr(err)
		}
		s.changed(cur.Job.GetName())
		return cur.Job, nil
	}
	return nil, status.Error(codes.Aborted, "The job is being changed concurrently; retry the request.")
}

func (x *Scheduler) DeleteJob(ctx context.Context, req *schedulerpb.DeleteJobRequest) (*emptypb.Empty, error) {
	r, _, err := x.s.job(ctx, req.GetName(), "cloudscheduler.jobs.delete")
	if err != nil {
		return nil, err
	}
	if err := x.s.write(ctx, func(tx store.Tx) error { return tx.DeleteJob(ctx, r.Job.GetName()) }); err != nil {
		return nil, storeErr(err)
	}
	x.s.changed(r.Job.GetName())
	x.s.log.Info("job deleted", "job", r.Job.GetName(), "by", SubjectFrom(ctx).Member)
	return &emptypb.Empty{}, nil
}

func (x *Scheduler) PauseJob(ctx context.Context, req *schedulerpb.PauseJobRequest) (*schedulerpb.Job, error) {
	return x.s.setJobState(ctx, req.GetName(), "cloudscheduler.jobs.pause", schedulerpb.Job_ENABLED, schedulerpb.Job_PAUSED, "A job must be in ENABLED state to be paused.")
}

func (x *Scheduler) ResumeJob(ctx context.Context, req *schedulerpb.ResumeJobRequest) (*schedulerpb.Job, error) {
	return x.s.setJobState(ctx, req.GetName(), "cloudscheduler.jobs.enable", schedulerpb.Job_PAUSED, schedulerpb.Job_ENABLED, "A job must be in PAUSED state to be resumed.")
}

func (s *Server) setJobState(ctx context.Context, name, permission string, from, to schedulerpb.Job_State, wrong string) (*schedulerpb.Job, error) {
	r, _, err := s.job(ctx, name, permission)
	if err != nil {
		return nil, err
	}
	out, err := s.updateJob(ctx, r, func(next *schedulerpb.Job) (*schedulerpb.Job, error) {
		if next.GetState() != from { // checked on every (re-)read
			return nil, status.Error(codes.FailedPrecondition, wrong)
		}
		next.State = to
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("job state changed", "job", name, "state", to.String(), "by", SubjectFrom(ctx).Member)
	return out, nil
}

func (x *Scheduler) RunJob(ctx context.Context, req *schedulerpb.RunJobRequest) (*schedulerpb.Job, error) {
	r, _, err := x.s.job(ctx, req.GetName(), "cloudscheduler.jobs.run")
	if err != nil {
		return nil, err
	}
	if x.s.cfg.Engine == nil {
		return nil, status.Error(codes.Unavailable, "The scheduler engine is not running.")
	}
	if err := x.s.cfg.Engine.RunNow(ctx, r.Job.GetName()); err != nil {
		return nil, storeErr(err)
	}
	x.s.log.Info("job run", "job", r.Job.GetName(), "by", SubjectFrom(ctx).Member)
	return r.Job, nil
}
