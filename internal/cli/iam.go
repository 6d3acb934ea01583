package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/api/googleapi"
	iamv1 "google.golang.org/api/iam/v1"

	"github.com/oidcron/oidcron/internal/iam"
)

// The `iam` group: service accounts (iam/v1, as gcloud) and the predefined
// roles; and the IAM helpers the other groups' binding commands share
// (argument checks, --member validation, the read-modify-write of a
// policy, policy files).

func init() { register(iamCmd) }

func iamCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "iam", Short: "Manage IAM service accounts and roles"}
	sa := &cobra.Command{Use: "service-accounts", Short: "Create and manage service accounts"}
	sa.AddCommand(
		saCreateCmd(g), saDescribeCmd(g), saListCmd(g), saDeleteCmd(g), saUndeleteCmd(g),
		saEnableCmd(g, false), saEnableCmd(g, true), saGetIamPolicyCmd(g),
		saBindingCmd(g, true), saBindingCmd(g, false),
	)
	roles := &cobra.Command{Use: "roles", Short: "Explore the predefined IAM roles"}
	roles.AddCommand(rolesListCmd(g), rolesDescribeCmd(g))
	root.AddCommand(sa, roles)
	return root
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
	return fmt.Errorf("argument SERVICE_ACCOUNT: Bad value [%s]: Not a valid service account identifier. "+
		"It should be either a numeric string representing the unique_id or an email of the form: "+
		"my-iam-account@somedomain.com or my-iam-account@PROJECT_ID.iam.gserviceaccount.com", v)
}

// iamPositional is gcloud's positional-argument check: each name is
// required, extra arguments are refused.
func iamPositional(names ...string) cobra.PositionalArgs {
	return iamPositionalOpt(len(names), names...)
}

// iamPositionalOpt is iamPositional where only the first required names
// must be given.
func iamPositionalOpt(required int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < required {
			return fmt.Errorf("argument %s: Must be specified.", strings.Join(names[len(args):required], " "))
		}
		if len(args) > len(names) {
			return fmt.Errorf("unrecognized arguments: %s", strings.Join(args[len(names):], " "))
		}
		return nil
	}
}

// iamRequireFlags is gcloud's error for required flags left out.
func iamRequireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f == nil || !f.Changed {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("argument %s: Must be specified.", strings.Join(missing, " "))
	}
	return nil
}

// iamInvalidArg is gcloud's InvalidArgumentException text.
func iamInvalidArg(name, format string, args ...any) error {
	return fmt.Errorf("Invalid value for [%s]: %s", name, fmt.Sprintf(format, args...))
}

// iamBindingFlags adds --member and --role, as gcloud's binding commands
// have them.
func iamBindingFlags(cmd *cobra.Command, member, role *string, add bool) {
	verb := "to add the binding for"
	roleHelp := "Role name to assign to the principal, such as roles/cloudfunctions.invoker."
	if !add {
		verb = "to remove the binding for"
		roleHelp = "The role to remove the principal from."
	}
	cmd.Flags().StringVar(member, "member", "", "The principal "+verb+": user|group|serviceAccount:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers")
	cmd.Flags().StringVar(role, "role", "", roleHelp)
}

// iamCheckBinding validates --member and --role before any request and
// returns the member in its canonical form (emails lower-cased, as the
// server stores them, so removing "user:Alice@x.com" finds "user:alice@x.com").
func iamCheckBinding(cmd *cobra.Command, member, role string) (string, error) {
	if err := iamRequireFlags(cmd, "member", "role"); err != nil {
		return "", err
	}
	m, err := iam.ParseMember(member)
	if err != nil {
		var me *iam.MemberError
		if !errors.As(err, &me) {
			return "", iamInvalidArg("--member", "%v", err)
		}
		msg := me.Rule
		if !strings.HasSuffix(msg, "?") {
			msg += "."
		}
		if me.NoType {
			msg += " Principals are user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers."
		}
		return "", iamInvalidArg("--member", "%s", msg)
	}
	if strings.TrimSpace(role) == "" {
		return "", iamInvalidArg("--role", "must not be empty.")
	}
	return m.String(), nil
}

