package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/clock"
)

// DenialReasonHeader is the header in which oidcron's invoker gateway, in
// dev mode, says why it answered 401/403. The dispatcher copies it into the
// attempt's message so that the job's status explains the denial.
const DenialReasonHeader = "X-Oidcron-Denial-Reason"

// DefaultAttemptDeadline is Google's attempt_deadline for HTTP targets when
// the job has none.
const DefaultAttemptDeadline = 180 * time.Second

// Credentials mints the Authorization header of a job's request: an ID token
// (oidc_token) or an access token (oauth_token) of the job's service account,
// minted by the project's Cloud Scheduler service agent. It returns the whole
// header value ("Bearer ...") or "" when the job asks for no token. A
// *Refusal (the agent lost its role, the account is gone or disabled) fails
// the attempt as PERMISSION_DENIED, as on Google Cloud; any other error (a
// store or signing failure) as INTERNAL, so that an outage is not read as an
// IAM problem. Either way no request is sent.
type Credentials interface {
	Authorization(ctx context.Context, job *schedulerpb.Job) (string, error)
}

// Refusal is a Credentials' error when the job's identity may not be used.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Sender makes one attempt of a job. *Dispatcher is the real one; the engine
// takes the interface so that its tests can script outcomes.
type Sender interface {
	Send(ctx context.Context, job *schedulerpb.Job, scheduleTime time.Time) Outcome
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, job *schedulerpb.Job, scheduleTime time.Time) Outcome

func (f SenderFunc) Send(ctx context.Context, job *schedulerpb.Job, scheduleTime time.Time) Outcome {
	return f(ctx, job, scheduleTime)
}

// Outcome is the result of one attempt.
type Outcome struct {
	URL        string
	HTTPStatus int32      // 0 when no response arrived
	Code       codes.Code // google.rpc code of the attempt (OK on 2xx)
	Message    string     // Google's debugInfo style, with the HTTP status and any denial reason
	Sent       time.Time  // when the request left (zero if it never did); fire delay ends here
}

// Dispatcher sends Cloud Scheduler's HTTP requests.
type Dispatcher struct {
	// Client sends the requests; nil means a client with no overall timeout
	// (attempt_deadline is the timeout) that follows redirects as Go's
	// default does (up to 10), because Google considers "the response
	// returned by the redirected request".
	Client *http.Client
	// Credentials mints tokens; nil sends no token.
	Credentials Credentials
	// Clock times attempt_deadline, so that tests drive deadlines with a
	// fake clock; nil is the wall clock.
	Clock clock.Clock
}

var defaultClient = &http.Client{}

// errDeadline is the cancellation cause of an attempt whose
// attempt_deadline passed.
var errDeadline = errors.New("attempt deadline exceeded")

