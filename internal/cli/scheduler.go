package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/api/appengine/v1"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/googleapi"
)

// The `scheduler` group: gcloud's `scheduler jobs` and `scheduler locations`
// commands on the Cloud Scheduler v1 REST API (reference §7.5-7.7), plus
// `jobs executions`, which reads oidcron's own attempt history.

func init() { register(schedulerCmd) }

// Default output formats, as gcloud's command specs declare them.
const (
	schedulerJobListFormat = `table(
  name.basename():label=ID,
  name.segment(-3):label=LOCATION,
  format("{0} ({1})", schedule, timeZone):label="SCHEDULE (TZ)",
  format("{0}{1}{2}", pubsubTarget.yesno(yes="Pub/Sub", no=""), appEngineHttpTarget.yesno(yes="App Engine", no=""), httpTarget.yesno(yes="HTTP", no="")):label=TARGET_TYPE,
  state:label=STATE)`
	schedulerLocationListFormat = `table(locationId:label="NAME", name:label="FULL_NAME")`
)

// schedMsgNoLocation is gcloud's error when --location is not given and no
// default location can be found.
const schedMsgNoLocation = "Please use the location flag to manually specify a location."

func schedulerCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "scheduler", Short: "Manage Cloud Scheduler jobs and schedules."}
	jobs := &cobra.Command{Use: "jobs", Short: "Manage Cloud Scheduler jobs."}
	create := &cobra.Command{Use: "create", Short: "Create Cloud Scheduler jobs."}
	create.AddCommand(schedulerCreateHTTPCmd(g))
	update := &cobra.Command{Use: "update", Short: "Update Cloud Scheduler jobs."}
	update.AddCommand(schedulerUpdateHTTPCmd(g))
	jobs.AddCommand(create, update,
		schedulerDescribeCmd(g), schedulerListCmd(g), schedulerDeleteCmd(g),
		schedulerPauseCmd(g), schedulerResumeCmd(g), schedulerRunCmd(g),
		schedulerExecutionsCmd(g))
	locations := &cobra.Command{Use: "locations", Short: "Get information about Cloud Scheduler locations."}
	locations.AddCommand(schedulerLocationsListCmd(g))
	root.AddCommand(jobs, locations)
	return root
}

// JOB and --location are gcloud's resource argument, the group
// "(JOB : --location=LOCATION)": --location needs JOB.

// schedulerJobArg accepts exactly one JOB, with gcloud's errors.
func schedulerJobArg(cmd *cobra.Command, args []string) error {
	if err := schedJobGroup(cmd, args); err != nil {
		return err
	}
	return schedMissing(cmd.Flags(), args)
}

// schedJobGroup refuses extra arguments, and --location without JOB (the
// group comes first in gcloud's checks); a missing JOB is left to
// schedMissing, which gcloud checks after the other groups.
func schedJobGroup(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) > 1:
		return unrecognizedArgs(args[1:]...)
	case len(args) == 0 && cmd.Flags().Changed("location"):
		return usagef("argument --location: JOB must be specified.")
	}
	return nil
}

// schedMissing is gcloud's error for the required arguments left out: the
// JOB group and the flags named.
func schedMissing(fs *pflag.FlagSet, args []string, flags ...string) error {
	var missing []string
	if len(args) == 0 {
		missing = append(missing, "(JOB : --location=LOCATION)")
	}
	for _, n := range flags {
		if !fs.Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("argument %s: Must be specified.", strings.Join(missing, " "))
	}
	return nil
}

// schedulerNoArgs rejects positionals, with gcloud's error.
func schedulerNoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unrecognizedArgs(args...)
	}
	return nil
}

// schedJobRef names one job.
type schedJobRef struct{ Project, Location, ID string }

func (r schedJobRef) Parent() string { return "projects/" + r.Project + "/locations/" + r.Location }
func (r schedJobRef) Name() string   { return r.Parent() + "/jobs/" + r.ID }

// schedulerSession is what one scheduler command works with: the REST
// client and the way to the job's location.
type schedulerSession struct {
	g   *Globals
	ctx context.Context
	svc *cloudscheduler.Service
}