// iamEditPolicy is gcloud's read-modify-write of a policy: get it (version
// 3), edit it, set it with version 3 and the etag that was read. A
// concurrent change (409) restarts the whole cycle, as gcloud's
// RetryOnHttpStatus(409) does.
func iamEditPolicy(c context.Context, get func() (*Policy, error), set func(*Policy) (any, error), edit func(*Policy) error) (any, error) {
	const attempts = 5
	wait := 100 * time.Millisecond
	for i := 0; ; i++ {
		p, err := get()
		if err != nil {
			return nil, APIError(err)
		}
		if err := edit(p); err != nil {
			return nil, err
		}
		p.Version = 3
		out, err := set(p)
		var ge *googleapi.Error
		if err != nil && errors.As(err, &ge) && ge.Code == http.StatusConflict && i+1 < attempts {
			select {
			case <-c.Done():
				return nil, c.Err()
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		if err != nil {
			return nil, APIError(err)
		}
		return out, nil
	}
}

// iamPrompt is gcloud's PromptContinue with its own prompt string: the
// message, then "PROMPT (Y/n)?"; without a terminal or with --quiet the
// default answers. throwIfUnattended refuses to guess without a terminal.
func iamPrompt(g *Globals, message, prompt string, def, throwIfUnattended bool) (bool, error) {
	if g.Quiet {
		return def, nil
	}
	if throwIfUnattended && !g.Interactive {
		return false, errors.New("This prompt could not be answered because you are not in an interactive session. " +
			"You can re-run the command with the --quiet flag to accept default answers for all prompts.")
	}
	if prompt == "" || !g.Interactive {
		return g.Confirm(message, def)
	}
	if message != "" {
		fmt.Fprintf(g.Err, "%s\n\n", message)
	}
	hint := "(Y/n)"
	if !def {
		hint = "(y/N)"
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		fmt.Fprintf(g.Err, "%s %s?  ", prompt, hint)
		line = line[:0]
		var rerr error
		for {
			n, err := g.In.Read(buf)
			if n == 1 {
				if buf[0] == '\n' {
					break
				}
				line = append(line, buf[0])
			}
			if err != nil {
				rerr = err
				break
			}
		}
		switch ans := strings.ToLower(strings.TrimSpace(string(line))); {
		case ans == "" && rerr == nil:
			return def, nil
		case ans == "y" || ans == "yes":
			return true, nil
		case ans == "n" || ans == "no":
			return false, nil
		case rerr != nil:
			fmt.Fprintln(g.Err)
			return def, nil
		}
		fmt.Fprintln(g.Err, "Please enter 'y' or 'n':")
	}
}

// ---- service accounts ----

func saCreateCmd(g *Globals) *cobra.Command {
	var displayName, description string
	cmd := &cobra.Command{
		Use:   "create NAME [--display-name=DISPLAY_NAME] [--description=DESCRIPTION]",
		Short: "Create a service account for a project",
		Long: "Creates a service account NAME@PROJECT_ID.iam.gserviceaccount.com in the project of --project.\n" +
			"Refer to it by that email in the other commands.",
		Args: iamPositional("NAME"),
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
		Args:  iamPositional("SERVICE_ACCOUNT"),
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
	return &cobra.Command{
		Use:   "list",
		Short: "List a project's service accounts",
		Args:  iamPositional(),
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
			call := svc.Projects.ServiceAccounts.List("projects/" + project).PageSize(iamPageSize(g, 100))
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
			return iamPrintList(g, items, len(items), saListFormat)
		},
	}
}

// iamPrintList prints a list command's records and, when there are none,
// gcloud's "Listed 0 items." status line.
func iamPrintList(g *Globals, items any, n int, format string) error {
	if err := g.Print(items, true, format); err != nil {
		return err
	}
	if n == 0 {
		g.Status("Listed 0 items.")
	}
	return nil
}

// iamPageSize is the page size gcloud's list pager asks for: its batch
// size, or --limit when smaller (and no --filter needs more records).
func iamPageSize(g *Globals, batch int64) int64 {
	if g.Fmt.Limit > 0 && int64(g.Fmt.Limit) < batch && g.Fmt.Filter == "" {
		return int64(g.Fmt.Limit)
	}
	return batch
}

func saDeleteCmd(g *Globals) *cobra.Command {
	return saAccountCmd("delete", "Delete a service account from a project", func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		ok, err := g.Confirm(fmt.Sprintf("You are about to delete service account [%s].", account), true)
		if err != nil {
			return err
		}
		if !ok {
			return ErrAborted
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
		Args: iamPositional("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if id == "" || strings.Trim(id, "0123456789") != "" {
				return iamInvalidArg("account_id", "Account unique ID should be a number. Please double check your input and try again.")
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

func saGetPolicy(cmd *cobra.Command, svc *iamv1.Service, account string) (*Policy, error) {
	p, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(account)).OptionsRequestedPolicyVersion(3).Context(ctx(cmd)).Do()
	if err != nil {
		return nil, err
	}
	var out Policy
	return &out, Convert(&out, p)
}

func saGetIamPolicyCmd(g *Globals) *cobra.Command {
	return saAccountCmd("get-iam-policy", "Get the IAM policy of a service account", func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		p, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(account)).OptionsRequestedPolicyVersion(3).Context(ctx(cmd)).Do()
		if err != nil {
			return APIError(err)
		}
		return g.Print(p, false, "yaml")
	}, g)
}

// saBindingNotFound is gcloud's text for the service account commands,
// which (in the GA track) take no --condition.
var saBindingNotFound = errors.New("Policy binding with the specified principal and role not found!")

func saBindingCmd(g *Globals, add bool) *cobra.Command {
	var member, role string
	use, short := "add-iam-policy-binding", "Add an IAM policy binding to a service account"
	if !add {
		use, short = "remove-iam-policy-binding", "Remove an IAM policy binding from a service account"
	}
	cmd := saAccountCmd(use, short, func(cmd *cobra.Command, svc *iamv1.Service, account string) error {
		m, err := iamCheckBinding(cmd, member, role)
		if err != nil {
			return err
		}
		out, err := iamEditPolicy(ctx(cmd),
			func() (*Policy, error) { return saGetPolicy(cmd, svc, account) },
			func(p *Policy) (any, error) {
				var ip iamv1.Policy
				if err := Convert(&ip, p); err != nil {
					return nil, err
				}
				return svc.Projects.ServiceAccounts.SetIamPolicy(saName(account), &iamv1.SetIamPolicyRequest{Policy: &ip}).Context(ctx(cmd)).Do()
			},
			func(p *Policy) error {
				if add {
					p.AddBinding(m, role)
					return nil
				}
				if err := p.RemoveBinding(m, role); err != nil {
					if errors.Is(err, ErrBindingNotFound) {
						return saBindingNotFound
					}
					return err
				}
				return nil
			})
		if err != nil {
			return err
		}
		g.Status("Updated IAM policy for serviceAccount [%s].", account)
		return g.Print(out, false, "yaml")
	}, g)
	cmd.Use = use + " SERVICE_ACCOUNT --member=PRINCIPAL --role=ROLE"
	iamBindingFlags(cmd, &member, &role, add)
	return cmd
}

// ---- roles ----

func rolesListCmd(g *Globals) *cobra.Command {
	var showDeleted bool
	var org string
	cmd := &cobra.Command{
		Use:   "list [--organization=ORGANIZATION] [--show-deleted]",
		Short: "List the predefined roles (or the custom roles of --project or --organization)",
		Args:  iamPositional(),
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
				return errors.New("arguments not allowed simultaneously: --organization, --project")
			}
			var roles []*iamv1.Role
			collect := func(resp *iamv1.ListRolesResponse) error {
				roles = append(roles, resp.Roles...)
				return nil
			}
			size := iamPageSize(g, 100)
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
			return iamPrintList(g, roles, len(roles), "yaml")
		},
	}
	cmd.Flags().BoolVar(&showDeleted, "show-deleted", false, "Show deleted roles by specifying this flag.")
	cmd.Flags().StringVar(&org, "organization", "", "The organization of the custom roles to list.")
	return cmd
}

func rolesDescribeCmd(g *Globals) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "describe ROLE_ID [--organization=ORGANIZATION]",
		Short: "Show metadata for a role, e.g. roles/cloudfunctions.invoker",
		Args:  iamPositional("ROLE_ID"),
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
			return "", iamInvalidArg("ROLE_ID", "The role id that starts with 'roles/' only stands for predefined role. "+
				"Should not specify the project or organization for predefined roles")
		}
		return role, nil
	}
	if strings.HasPrefix(role, "projects/") || strings.HasPrefix(role, "organizations/") {
		return "", iamInvalidArg("ROLE_ID", "The role id should not include any 'projects/' or 'organizations/' prefix.")
	}
	if strings.Contains(role, "/") {
		return "", iamInvalidArg("ROLE_ID", "The role id should not include any '/' character.")
	}
	switch {
	case org == "" && project == "":
		return "", errors.New("Missing required argument [--organization or --project]: Should specify the project or organization name for custom roles.")
	case org != "" && project != "":
		return "", errors.New("arguments not allowed simultaneously: --organization, --project")
	case org != "":
		return "organizations/" + org + "/roles/" + role, nil
	}
	return "projects/" + project + "/roles/" + role, nil
}

