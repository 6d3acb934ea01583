package cli

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/doctor"
)

// `doctor job JOB`: oidcron's own command (no gcloud counterpart). It asks
// the server's doctor endpoint
// (/oidcron/v1/projects/P/locations/L/jobs/J:diagnose) to walk the chain of
// the job's next attempt, and prints one line per link with the commands
// that fix a broken one, then the prediction. --probe also runs the job and
// compares its recorded attempt with the prediction.

func init() { register(doctorCmd) }

func doctorCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "doctor", Short: "Explain why a job's call gets 401 or 403, and how to fix it"}
	root.AddCommand(doctorJobCmd(g))
	return root
}

func doctorJobCmd(g *Globals) *cobra.Command {
	var location string
	var probe bool
	cmd := &cobra.Command{
		Use:   "job JOB [--location=LOCATION] [--probe]",
		Short: "Predict the outcome of a job's next attempt, link by link, without calling its target.",
		Long: "Predict the outcome of a job's next attempt without calling its target: one line per link of\n" +
			"the chain (the job, its schedule, the target, the token, its account, the Cloud Scheduler service\n" +
			"agent, the audience, the invoker permission, the gateway's verdict), each PASS, FAIL, WARN or SKIP\n" +
			"with its cause, the oidcron commands that fix a broken link, and the predicted outcome.\n" +
			"It shows only what you may read: a link that needs what you may not see is SKIP with\n" +
			"\"cannot judge: you lack PERMISSION on RESOURCE\".\n" +
			"--probe also runs the job once (it needs cloudscheduler.jobs.run) and compares its recorded\n" +
			"attempt with the prediction.\n" +
			"--format json (or yaml, value(...)) prints the report for machines.",
		Args: schedulerJobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			ref, err := s.job(args[0], location)
			if err != nil {
				return err
			}
			// A probe runs the job, so it is a POST; a diagnosis alone is a GET.
			method, query := http.MethodGet, url.Values(nil)
			if probe {
				method, query = http.MethodPost, url.Values{"probe": {"true"}}
			}
			var rep doctor.Report
			if err := g.oidcronCall(s.ctx, method, "/oidcron/v1/"+ref.Name()+":diagnose", query, &rep); err != nil {
				return err
			}
			if g.Fmt.Format == "" {
				return rep.WriteText(g.Out)
			}
			return g.Print(&rep, false, "json")
		},
	}
	addLocationFlag(cmd, &location)
	gcloudStoreTrue(cmd.Flags(), &probe, "probe", "", false, "also run the job once and compare its recorded attempt with the prediction")
	return cmd
}