func newSchedulerSession(cmd *cobra.Command, g *Globals) (*schedulerSession, error) {
	c := ctx(cmd)
	svc, err := cloudscheduler.NewService(c, g.ClientOptions()...)
	if err != nil {
		return nil, err
	}
	return &schedulerSession{g: g, ctx: c, svc: svc}, nil
}

// job resolves JOB (an ID or projects/P/locations/L/jobs/J) with --location
// and --project, as gcloud's job resource argument does: anything else,
// even with slashes, is an ID ("jobs/j" is sent as .../jobs/jobs/j).
func (s *schedulerSession) job(arg, location string) (schedJobRef, error) {
	p := strings.Split(arg, "/")
	if len(p) == 6 && p[0] == "projects" && p[2] == "locations" && p[4] == "jobs" && p[1] != "" && p[3] != "" && p[5] != "" {
		return schedJobRef{Project: p[1], Location: p[3], ID: p[5]}, nil
	}
	if arg == "" { // gcloud 528, exit 1
		return schedJobRef{}, errors.New("Error parsing [job].\nThe [job] resource is not properly specified.\n" +
			"Failed to find attribute [job]. The attribute can be set in the following ways: \n- provide the argument `job` on the command line")
	}
	project, err := s.g.RequireProject()
	if err != nil {
		return schedJobRef{}, err
	}
	loc, err := s.location(project, location)
	if err != nil {
		return schedJobRef{}, err
	}
	return schedJobRef{Project: project, Location: loc, ID: arg}, nil
}

// location is --location, or gcloud's fallback: when the project has an
// App Engine application, the first location Cloud Scheduler lists (its
// first label's value, the region).
func (s *schedulerSession) location(project, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	apps, err := appengine.NewService(s.ctx, s.g.ClientOptions()...)
	if err != nil {
		return "", err
	}
	if _, err := apps.Apps.Get(project).Context(s.ctx).Do(); err != nil {
		// gcloud treats any failure here (no app, no permission) as "no app".
		return "", errors.New(schedMsgNoLocation)
	}
	resp, err := s.svc.Projects.Locations.List("projects/" + project).PageSize(2).Context(s.ctx).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return "", errors.New(schedMsgNoLocation)
	}
	if err != nil {
		return "", APIError(err)
	}
	if len(resp.Locations) == 0 {
		return "", errors.New(schedMsgNoLocation)
	}
	loc := schedFirstLabel(resp.Locations[0].Labels)
	if loc == "" {
		return "", errors.New(schedMsgNoLocation)
	}
	if len(resp.Locations) > 1 {
		s.g.Status("WARNING: We are using the App Engine app location (%s) as the default location. "+
			"Please use the \"--location\" flag if you want to use a different location.", loc)
	}
	return loc, nil
}

// schedFirstLabel is the value gcloud takes from a location's labels: the
// region label (Cloud Scheduler's only one), else the first by key.
func schedFirstLabel(labels map[string]string) string {
	if v, ok := labels["cloud.googleapis.com/region"]; ok {
		return v
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return labels[keys[0]]
}

// addLocationFlag adds gcloud's --location to a job command.
func addLocationFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "location", "", "location of the job; defaults to the project's App Engine app location")
}

// schedulerJobCmd makes a command on one job (JOB and --location): it
// opens the session, resolves the job as gcloud does, and runs do.
func schedulerJobCmd(g *Globals, use, short string, do func(s *schedulerSession, ref schedJobRef) error) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  schedulerJobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			ref, err := s.job(args[0], location)
			if err != nil {
				return err
			}
			return do(s, ref)
		},
	}
	addLocationFlag(cmd, &location)
	return cmd
}

func schedulerDescribeCmd(g *Globals) *cobra.Command {
	return schedulerJobCmd(g, "describe JOB", "Show details about a job.", func(s *schedulerSession, ref schedJobRef) error {
		job, err := s.svc.Projects.Locations.Jobs.Get(ref.Name()).Context(s.ctx).Do()
		if err != nil {
			return APIError(err)
		}
		return g.Print(job, false, "yaml")
	})
}