// ---- policy files ----

// iamReadPolicyFile reads a policy from a JSON or YAML file, as gcloud's
// ParseYamlOrJsonPolicyFile does, and returns it with the update mask made
// of the file's top-level fields (sorted).
func iamReadPolicyFile(path string) (*Policy, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("Unable to read file [%s]: %v", path, errors.Unwrap(err))
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("Policy file [%s] is not a properly formatted YAML or JSON policy file. %s", path, fmt.Sprintf(format, args...))
	}
	var doc any
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "{") {
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, nil, bad("%v", err)
		}
	} else if doc, err = iamParseYAML(string(b)); err != nil {
		return nil, nil, bad("%v", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, bad("The file must hold a policy object (bindings, etag, version, auditConfigs).")
	}
	var mask []string
	for k, v := range top {
		switch k {
		case "bindings", "etag", "auditConfigs":
		case "version":
			if s, ok := v.(string); ok {
				n, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					return nil, nil, bad("version: %q is not an integer.", s)
				}
				top[k] = n
			}
		default:
			return nil, nil, bad("Unknown policy field %q: a policy has bindings, etag, version and auditConfigs.", k)
		}
		mask = append(mask, k)
	}
	sort.Strings(mask)
	var p Policy
	if err := Convert(&p, top); err != nil {
		return nil, nil, bad("%v", err)
	}
	if p.Etag != "" {
		if _, err := base64.StdEncoding.DecodeString(p.Etag); err != nil {
			return nil, nil, fmt.Errorf("The etag of policy file [%s] is not properly formatted. %v", path, err)
		}
	}
	return &p, mask, nil
}