// Send makes one attempt of job's http_target for the execution scheduled at
// scheduleTime and maps what happened to a google.rpc code.
func (d *Dispatcher) Send(ctx context.Context, job *schedulerpb.Job, scheduleTime time.Time) (out Outcome) {
	// The message quotes what the target and the network said (a denial
	// header, an error's text), which may be any bytes; it becomes the
	// job's status, a protobuf string, and a PostgreSQL text column, which
	// refuse invalid UTF-8 and NUL: a store refusing the outcome for good
	// would leave the execution unfinished.
	defer func() { out.Message = cleanText(out.Message) }()
	clk := d.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	ht := job.GetHttpTarget()
	out = Outcome{URL: ht.GetUri()}
	if ht == nil {
		out.Code, out.Message = codes.InvalidArgument, "Only HTTP targets are supported by oidcron."
		return out
	}

	deadline := job.GetAttemptDeadline().AsDuration()
	if deadline <= 0 {
		deadline = DefaultAttemptDeadline
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The deadline runs on the injected clock, not context.WithTimeout, so
	// that a fake clock decides when an attempt times out.
	t := clk.AfterFunc(deadline, func() { cancel(errDeadline) })
	defer t.Stop()

	req, err := buildRequest(ctx, job, scheduleTime)
	if err != nil {
		out.Code, out.Message = codes.InvalidArgument, fmt.Sprintf("URL_ERROR-ERROR_OTHER. %v", err)
		return out
	}
	if d.Credentials != nil {
		auth, err := d.Credentials.Authorization(ctx, job)
		if err != nil {
			// A mint cut short by the deadline or a stop is that, not a
			// refusal: a stop must leave the execution to the next start.
			if c, msg, ok := ended(ctx, deadline); ok {
				out.Code, out.Message = c, msg
				return out
			}
			if _, refused := errors.AsType[*Refusal](err); refused {
				out.Code, out.Message = codes.PermissionDenied, err.Error()
			} else {
				out.Code, out.Message = codes.Internal, "the job's token could not be minted: "+err.Error()
			}
			return out
		}
		if auth != "" {
			// Google: with oauth_token/oidc_token set, every Authorization
			// header of the job is overridden.
			req.Header.Set("Authorization", auth)
		}
	}

	client := d.Client
	if client == nil {
		client = defaultClient
	}
	out.Sent = clk.Now()
	resp, err := client.Do(req)
	if err != nil {
		if c, msg, ok := ended(ctx, deadline); ok {
			out.Code, out.Message = c, msg
			return out
		}
		out.Code = codes.Unavailable
		out.Message = "URL_UNREACHABLE-UNREACHABLE_NO_RESPONSE. " + err.Error()
		return out
	}
	// Drain a little so the connection can be reused; the body itself is
	// not part of the outcome. The attempt's end closes the body: not every
	// body ends with the request's context (a 101's is the connection).
	stopRead := context.AfterFunc(ctx, func() { resp.Body.Close() })
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	stopRead()
	resp.Body.Close()
	out.HTTPStatus = int32(resp.StatusCode)
	out.Code = CodeForHTTPStatus(resp.StatusCode)
	out.Message = debugInfo(resp.StatusCode, resp.Header.Get(DenialReasonHeader))
	return out
}

// ended tells how an attempt whose context has ended ends: past its
// deadline, DEADLINE_EXCEEDED; stopped, CANCELLED, which the engine does not
// record as a result. ok is false while ctx is live.
func ended(ctx context.Context, deadline time.Duration) (c codes.Code, msg string, ok bool) {
	switch {
	case errors.Is(context.Cause(ctx), errDeadline):
		return codes.DeadlineExceeded, fmt.Sprintf("URL_TIMEOUT-TIMEOUT_WAIT_FOR_RESPONSE. Attempt deadline of %s exceeded", deadline), true
	case ctx.Err() != nil:
		return codes.Canceled, "attempt cancelled: " + context.Cause(ctx).Error(), true
	}
	return codes.OK, "", false
}

// buildRequest builds the request as Cloud Scheduler sends it (reference
// §1.4).
func buildRequest(ctx context.Context, job *schedulerpb.Job, scheduleTime time.Time) (*http.Request, error) {
	ht := job.GetHttpTarget()
	method := httpMethod(ht.GetHttpMethod())
	var body io.Reader
	if len(ht.GetBody()) > 0 {
		body = bytes.NewReader(ht.GetBody())
	}
	req, err := http.NewRequestWithContext(ctx, method, ht.GetUri(), body)
	if err != nil {
		return nil, err
	}
	// Sized for the job's headers, ours and Authorization: growing the map
	// cost more than building the rest of the request.
	h := make(http.Header, len(ht.GetHeaders())+6)
	req.Header = h
	for k, v := range ht.GetHeaders() {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case ck == "Host", ck == "Content-Length", ck == "User-Agent":
			// Host and Content-Length are computed; User-Agent is forced below.
			continue
		case strings.HasPrefix(ck, "X-Google-"), strings.HasPrefix(ck, "X-Appengine-"):
			continue // Google internal use only
		case strings.HasPrefix(ck, "X-Cloudscheduler"):
			continue // ours, set below; a job cannot forge them
		}
		h[ck] = []string{v}
	}
	// Ours, under the keys Header.Set would give them (its canonical form,
	// which is what goes on the wire), without canonicalizing them again
	// on every request.
	h["User-Agent"] = []string{"Google-Cloud-Scheduler"}
	h["X-Cloudscheduler"] = []string{"true"}
	h["X-Cloudscheduler-Jobname"] = []string{shortJobID(job.GetName())}
	// Sent on every execution, English-like schedules and RunJob included
	// (Google does not guarantee it there): a target that deduplicates on it
	// always has a key. UTC with Z, the same on every retry.
	h["X-Cloudscheduler-Scheduletime"] = []string{FormatScheduleTime(scheduleTime)}
	if ct := h["Content-Type"]; len(ht.GetBody()) > 0 && (len(ct) == 0 || ct[0] == "") {
		h["Content-Type"] = []string{"application/octet-stream"}
	}
	return req, nil
}