func schedulerListCmd(g *Globals) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs.",
		Args:  schedulerNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			project, err := g.RequireProject()
			if err != nil {
				return err
			}
			loc, err := s.location(project, location)
			if err != nil {
				return err
			}
			jobs := []*cloudscheduler.Job{}
			call := s.svc.Projects.Locations.Jobs.List("projects/" + project + "/locations/" + loc)
			if n := g.pageSize(0); n > 0 {
				call.PageSize(n)
			}
			err = call.Pages(s.ctx, func(r *cloudscheduler.ListJobsResponse) error {
				jobs = append(jobs, r.Jobs...)
				return nil
			})
			if err != nil {
				return APIError(err)
			}
			return g.PrintList(jobs, schedulerJobListFormat)
		},
	}
	cmd.Flags().StringVar(&location, "location", "", "location of the jobs; defaults to the project's App Engine app location")
	pageSizeFlag(cmd, &g.PageSize)
	listFlags(g, cmd)
	return cmd
}

func schedulerDeleteCmd(g *Globals) *cobra.Command {
	return schedulerJobCmd(g, "delete JOB", "Delete a job.", func(s *schedulerSession, ref schedJobRef) error {
		// gcloud's declarative delete: a "no", or no answer from a
		// script, deletes nothing.
		if _, err := g.Confirm(Prompt{
			Message: fmt.Sprintf("You are about to delete job [%s]", ref.ID), Default: true,
			ThrowIfUnattended: true, CancelOnNo: true,
		}); err != nil {
			return err
		}
		if _, err := s.svc.Projects.Locations.Jobs.Delete(ref.Name()).Context(s.ctx).Do(); err != nil {
			return APIError(err)
		}
		g.Status("Deleted job [%s].", ref.ID)
		return nil
	})
}

// schedulerStateCmd makes pause and resume: one call, gcloud's status line,
// and no output unless --format asks for the job.
func schedulerStateCmd(g *Globals, verb, short, done string,
	call func(*schedulerSession, string) (*cloudscheduler.Job, error)) *cobra.Command {
	return schedulerJobCmd(g, verb+" JOB", short, func(s *schedulerSession, ref schedJobRef) error {
		job, err := call(s, ref.Name())
		if err != nil {
			return APIError(err)
		}
		if done != "" {
			g.Status("%s", done)
		}
		return g.Print(job, false, "none")
	})
}

func schedulerPauseCmd(g *Globals) *cobra.Command {
	return schedulerStateCmd(g, "pause", "Pause the execution of a job.", "Job has been paused.",
		func(s *schedulerSession, name string) (*cloudscheduler.Job, error) {
			return s.svc.Projects.Locations.Jobs.Pause(name, &cloudscheduler.PauseJobRequest{}).Context(s.ctx).Do()
		})
}

func schedulerResumeCmd(g *Globals) *cobra.Command {
	return schedulerStateCmd(g, "resume", "Resume execution of a paused job.", "Job has been resumed.",
		func(s *schedulerSession, name string) (*cloudscheduler.Job, error) {
			return s.svc.Projects.Locations.Jobs.Resume(name, &cloudscheduler.ResumeJobRequest{}).Context(s.ctx).Do()
		})
}

func schedulerRunCmd(g *Globals) *cobra.Command {
	return schedulerStateCmd(g, "run", "Trigger an on-demand execution of a job.", "",
		func(s *schedulerSession, name string) (*cloudscheduler.Job, error) {
			return s.svc.Projects.Locations.Jobs.Run(name, &cloudscheduler.RunJobRequest{}).Context(s.ctx).Do()
		})
}

func schedulerLocationsListCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Lists the locations where Cloud Scheduler is available.",
		Args:  schedulerNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSchedulerSession(cmd, g)
			if err != nil {
				return err
			}
			project, err := g.RequireProject()
			if err != nil {
				return err
			}
			locs := []*cloudscheduler.Location{}
			call := s.svc.Projects.Locations.List("projects/" + project)
			if n := g.pageSize(0); n > 0 {
				call.PageSize(n)
			}
			err = call.Pages(s.ctx, func(r *cloudscheduler.ListLocationsResponse) error {
				locs = append(locs, r.Locations...)
				return nil
			})
			if err != nil {
				return APIError(err)
			}
			return g.PrintList(locs, schedulerLocationListFormat)
		},
	}
	pageSizeFlag(cmd, &g.PageSize)
	listFlags(g, cmd)
	return cmd
}