// iamParseYAML parses the block-style YAML gcloud writes (and people
// write by hand): mappings, sequences, plain/quoted/block scalars, flow
// sequences and mappings of scalars, comments. Scalars stay strings; null
// and ~ are nil.
func iamParseYAML(src string) (any, error) {
	var lines []yamlLine
	for i, raw := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		if strings.ContainsRune(raw, '\t') && strings.TrimLeft(raw, " ") != "" && strings.HasPrefix(strings.TrimLeft(raw, " "), "\t") {
			return nil, fmt.Errorf("line %d: tabs are not allowed for indentation", i+1)
		}
		text := strings.TrimRight(raw, " \t")
		trimmed := strings.TrimLeft(text, " ")
		lines = append(lines, yamlLine{no: i + 1, indent: len(text) - len(trimmed), text: trimmed, raw: raw})
	}
	p := &yamlParser{lines: lines}
	p.skipBlank()
	if p.i < len(p.lines) && (p.lines[p.i].text == "---" || strings.HasPrefix(p.lines[p.i].text, "--- ")) {
		p.i++
		p.skipBlank()
	}
	if p.i >= len(p.lines) {
		return nil, errors.New("the file is empty")
	}
	v, err := p.node(p.lines[p.i].indent)
	if err != nil {
		return nil, err
	}
	p.skipBlank()
	if p.i < len(p.lines) && p.lines[p.i].text != "..." && p.lines[p.i].text != "---" {
		return nil, fmt.Errorf("line %d: unexpected content %q", p.lines[p.i].no, p.lines[p.i].text)
	}
	return v, nil
}