// FormatScheduleTime formats an execution's schedule time as the
// X-CloudScheduler-ScheduleTime header: RFC 3339 in UTC with Z, fractional
// seconds only when there are any (a RunJob execution is stamped with the
// instant of the call).
func FormatScheduleTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func httpMethod(m schedulerpb.HttpMethod) string {
	switch m {
	case schedulerpb.HttpMethod_GET:
		return http.MethodGet
	case schedulerpb.HttpMethod_HEAD:
		return http.MethodHead
	case schedulerpb.HttpMethod_PUT:
		return http.MethodPut
	case schedulerpb.HttpMethod_DELETE:
		return http.MethodDelete
	case schedulerpb.HttpMethod_PATCH:
		return http.MethodPatch
	case schedulerpb.HttpMethod_OPTIONS:
		return http.MethodOptions
	default: // POST and HTTP_METHOD_UNSPECIFIED
		return http.MethodPost
	}
}

// shortJobID returns JOB_ID of "projects/P/locations/L/jobs/JOB_ID", which
// Google's newer (deduplication) page says X-CloudScheduler-JobName carries.
func shortJobID(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// CodeForHTTPStatus maps the final HTTP status of an attempt to the
// google.rpc code recorded in the job's status. Google documents only
// 403 -> PERMISSION_DENIED and 404 -> NOT_FOUND (observed); the rest follows
// google/rpc/code.proto's HTTP mapping, with these choices: 409 is ABORTED
// (a target's conflict, not a creation clash), 3xx/1xx that end the exchange
// are UNKNOWN, other 4xx FAILED_PRECONDITION, 502/503/504 UNAVAILABLE (504 is
// an upstream's timeout, not the attempt deadline), other 5xx INTERNAL.
func CodeForHTTPStatus(s int) codes.Code {
	switch {
	case s >= 200 && s <= 299:
		return codes.OK
	case s == 400:
		return codes.InvalidArgument
	case s == 401:
		return codes.Unauthenticated
	case s == 403:
		return codes.PermissionDenied
	case s == 404:
		return codes.NotFound
	case s == 409:
		return codes.Aborted
	case s == 412:
		return codes.FailedPrecondition
	case s == 416:
		return codes.OutOfRange
	case s == 429:
		return codes.ResourceExhausted
	case s == 499:
		return codes.Canceled
	case s >= 400 && s <= 499:
		return codes.FailedPrecondition
	case s == 501:
		return codes.Unimplemented
	case s == 502, s == 503, s == 504:
		return codes.Unavailable
	case s >= 500 && s <= 599:
		return codes.Internal
	default:
		return codes.Unknown
	}
}

// debugInfo writes the outcome as Cloud Logging's AttemptFinished debugInfo
// ("URL_ERROR-ERROR_OTHER. Original HTTP response code number = 403", the
// observed form); 404 and 5xx use the families Cloud Tasks logs show.
func debugInfo(status int, denial string) string {
	var fam string
	switch {
	case status >= 200 && status <= 299:
		return fmt.Sprintf("Original HTTP response code number = %d", status)
	case status == 404:
		fam = "URL_ERROR-ERROR_NOT_FOUND"
	case status >= 500:
		fam = "URL_UNREACHABLE-UNREACHABLE_5xx"
	default:
		fam = "URL_ERROR-ERROR_OTHER"
	}
	s := fmt.Sprintf("%s. Original HTTP response code number = %d", fam, status)
	if denial != "" {
		s += denialMarker + denial
	}
	return s
}

// denialMarker introduces, in an attempt's message, the reason the gateway
// gave when it answered the request itself (DenialReasonHeader).
const denialMarker = ". Denial reason: "

// GatewayDenied reports whether an attempt's message carries a gateway's
// denial reason: the gateway, not the function, answered it. The gateway
// gives its reasons to the dispatcher in every mode, so a 401/403 through
// the gateway without one is the function's own.
func GatewayDenied(message string) bool { return strings.Contains(message, denialMarker) }

// cleanText makes s storable as text anywhere: invalid UTF-8 becomes
// U+FFFD, NUL is dropped.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
