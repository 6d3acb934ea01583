package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/api/googleapi"
	iamv1 "google.golang.org/api/iam/v1"
)

// The `iam` group: service accounts (iam/v1, as gcloud) and the predefined
// roles. The policy helpers every group's binding commands share are in
// iampolicy.go.

func init() { register(iamCmd) }

func iamCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "iam", Short: "Manage IAM service accounts and roles"}
	for _, mk := range []func(*Globals) *cobra.Command{saCmd, rolesCmd, troubleshootCmd} {
		root.AddCommand(mk(g))
	}
	return root
}

func saCmd(g *Globals) *cobra.Command {
	sa := &cobra.Command{Use: "service-accounts", Short: "Create and manage service accounts"}
	sa.AddCommand(
		saCreateCmd(g), saDescribeCmd(g), saListCmd(g), saDeleteCmd(g), saUndeleteCmd(g),
		saEnableCmd(g, false), saEnableCmd(g, true), saGetIamPolicyCmd(g),
		saBindingCmd(g, true), saBindingCmd(g, false),
	)
	return sa
}

func rolesCmd(g *Globals) *cobra.Command {
	roles := &cobra.Command{Use: "roles", Short: "Explore the predefined IAM roles"}
	roles.AddCommand(rolesListCmd(g), rolesDescribeCmd(g))
	return roles
}

func iamClient(cmd *cobra.Command, g *Globals) (*iamv1.Service, error) {
	return iamv1.NewService(ctx(cmd), g.ClientOptions()...)
}

// saName is the resource name gcloud uses for an account given by email
// or unique id: through the "-" project wildcard.
func saName(account string) string { return "projects/-/serviceAccounts/" + account }

var saIdentifierRule = regexp.MustCompile(`^(.+@.+\..+|[0-9]+)$`)

// iamAccountArg checks a SERVICE_ACCOUNT argument as gcloud's validator does.
func iamAccountArg(v string) error {
	if saIdentifierRule.MatchString(v) {
		return nil
	}
	return usagef("argument SERVICE_ACCOUNT: Bad value [%s]: Not a valid service account identifier. "+
		"It should be either a numeric string representing the unique_id or an email of the form: "+
		"my-iam-account@somedomain.com or my-iam-account@PROJECT_ID.iam.gserviceaccount.com", v)
}

// ---- service accounts ----

func saCreateCmd(g *Globals) *cobra.Command {
	var displayName, description string
	cmd := &cobra.Command{
		Use:   "create NAME [--display-name=DISPLAY_NAME] [--description=DESCRIPTION]",
		Short: "Create a service account for a project",
		Long: "Creates a service account NAME@PROJECT_ID.iam.gserviceaccount.com in the project of --project.\n" +
			"Refer to it by that email in the other commands.",
		Args: positionalArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, err := g.RequireProject()
			if err != nil {
				return err
			}
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			sa, err := svc.Projects.ServiceAccounts.Create("projects/"+project, &iamv1.CreateServiceAccountRequest{
				AccountId:      args[0],
				ServiceAccount: &iamv1.ServiceAccount{DisplayName: displayName, Description: description},
			}).Context(ctx(cmd)).Do()
			if err != nil {
				var ge *googleapi.Error
				if errors.As(err, &ge) && ge.Code == http.StatusConflict {
					return fmt.Errorf("Resource in projects [%s] is the subject of a conflict: %s", project, ge.Message)
				}
				return APIError(err)
			}
			g.Status("Created service account [%s].", args[0])
			return g.Print(sa, false, "none")
		},
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "A textual name to display for the account.")
	cmd.Flags().StringVar(&description, "description", "", "A textual description for the account.")
	return cmd
}

// saAccountCmd is a command on one account, given by email or unique id.
func saAccountCmd(use, short string, run func(cmd *cobra.Command, svc *iamv1.Service, account string) error, g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   use + " SERVICE_ACCOUNT",
		Short: short,
		Args:  positionalArgs("SERVICE_ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := iamAccountArg(args[0]); err != nil {
				return err
			}
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			return run(cmd, svc, args[0])
		},
	}
}

func saDescribeCmd(g *Globals) *cobra.Command {
	return saAccountCmd("describe", "Show metadata for a service account", func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		sa, err := svc.Projects.ServiceAccounts.Get(saName(account)).Context(ctx(cmd)).Do()
		if err != nil {
			return APIError(err)
		}
		return g.Print(sa, false, "yaml")
	}, g)
}

// saListFormat is gcloud's SERVICE_ACCOUNT_FORMAT.
const saListFormat = `table(displayName:label="DISPLAY NAME", email, disabled)`

func saListCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List a project's service accounts",
		Args:  positionalArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, err := g.RequireProject()
			if err != nil {
				return err
			}
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			var items []map[string]any
			call := svc.Projects.ServiceAccounts.List("projects/" + project).PageSize(g.pageSize(100))
			err = call.Pages(ctx(cmd), func(resp *iamv1.ListServiceAccountsResponse) error {
				for _, sa := range resp.Accounts {
					m := map[string]any{}
					if err := Convert(&m, sa); err != nil {
						return err
					}
					// The API's JSON leaves a false "disabled" out; gcloud's
					// table shows it as False.
					m["disabled"] = sa.Disabled
					items = append(items, m)
				}
				return nil
			})
			if err != nil {
				return APIError(err)
			}
			if items == nil {
				items = []map[string]any{}
			}
			return g.PrintList(items, saListFormat)
		},
	}
	listFlags(g, cmd)
	return cmd
}

func saDeleteCmd(g *Globals) *cobra.Command {
	return saAccountCmd("delete", "Delete a service account from a project", func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		// gcloud: PromptContinue(message, cancel_on_no=True); no answer
		// (the end of the input) takes the default, yes.
		if _, err := g.Confirm(Prompt{Message: fmt.Sprintf("You are about to delete service account [%s]", account), Default: true, CancelOnNo: true}); err != nil {
			return err
		}
		if _, err := svc.Projects.ServiceAccounts.Delete(saName(account)).Context(ctx(cmd)).Do(); err != nil {
			return APIError(err)
		}
		g.Status("deleted service account [%s]", account)
		return nil
	}, g)
}

func saUndeleteCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "undelete ACCOUNT_ID",
		Short: "Undelete a service account, given its unique id",
		Long: "Restores a deleted service account. ACCOUNT_ID is the account's numeric unique id " +
			"(uniqueId in describe, or the uid= of the deleted: member its bindings now name).",
		Args: positionalArgs("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if id == "" || strings.Trim(id, "0123456789") != "" {
				return invalidArg("account_id", "Account unique ID should be a number. Please double check your input and try again.")
			}
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			resp, err := svc.Projects.ServiceAccounts.Undelete(saName(id), &iamv1.UndeleteServiceAccountRequest{}).Context(ctx(cmd)).Do()
			if err != nil {
				return APIError(err)
			}
			return g.Print(resp, false, "yaml")
		},
	}
}

func saEnableCmd(g *Globals, disable bool) *cobra.Command {
	use, short, done := "enable", "Enable an IAM service account", "Enabled"
	if disable {
		use, short, done = "disable", "Disable an IAM service account", "Disabled"
	}
	return saAccountCmd(use, short, func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		var err error
		if disable {
			_, err = svc.Projects.ServiceAccounts.Disable(saName(account), &iamv1.DisableServiceAccountRequest{}).Context(ctx(cmd)).Do()
		} else {
			_, err = svc.Projects.ServiceAccounts.Enable(saName(account), &iamv1.EnableServiceAccountRequest{}).Context(ctx(cmd)).Do()
		}
		if err != nil {
			return APIError(err)
		}
		g.Status("%s service account [%s].", done, account)
		return nil
	}, g)
}

func saGetPolicy(c context.Context, svc *iamv1.Service, account string) (*Policy, error) {
	return converted(svc.Projects.ServiceAccounts.GetIamPolicy(saName(account)).OptionsRequestedPolicyVersion(3).Context(c).Do())
}

func saGetIamPolicyCmd(g *Globals) *cobra.Command {
	cmd := saAccountCmd("get-iam-policy", "Get the IAM policy of a service account", func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		p, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(account)).OptionsRequestedPolicyVersion(3).Context(ctx(cmd)).Do()
		if err != nil {
			return APIError(err)
		}
		return g.Print(p, false, "yaml")
	}, g)
	listFlags(g, cmd)
	return cmd
}