type yamlLine struct {
	no, indent int
	text, raw  string
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

func (p *yamlParser) skipBlank() {
	for p.i < len(p.lines) {
		t := p.lines[p.i].text
		if t != "" && !strings.HasPrefix(t, "#") {
			return
		}
		p.i++
	}
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// node parses the block node whose first line is at p.i, indented by indent.
func (p *yamlParser) node(indent int) (any, error) {
	l := p.lines[p.i]
	if isSeqItem(l.text) {
		return p.seq(indent)
	}
	if _, _, ok := yamlKey(l.text); ok {
		return p.mapping(indent)
	}
	p.i++
	return p.scalar(l.text, indent-1, l.no)
}

func (p *yamlParser) seq(indent int) (any, error) {
	out := []any{}
	for {
		p.skipBlank()
		if p.i >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.i]
		if l.indent < indent || !isSeqItem(l.text) {
			if l.indent > indent {
				return nil, fmt.Errorf("line %d: bad indentation", l.no)
			}
			return out, nil
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: bad indentation of a sequence item", l.no)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" || strings.HasPrefix(rest, "#") {
			p.i++
			p.skipBlank()
			if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.node(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// "- key: value" or "- - x": the rest is a node at a deeper column.
		col := l.indent + (len(l.text) - len(rest))
		if _, _, ok := yamlKey(rest); ok || isSeqItem(rest) {
			p.lines[p.i] = yamlLine{no: l.no, indent: col, text: rest, raw: l.raw}
			v, err := p.node(col)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		p.i++
		v, err := p.scalar(rest, indent, l.no)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for {
		p.skipBlank()
		if p.i >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.i]
		if l.indent < indent {
			return out, nil
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: bad indentation of a mapping entry", l.no)
		}
		if isSeqItem(l.text) {
			return out, nil
		}
		key, rest, ok := yamlKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: expected \"key: value\", found %q", l.no, l.text)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.no, key)
		}
		p.i++
		if rest == "" || strings.HasPrefix(rest, "#") {
			p.skipBlank()
			if p.i < len(p.lines) {
				n := p.lines[p.i]
				if n.indent > indent || (n.indent == indent && isSeqItem(n.text)) {
					v, err := p.node(n.indent)
					if err != nil {
						return nil, err
					}
					out[key] = v
					continue
				}
			}
			out[key] = nil
			continue
		}
		v, err := p.scalar(rest, indent, l.no)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
}

// scalar parses an inline value; continuation lines (indented deeper than
// parent) fold into it, as multi-line plain and quoted scalars do.
func (p *yamlParser) scalar(text string, parent, no int) (any, error) {
	if text == "|" || text == "|-" || text == "|+" || text == ">" || text == ">-" || text == ">+" {
		return p.block(text, parent), nil
	}
	parts := []string{text}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.text == "" {
			// a blank line inside a folded scalar is a newline; only keep
			// going if the scalar continues after it
			j := p.i
			for j < len(p.lines) && p.lines[j].text == "" {
				j++
			}
			if j < len(p.lines) && p.lines[j].indent > parent && !strings.HasPrefix(p.lines[j].text, "#") && len(parts) > 0 && yamlOpenScalar(text) {
				parts = append(parts, "\n")
				p.i = j
				continue
			}
			break
		}
		if l.indent <= parent || strings.HasPrefix(l.text, "#") {
			break
		}
		if plain := text[0] != '"' && text[0] != '\'' && yamlOpenScalar(text); plain && (strings.Contains(l.text, ": ") || strings.HasSuffix(l.text, ":")) {
			return nil, fmt.Errorf("line %d: mapping values are not allowed here", l.no)
		}
		parts = append(parts, l.text)
		p.i++
	}
	joined := parts[0]
	for _, s := range parts[1:] {
		if s == "\n" || strings.HasSuffix(joined, "\n") {
			joined += s
			continue
		}
		joined += " " + s
	}
	return yamlScalar(joined, no)
}

// yamlOpenScalar reports whether a scalar may run over several lines.
func yamlOpenScalar(s string) bool {
	return !strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "{")
}

// block reads a literal (|) or folded (>) block scalar.
func (p *yamlParser) block(style string, parent int) string {
	var lines []string
	ind := -1
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.text != "" && l.indent <= parent {
			break
		}
		if l.text != "" && ind < 0 {
			ind = l.indent
		}
		if l.text == "" {
			lines = append(lines, "")
		} else {
			lines = append(lines, strings.Repeat(" ", l.indent-ind)+l.text)
		}
		p.i++
	}
	// trailing blank lines belong to the chomping, not the content
	end := len(lines)
	for end > 0 && lines[end-1] == "" {
		end--
	}
	trailing := lines[end:]
	lines = lines[:end]
	var s string
	if style[0] == '|' {
		s = strings.Join(lines, "\n")
	} else {
		var b strings.Builder
		for i, ln := range lines {
			switch {
			case i == 0:
			case ln == "" || lines[i-1] == "":
				b.WriteString("\n")
			case strings.HasPrefix(ln, " ") || strings.HasPrefix(lines[i-1], " "):
				b.WriteString("\n")
			default:
				b.WriteString(" ")
			}
			if ln != "" {
				b.WriteString(ln)
			}
		}
		s = b.String()
	}
	switch {
	case strings.HasSuffix(style, "-"):
	case strings.HasSuffix(style, "+"):
		s += "\n" + strings.Repeat("\n", len(trailing))
	default:
		if len(lines) > 0 {
			s += "\n"
		}
	}
	return s
}

