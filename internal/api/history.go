package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The attempt history is oidcron's own API: Google keeps it in Cloud
// Logging, which oidcron does not host. Its path is outside Google's.

// AttemptJSON is one attempt as the history API shows it.
type AttemptJSON struct {
	Job          string    `json:"job"`
	ScheduleTime time.Time `json:"scheduleTime"`
	Manual       bool      `json:"manual,omitempty"`
	Attempt      int32     `json:"attempt"`
	StartTime    time.Time `json:"startTime"`
	EndTime      time.Time `json:"endTime"`
	URL          string    `json:"url"`
	HTTPStatus   int32     `json:"httpStatus,omitempty"`
	Status       string    `json:"status"`
	Message      string    `json:"message,omitempty"`
}

// HistoryPath is where a job's attempts are listed:
// GET /oidcron/v1/projects/P/locations/L/jobs/J/attempts[?pageSize=N&before=RFC3339].
const HistoryPath = "GET /oidcron/v1/projects/{project}/locations/{location}/jobs/{job}/attempts"

// HandleHistory mounts the history API.
func (s *Server) HandleHistory(mux *http.ServeMux) {
	mux.HandleFunc(HistoryPath, s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		name := "projects/" + r.PathValue("project") + "/locations/" + r.PathValue("location") + "/jobs/" + r.PathValue("job")
		rec, _, err := s.job(ctx, name, "cloudscheduler.jobs.get")
		if err != nil {
			return nil, err
		}
		limit := 100
		if v := r.URL.Query().Get("pageSize"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit <= 0 || limit > 1000 {
				return nil, invalid("pageSize: %q must be a whole number from 1 to 1000.", v)
			}
		}
		var before time.Time
		if v := r.URL.Query().Get("before"); v != "" {
			if before, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return nil, invalid("before: %q is not an RFC 3339 time.", v)
			}
		}
		if s.cfg.Engine == nil {
			return nil, status.Error(codes.Unavailable, "The scheduler engine is not running.")
		}
		as, err := s.cfg.Engine.Attempts(ctx, rec.Job.GetName(), limit, before)
		if err != nil {
			return nil, internal(err)
		}
		out := struct {
			Attempts []AttemptJSON `json:"attempts"`
		}{Attempts: []AttemptJSON{}}
		for _, a := range as {
			out.Attempts = append(out.Attempts, AttemptJSON{
				Job: a.Job, ScheduleTime: a.ScheduleTime.UTC(), Manual: a.Manual, Attempt: a.Number,
				StartTime: a.Start.UTC(), EndTime: a.End.UTC(), URL: a.URL, HTTPStatus: a.HTTPStatus,
				Status: rpccode.Code(a.Code).String(), Message: a.Message,
			})
		}
		return out, nil
	}, "/oidcron.v1.History/ListAttempts"))
}
