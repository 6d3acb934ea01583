package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// `scheduler jobs executions JOB`: the job's attempt history. Google keeps
// it in Cloud Logging; oidcron serves it at its own path
// (GET /oidcron/v1/projects/P/locations/L/jobs/J/attempts).

// schedulerExecutionsFormat is the default table: one row per attempt,
// newest first.
const schedulerExecutionsFormat = `table(
  scheduleTime:label=SCHEDULE_TIME,
  attempt:label=ATTEMPT,
  startTime:label=START_TIME,
  endTime:label=END_TIME,
  httpStatus:label=HTTP_STATUS,
  status:label=STATUS,
  message:label=REASON)`

// schedMaxAttemptsPage is the most attempts the history API returns at once.
const schedMaxAttemptsPage = 1000

// schedulerAttempt is one attempt as the history API returns it.
type schedulerAttempt struct {
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

func schedulerExecutionsCmd(g *Globals) *cobra.Command {
	var location, before string
	cmd := &cobra.Command{
		Use:   "executions JOB",
		Short: "List a job's recorded attempts, newest first (oidcron; Google keeps these in Cloud Logging).",
		Long: "List a job's recorded attempts, newest first: when each execution was scheduled, the attempt's\n" +
			"number within it, when it started and ended, the target's HTTP status, and the resulting status\n" +
			"code with its reason. --limit caps how many are fetched (default: the server's 100).",
		Args: schedulerJobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if g.Fmt.Limit > 0 {
				q.Set("pageSize", strconv.Itoa(min(g.Fmt.Limit, schedMaxAttemptsPage)))
			}
			if before != "" {
				t, err := time.Parse(time.RFC3339Nano, before)
				if err != nil {
					return usagef("argument --before: Bad value [%s]: give an RFC 3339 time such as 2026-01-02T15:04:05Z.", before)
				}
				q.Set("before", t.UTC().Format(time.RFC3339Nano))
			}
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			ref, err := s.job(args[0], location)
			if err != nil {
				return err
			}
			var out struct {
				Attempts []schedulerAttempt `json:"attempts"`
			}
			if err := g.oidcronCall(s.ctx, http.MethodGet, "/oidcron/v1/"+ref.Name()+"/attempts", q, &out); err != nil {
				return err
			}
			if out.Attempts == nil {
				out.Attempts = []schedulerAttempt{}
			}
			return g.PrintList(out.Attempts, schedulerExecutionsFormat)
		},
	}
	addLocationFlag(cmd, &location)
	cmd.Flags().StringVar(&before, "before", "", "list only attempts that started before this RFC 3339 time (to page back)")
	listFlags(g, cmd)
	return cmd
}