// yamlKey splits "key: rest" (the key plain or quoted).
func yamlKey(t string) (key, rest string, ok bool) {
	if t == "" || t[0] == '[' || t[0] == '{' || t[0] == '#' {
		return "", "", false
	}
	if t[0] == '"' || t[0] == '\'' {
		end := yamlQuoteEnd(t)
		if end < 0 || end+1 >= len(t) || t[end+1] != ':' {
			return "", "", false
		}
		k, err := yamlUnquote(t[:end+1])
		if err != nil {
			return "", "", false
		}
		after := t[end+2:]
		if after != "" && after[0] != ' ' {
			return "", "", false
		}
		return k, strings.TrimSpace(after), true
	}
	for i := 0; i < len(t); i++ {
		if t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			k := strings.TrimSpace(t[:i])
			if k == "" {
				return "", "", false
			}
			return k, strings.TrimSpace(t[i+1:]), true
		}
		if t[i] == ' ' && i+1 < len(t) && t[i+1] == '#' {
			return "", "", false
		}
	}
	return "", "", false
}

// yamlQuoteEnd is the index of the quote closing the string t opens.
func yamlQuoteEnd(t string) int {
	q := t[0]
	for i := 1; i < len(t); i++ {
		switch {
		case q == '"' && t[i] == '\\':
			i++
		case t[i] == q && q == '\'' && i+1 < len(t) && t[i+1] == '\'':
			i++
		case t[i] == q:
			return i
		}
	}
	return -1
}