func saBindingCmd(g *Globals, add bool) *cobra.Command {
	var member, role string
	var cf condFlags
	use, short := "add-iam-policy-binding", "Add an IAM policy binding to a service account"
	if !add {
		use, short = "remove-iam-policy-binding", "Remove an IAM policy binding from a service account"
	}
	cmd := saAccountCmd(use, short, func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		m, err := checkBinding(cmd, member, role)
		if err != nil {
			return err
		}
		cond, err := cf.read(cmd, role)
		if err != nil {
			return err
		}
		api := policyAPI{
			get: func(c context.Context) (*Policy, error) { return saGetPolicy(c, svc, account) },
			set: func(c context.Context, p *Policy) (any, error) {
				var ip iamv1.Policy
				if err := Convert(&ip, p); err != nil {
					return nil, err
				}
				return svc.Projects.ServiceAccounts.SetIamPolicy(saName(account), &iamv1.SetIamPolicyRequest{Policy: &ip}).Context(c).Do()
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
		g.Status("Updated IAM policy for serviceAccount [%s].", account)
		return g.Print(out, false, "yaml")
	}, g)
	cmd.Use = use + " SERVICE_ACCOUNT --member=PRINCIPAL --role=ROLE " + conditionUsage(!add)
	bindingFlags(cmd, &member, &role, add)
	cf.register(g, cmd, !add)
	return cmd
}

// ---- roles ----

func rolesListCmd(g *Globals) *cobra.Command {
	var showDeleted bool
	var org string
	cmd := &cobra.Command{
		Use:   "list [--organization=ORGANIZATION] [--show-deleted]",
		Short: "List the predefined roles (or the custom roles of --project or --organization)",
		Args:  positionalArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			// As gcloud: only an explicit --project (not the configured
			// project) or --organization asks for custom roles.
			project := ""
			if f := cmd.Flag("project"); f != nil && f.Changed {
				project = g.Project
			}
			if project != "" && org != "" {
				return usagef("arguments not allowed simultaneously: --organization, --project")
			}
			var roles []*iamv1.Role
			collect := func(resp *iamv1.ListRolesResponse) error {
				roles = append(roles, resp.Roles...)
				return nil
			}
			size := g.pageSize(100)
			switch {
			case project != "":
				err = svc.Projects.Roles.List("projects/"+project).ShowDeleted(showDeleted).PageSize(size).Pages(ctx(cmd), collect)
			case org != "":
				err = svc.Organizations.Roles.List("organizations/"+org).ShowDeleted(showDeleted).PageSize(size).Pages(ctx(cmd), collect)
			default:
				err = svc.Roles.List().ShowDeleted(showDeleted).PageSize(size).Pages(ctx(cmd), collect)
			}
			if err != nil {
				return APIError(err)
			}
			if roles == nil {
				roles = []*iamv1.Role{}
			}
			return g.PrintList(roles, "yaml")
		},
	}
	gcloudStoreTrue(cmd.Flags(), &showDeleted, "show-deleted", "", false, "Show deleted roles by specifying this flag.")
	cmd.Flags().StringVar(&org, "organization", "", "The organization of the custom roles to list.")
	listFlags(g, cmd)
	return cmd
}

func rolesDescribeCmd(g *Globals) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "describe ROLE_ID [--organization=ORGANIZATION]",
		Short: "Show metadata for a role, e.g. roles/cloudfunctions.invoker",
		Args:  positionalArgs("ROLE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			role := args[0]
			project := ""
			if f := cmd.Flag("project"); f != nil && f.Changed {
				project = g.Project
			}
			name, err := iamRoleName(org, project, role)
			if err != nil {
				return err
			}
			svc, err := iamClient(cmd, g)
			if err != nil {
				return err
			}
			var r *iamv1.Role
			switch {
			case strings.HasPrefix(name, "projects/"):
				r, err = svc.Projects.Roles.Get(name).Context(ctx(cmd)).Do()
			case strings.HasPrefix(name, "organizations/"):
				r, err = svc.Organizations.Roles.Get(name).Context(ctx(cmd)).Do()
			default:
				r, err = svc.Roles.Get(name).Context(ctx(cmd)).Do()
			}
			if err != nil {
				return APIError(err)
			}
			if r.Stage == "" {
				r.Stage = "ALPHA" // gcloud's SetRoleStageIfAlpha
			}
			return g.Print(r, false, "yaml")
		},
	}
	cmd.Flags().StringVar(&org, "organization", "", "The organization of a custom role.")
	return cmd
}

// iamRoleName is gcloud's GetRoleName.
func iamRoleName(org, project, role string) (string, error) {
	if strings.HasPrefix(role, "roles/") {
		if project != "" || org != "" {
			return "", invalidArg("ROLE_ID", "The role id that starts with 'roles/' only stands for predefined role. "+
				"Should not specify the project or organization for predefined roles")
		}
		return role, nil
	}
	if strings.HasPrefix(role, "projects/") || strings.HasPrefix(role, "organizations/") {
		return "", invalidArg("ROLE_ID", "The role id should not include any 'projects/' or 'organizations/' prefix.")
	}
	if strings.Contains(role, "/") {
		return "", invalidArg("ROLE_ID", "The role id should not include any '/' character.")
	}
	switch {
	case org == "" && project == "":
		return "", errors.New("Missing required argument [--organization or --project]: Should specify the project or organization name for custom roles.")
	case org != "" && project != "":
		return "", usagef("arguments not allowed simultaneously: --organization, --project")
	case org != "":
		return "organizations/" + org + "/roles/" + role, nil
	}
	return "projects/" + project + "/roles/" + role, nil
}
