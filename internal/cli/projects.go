package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
)

// The `projects` group, on Resource Manager v1 as gcloud uses it.

func init() { register(projectsCmd) }

func projectsCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "projects", Short: "Create and manage projects and their IAM policies"}
	root.AddCommand(
		projectsCreateCmd(g), projectsDescribeCmd(g), projectsListCmd(g),
		projectsGetIamPolicyCmd(g), projectsSetIamPolicyCmd(g),
		projectsBindingCmd(g, true), projectsBindingCmd(g, false),
	)
	return root
}

func crmClient(cmd *cobra.Command, g *Globals) (*crmv1.Service, error) {
	return crmv1.NewService(ctx(cmd), g.ClientOptions()...)
}

const projectIDDescription = "Project IDs are immutable and can be set only during project creation. " +
	"They must start with a lowercase letter and can have lowercase ASCII letters, digits or hyphens. " +
	"Project IDs must be between 6 and 30 characters."

var projectIDArgRule = regexp.MustCompile(`^[a-z][a-z0-9-]{5,29}$`)

// projectsLaunch is the Cloud Console's launch date, from which gcloud
// numbers the suffix of the ids it proposes.
var projectsLaunch = time.Date(2012, 10, 11, 0, 0, 0, 0, time.UTC)

// projectsIDFromName is gcloud's IdFromName: a candidate id for a project
// named name, or "".
func projectsIDFromName(name string, now time.Time) string {
	s := strings.ToLower(name)
	s = regexp.MustCompile(`[^a-z0-9\s/._-]`).ReplaceAllString(s, "")
	s = regexp.MustCompile(`[\s/._-]+`).ReplaceAllString(s, "-")
	s = strings.TrimLeft(s, "-0123456789")
	s = strings.TrimRight(s, "-")
	now = now.UTC()
	suffix := fmt.Sprintf("%d%02d", int(now.Sub(projectsLaunch).Hours())/24, now.Hour())
	for _, c := range []string{s + "-" + suffix, s} {
		if len(c) >= 6 && len(c) <= 30 {
			return c
		}
	}
	return ""
}

// projectsParseLabels parses --labels KEY=VALUE,...
func projectsParseLabels(v string) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	return gcloudDict("--labels", v)
}

func projectsCreateCmd(g *Globals) *cobra.Command {
	var name, labels string
	var enableCloudAPIs *bool
	cmd := &cobra.Command{
		Use:   "create [PROJECT_ID] [--name=NAME] [--labels=KEY=VALUE,...]",
		Short: "Create a new project",
		Long: "Creates a new project with the given project ID.\n\n" + projectIDDescription +
			"\n\nThe caller becomes the project's owner. With --require-auth, only principals allowed " +
			"resourcemanager.projects.create on the installation (the admin token) may create projects.",
		Args: positionalArgsOpt(0, "PROJECT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
				if !projectIDArgRule.MatchString(id) {
					return usagef("argument PROJECT_ID: Bad value [%s]: %s", id, projectIDDescription)
				}
			}
			if id == "" && name != "" {
				if cand := projectsIDFromName(name, time.Now()); cand != "" {
					ok, err := g.Confirm(Prompt{Message: "No project id provided.", Question: fmt.Sprintf("Use [%s] as project id", cand), Default: true, ThrowIfUnattended: true})
					if err != nil {
						return err
					}
					if ok {
						id = cand
					}
				}
			}
			if id == "" {
				return errors.New("Missing required argument [PROJECT_ID]: an id or a name must be provided for the new project")
			}
			lbl, err := projectsParseLabels(labels)
			if err != nil {
				return err
			}
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			display := name
			if display == "" {
				display = id
			}
			op, err := crm.Projects.Create(&crmv1.Project{ProjectId: id, Name: display, Labels: lbl}).Context(ctx(cmd)).Do()
			if err != nil {
				var ge *googleapi.Error
				if errors.As(err, &ge) && ge.Code == http.StatusConflict {
					return errors.New("Project creation failed. The project ID you specified is already in use by another project. Please try an alternative ID.")
				}
				return APIError(err)
			}
			g.Status("Create in progress for [%s].", strings.TrimRight(g.Endpoint, "/")+"/v1/projects/"+id)
			fmt.Fprintf(g.Err, "Waiting for [%s] to finish...", op.Name)
			for !op.Done {
				// The server finishes creations at once; poll as gcloud does
				// should one ever be pending.
				select {
				case <-ctx(cmd).Done():
					fmt.Fprintln(g.Err)
					return ctx(cmd).Err()
				case <-time.After(time.Second):
				}
				if op, err = crm.Operations.Get(op.Name).Context(ctx(cmd)).Do(); err != nil {
					fmt.Fprintln(g.Err, "failed.")
					return APIError(err)
				}
			}
			if op.Error != nil {
				fmt.Fprintln(g.Err, "failed.")
				return fmt.Errorf("Operation [%s] failed: %d: %s", strings.TrimPrefix(op.Name, "operations/"), op.Error.Code, op.Error.Message)
			}
			fmt.Fprintln(g.Err, "done.")
			var p crmv1.Project
			if len(op.Response) > 0 {
				if err := json.Unmarshal(op.Response, &p); err != nil {
					return err
				}
			}
			if p.ProjectId == "" {
				got, err := crm.Projects.Get(id).Context(ctx(cmd)).Do()
				if err != nil {
					return APIError(err)
				}
				p = *got
			}
			return g.Print(&p, false, "none")
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "Name for the project you want to create. If not specified, will use project id as name.")
	cmd.Flags().StringVar(&labels, "labels", "", "List of label KEY=VALUE pairs to add.")
	gcloudBoolPair(cmd.Flags(), &enableCloudAPIs, "enable-cloud-apis", "Accepted for gcloud compatibility; oidcron has no services to enable.",
		"Accepted for gcloud compatibility.")
	return cmd
}

func projectsDescribeCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe PROJECT_ID_OR_NUMBER",
		Short: "Show metadata for a project",
		Args:  positionalArgs("PROJECT_ID_OR_NUMBER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			p, err := crm.Projects.Get(args[0]).Context(ctx(cmd)).Do()
			if err != nil {
				return APIError(err)
			}
			return g.Print(p, false, "yaml")
		},
	}
}

// projectsListFormat is gcloud's LIST_FORMAT (the records come sorted by
// projectId, its sort=1); oidcron has no tags, so no ENVIRONMENT column.
const projectsListFormat = "table(projectId, name, projectNumber)"

func projectsListCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the projects the caller may get",
		Args:  positionalArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			// As gcloud: active projects only, unless the filter asks
			// about lifecycleState.
			activeOnly := !strings.Contains(g.Fmt.Filter, "lifecycleState")
			call := crm.Projects.List().PageSize(g.pageSize(500))
			if activeOnly {
				call = call.Filter("lifecycleState:ACTIVE")
			}
			projects := []*crmv1.Project{}
			err = call.Pages(ctx(cmd), func(resp *crmv1.ListProjectsResponse) error {
				for _, p := range resp.Projects {
					if activeOnly && p.LifecycleState != "" && p.LifecycleState != "ACTIVE" {
						continue
					}
					projects = append(projects, p)
				}
				return nil
			})
			if err != nil {
				return APIError(err)
			}
			sort.SliceStable(projects, func(i, j int) bool { return projects[i].ProjectId < projects[j].ProjectId })
			return g.PrintList(projects, projectsListFormat)
		},
	}
	pageSizeFlag(cmd, new(int)) // gcloud takes it and asks for 500 all the same
	listFlags(g, cmd)
	return cmd
}

func projectsGetPolicy(cmd *cobra.Command, crm *crmv1.Service, project string) (*crmv1.Policy, error) {
	return crm.Projects.GetIamPolicy(project, &crmv1.GetIamPolicyRequest{
		Options: &crmv1.GetPolicyOptions{RequestedPolicyVersion: 3},
	}).Context(ctx(cmd)).Do()
}

func projectsGetIamPolicyCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get-iam-policy PROJECT_ID_OR_NUMBER",
		Short: "Get the IAM policy of a project",
		Long: "Prints the project's IAM policy. Like gcloud's, the output takes --flatten, --filter " +
			"and --format, e.g.\n\n  oidcron projects get-iam-policy P --flatten=\"bindings[].members\" " +
			"--format='table(bindings.role, bindings.members)'",
		Args: positionalArgs("PROJECT_ID_OR_NUMBER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			p, err := projectsGetPolicy(cmd, crm, args[0])
			if err != nil {
				return APIError(err)
			}
			return g.Print(p, false, "yaml")
		},
	}
	listFlags(g, cmd)
	return cmd
}

func projectsSetIamPolicyCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set-iam-policy PROJECT_ID POLICY_FILE",
		Short: "Set the IAM policy of a project from a JSON or YAML file",
		Long: "Replaces the project's IAM policy with the one in POLICY_FILE (JSON or YAML; the output of " +
			"get-iam-policy is a valid file). Keep its etag: the change is then refused if the policy " +
			"changed since it was read.",
		Args: positionalArgs("PROJECT_ID", "POLICY_FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, file := args[0], args[1]
			p, mask, err := readPolicyFile(file)
			if err != nil {
				return err
			}
			if p.Etag == "" {
				if _, err := g.Confirm(Prompt{
					Message: `The specified policy does not contain an "etag" field identifying a specific version to replace. ` +
						`Changing a policy without an "etag" can overwrite concurrent policy changes.`,
					Question: "Replace existing policy", Default: true, CancelOnNo: true,
				}); err != nil {
					return err
				}
			}
			updateMask := strings.Join(mask, ",")
			if !strings.Contains(updateMask, "bindings") {
				updateMask = strings.TrimPrefix(updateMask+",bindings", ",")
			}
			if !strings.Contains(updateMask, "etag") {
				updateMask += ",etag"
			}
			p.Version = 3
			var cp crmv1.Policy
			if err := Convert(&cp, p); err != nil {
				return err
			}
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			out, err := crm.Projects.SetIamPolicy(project, &crmv1.SetIamPolicyRequest{Policy: &cp, UpdateMask: updateMask}).Context(ctx(cmd)).Do()
			if err != nil {
				return APIError(err)
			}
			g.Status("Updated IAM policy for project [%s].", project)
			return g.Print(out, false, "yaml")
		},
	}
}

func projectsBindingCmd(g *Globals, add bool) *cobra.Command {
	var member, role string
	var cf condFlags
	use, short := "add-iam-policy-binding", "Add an IAM policy binding to a project"
	if !add {
		use, short = "remove-iam-policy-binding", "Remove an IAM policy binding from a project"
	}
	cmd := &cobra.Command{
		Use:   use + " PROJECT_ID --member=PRINCIPAL --role=ROLE " + conditionUsage(!add),
		Short: short,
		Args:  positionalArgs("PROJECT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			project := args[0]
			m, err := checkBinding(cmd, member, role)
			if err != nil {
				return err
			}
			cond, err := cf.read(cmd, role)
			if err != nil {
				return err
			}
			crm, err := crmClient(cmd, g)
			if err != nil {
				return err
			}
			api := policyAPI{
				get: func(context.Context) (*Policy, error) { return converted(projectsGetPolicy(cmd, crm, project)) },
				set: func(c context.Context, p *Policy) (any, error) {
					var cp crmv1.Policy
					if err := Convert(&cp, p); err != nil {
						return nil, err
					}
					return crm.Projects.SetIamPolicy(project, &crmv1.SetIamPolicyRequest{Policy: &cp}).Context(c).Do()
				},
			}
			out, err := api.edit(ctx(cmd), func(p *Policy) error {
				if add {
					return g.addBinding(p, m, role, cond)
				}
				return g.removeBinding(p, m, role, cond)
			})
			if err != nil {
				return APIError(err)
			}
			g.Status("Updated IAM policy for project [%s].", project)
			return g.Print(out, false, "yaml")
		},
	}
	bindingFlags(cmd, &member, &role, add)
	cf.register(g, cmd, !add)
	return cmd
}