func yamlUnquote(s string) (string, error) {
	if s[0] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	var out string
	if err := json.Unmarshal([]byte(s), &out); err == nil {
		return out, nil
	}
	// YAML escapes JSON lacks
	r := strings.NewReplacer(`\/`, "/", `\0`, "\x00", `\a`, "\a", `\e`, "\x1b", `\ `, " ", `\_`, "\u00a0", `\N`, "\u0085")
	if err := json.Unmarshal([]byte(r.Replace(s)), &out); err != nil {
		return "", fmt.Errorf("bad double-quoted string %s", s)
	}
	return out, nil
}

// yamlScalar parses one inline value: quoted, flow, or plain.
func yamlScalar(t string, no int) (any, error) {
	t = strings.TrimSpace(t)
	switch {
	case t == "":
		return nil, nil
	case t[0] == '"' || t[0] == '\'':
		end := yamlQuoteEnd(t)
		if end < 0 {
			return nil, fmt.Errorf("line %d: unterminated quoted string", no)
		}
		if rest := strings.TrimSpace(t[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return nil, fmt.Errorf("line %d: unexpected %q after a quoted string", no, rest)
		}
		v, err := yamlUnquote(t[:end+1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", no, err)
		}
		return v, nil
	case t[0] == '[' || t[0] == '{':
		f := &yamlFlow{s: t, no: no}
		v, err := f.value()
		if err != nil {
			return nil, err
		}
		f.space()
		if f.i < len(f.s) && f.s[f.i] != '#' {
			return nil, fmt.Errorf("line %d: unexpected %q after a flow collection", no, f.s[f.i:])
		}
		return v, nil
	case t[0] == '&' || t[0] == '*' || t[0] == '!' || t[0] == '%' || t[0] == '@' || t[0] == '`':
		return nil, fmt.Errorf("line %d: YAML anchors, aliases, tags and directives are not supported in policy files", no)
	}
	if i := strings.Index(t, " #"); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if t == "~" || t == "null" || t == "Null" || t == "NULL" {
		return nil, nil
	}
	return t, nil
}

// yamlFlow parses flow collections ([a, b], {k: v}) of scalars and
// nested flow collections.
type yamlFlow struct {
	s  string
	i  int
	no int
}

func (f *yamlFlow) space() {
	for f.i < len(f.s) && f.s[f.i] == ' ' {
		f.i++
	}
}

func (f *yamlFlow) value() (any, error) {
	f.space()
	if f.i >= len(f.s) {
		return nil, fmt.Errorf("line %d: unterminated flow collection", f.no)
	}
	switch c := f.s[f.i]; c {
	case '[':
		f.i++
		out := []any{}
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return out, nil
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			f.space()
			if f.i < len(f.s) && f.s[f.i] == ',' {
				f.i++
				continue
			}
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return out, nil
			}
			return nil, fmt.Errorf("line %d: expected , or ] in a flow sequence", f.no)
		}
	case '{':
		f.i++
		out := map[string]any{}
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return out, nil
			}
			k, err := f.value()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("line %d: flow mapping keys must be scalars", f.no)
			}
			f.space()
			if f.i >= len(f.s) || f.s[f.i] != ':' {
				return nil, fmt.Errorf("line %d: expected : in a flow mapping", f.no)
			}
			f.i++
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out[ks] = v
			f.space()
			if f.i < len(f.s) && f.s[f.i] == ',' {
				f.i++
				continue
			}
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return out, nil
			}
			return nil, fmt.Errorf("line %d: expected , or } in a flow mapping", f.no)
		}
	case '"', '\'':
		end := yamlQuoteEnd(f.s[f.i:])
		if end < 0 {
			return nil, fmt.Errorf("line %d: unterminated quoted string", f.no)
		}
		v, err := yamlUnquote(f.s[f.i : f.i+end+1])
		f.i += end + 1
		return v, err
	}
	start := f.i
	for f.i < len(f.s) {
		c := f.s[f.i]
		if c == ',' || c == ']' || c == '}' || (c == ':' && (f.i+1 == len(f.s) || f.s[f.i+1] == ' ')) {
			break
		}
		f.i++
	}
	v := strings.TrimSpace(f.s[start:f.i])
	if v == "~" || v == "null" || v == "" {
		return nil, nil
	}
	return v, nil
}
