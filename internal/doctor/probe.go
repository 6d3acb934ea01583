package doctor

import (
	"context"
	"fmt"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"

	"github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/store"
)

// History reads a job's recorded attempts, newest first, after writing the
// pending ones (the engine's Attempts).
type History interface {
	Attempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error)
}

// ProbeWait bounds how long a probe waits for its attempt beyond the job's
// attempt deadline.
const ProbeWait = 30 * time.Second

// Watcher waits for the first attempt of a manual execution of a job.
type Watcher struct {
	h     History
	job   string
	since time.Time
	seen  int
}

// Watch notes the first attempts of manual executions of job scheduled at or
// after since that are already recorded, so that Wait returns the next one
// only (a fake clock gives two runs the same times).
func Watch(ctx context.Context, h History, job string, since time.Time) (*Watcher, error) {
	w := &Watcher{h: h, job: job, since: since}
	as, err := w.runs(ctx)
	if err != nil {
		return nil, err
	}
	w.seen = len(as)
	return w, nil
}

// runs lists the matching attempts, newest first.
func (w *Watcher) runs(ctx context.Context) ([]store.Attempt, error) {
	as, err := w.h.Attempts(ctx, w.job, 1000, time.Time{})
	if err != nil {
		return nil, err
	}
	var out []store.Attempt
	for _, a := range as {
		if a.Manual && a.Number == 1 && !a.ScheduleTime.Before(w.since) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Wait returns the first attempt of the next manual execution once it is
// recorded. The engine runs attempts asynchronously and announces them to
// no one outside its tests, so Wait polls the history (whose read writes
// the pending records first) at a short, growing interval until ctx ends.
func (w *Watcher) Wait(ctx context.Context) (store.Attempt, error) {
	wait := 5 * time.Millisecond
	for {
		as, err := w.runs(ctx)
		if err != nil {
			return store.Attempt{}, err
		}
		if len(as) > w.seen {
			// Newest first: the oldest unseen one is the run that followed Watch.
			return as[len(as)-w.seen-1], nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return store.Attempt{}, fmt.Errorf("no attempt was recorded in time: %w", ctx.Err())
		case <-t.C:
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

// Compare sets r.Probe from the recorded attempt and says whether it is what
// the prediction said.
func (r *Report) Compare(a store.Attempt) {
	code := rpccode.Code(a.Code).String()
	p := &Probe{ScheduleTime: a.ScheduleTime.UTC(), StartTime: a.Start.UTC(), HTTPStatus: a.HTTPStatus, Code: code, Message: a.Message}
	pr := r.Prediction
	got := code
	if a.HTTPStatus != 0 {
		got = fmt.Sprintf("%d %s", a.HTTPStatus, code)
	}
	var ok bool
	switch pr.Outcome {
	case Unknown:
		p.Agreement = NoPrediction
	case Allowed:
		// Through the gateway, the function answers as it likes, 401 and
		// 403 included; only a gateway denial contradicts the prediction.
		ok = a.HTTPStatus != 0 && !scheduler.GatewayDenied(a.Message)
	case NotSent:
		ok = a.HTTPStatus == 0 && code == pr.Code
	case Denied:
		// The gateway's own 401/403, with its reason: the same status
		// without one came from the function, the gateway having let the
		// request through.
		ok = int(a.HTTPStatus) == pr.HTTPStatus && scheduler.GatewayDenied(a.Message)
	default:
		ok = int(a.HTTPStatus) == pr.HTTPStatus
	}
	switch {
	case p.Agreement == NoPrediction:
		p.Summary = got + "; there was no prediction to compare with"
	case ok:
		p.Agreement = Match
		p.Summary = got + "; as predicted"
	default:
		p.Agreement = Mismatch
		p.Summary = got + "; NOT as predicted (" + pr.Summary + ")"
	}
	if pr.Outcome != NotSent && pr.Outcome != Unknown && (a.HTTPStatus == 401 || a.HTTPStatus == 403) && !scheduler.GatewayDenied(a.Message) {
		p.Summary += " (the gateway let the request through: the function itself answered " + fmt.Sprint(a.HTTPStatus) + ")"
	}
	if a.Message != "" {
		p.Summary += ". Recorded: " + a.Message
	}
	r.Probe = p
}
