package api

import (
	"context"
	"net/http"
	"strings"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/scheduler"
)

// DoctorPath is where a job is diagnosed (oidcron's own API, like the
// attempt history): GET /oidcron/v1/projects/P/locations/L/jobs/J:diagnose,
// or POST to it. The caller needs cloudscheduler.jobs.get on the job, and
// the diagnosis shows only what the caller may read (see package doctor).
// probe=true, on POST only since it changes something, also runs the job
// (cloudscheduler.jobs.run) and waits for its first attempt.
const DoctorPath = "/oidcron/v1/projects/{project}/locations/{location}/jobs/{job}"

const diagnoseSuffix = ":diagnose"

// HandleDoctor mounts the doctor's endpoint.
func (s *Server) HandleDoctor(mux *http.ServeMux, d *doctor.Doctor) {
	h := s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		id, ok := strings.CutSuffix(r.PathValue("job"), diagnoseSuffix)
		if !ok {
			return nil, status.Error(codes.NotFound, "Method not found.")
		}
		name := "projects/" + r.PathValue("project") + "/locations/" + r.PathValue("location") + "/jobs/" + id
		probe := false
		switch v := r.URL.Query().Get("probe"); v {
		case "", "false":
		case "true":
			probe = true
		default:
			return nil, invalid("probe: %q must be true or false.", v)
		}
		if probe && r.Method != http.MethodPost {
			return nil, invalid("probe: probe=true runs the job, so it is allowed on POST only; GET only diagnoses.")
		}
		rec, _, err := s.job(ctx, name, "cloudscheduler.jobs.get")
		if err != nil {
			return nil, err
		}
		rep, err := d.Diagnose(ctx, SubjectFrom(ctx), rec.Job)
		if err != nil {
			return nil, internal(err)
		}
		if !probe {
			return rep, nil
		}
		if s.cfg.Engine == nil {
			return nil, status.Error(codes.Unavailable, "The scheduler engine is not running.")
		}
		w, err := doctor.Watch(ctx, s.cfg.Engine, rec.Job.GetName(), s.clk.Now())
		if err != nil {
			return nil, internal(err)
		}
		if _, err := (&Scheduler{s: s}).RunJob(ctx, &schedulerpb.RunJobRequest{Name: rec.Job.GetName()}); err != nil {
			return nil, err
		}
		wait := scheduler.DefaultAttemptDeadline
		if ad := rec.Job.GetAttemptDeadline(); ad != nil && ad.AsDuration() > 0 {
			wait = ad.AsDuration()
		}
		wctx, cancel := context.WithTimeout(ctx, wait+doctor.ProbeWait)
		defer cancel()
		a, err := w.Wait(wctx)
		if err != nil {
			return nil, status.Errorf(codes.DeadlineExceeded, "The job was run, but its attempt was not recorded in time: %v", err)
		}
		rep.Compare(a)
		return rep, nil
	}, "/oidcron.v1.Doctor/DiagnoseJob")
	mux.HandleFunc("GET "+DoctorPath, h)
	mux.HandleFunc("POST "+DoctorPath, h)
}
