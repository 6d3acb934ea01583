package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	pt "google.golang.org/api/policytroubleshooter/v1"
)

// `iam troubleshoot`: Policy Troubleshooter (gcloud's `policy-troubleshoot
// iam RESOURCE --principal-email --permission`), through the
// policytroubleshooter/v1 client. It prints the response as gcloud does
// (YAML by default) and, on stderr, one line saying what it means.

func troubleshootCmd(g *Globals) *cobra.Command {
	var principal, principalEmail, permission, resource string
	cmd := &cobra.Command{
		Use:   "troubleshoot [RESOURCE] --principal=PRINCIPAL --permission=PERMISSION [--resource=RESOURCE]",
		Short: "Explain whether a principal holds a permission on a resource, policy by policy",
		Long: "Asks Policy Troubleshooter whether the principal holds the permission on the resource, and shows\n" +
			"each policy from the resource up to the root: per binding, whether its role contains the\n" +
			"permission and whether the principal is one of its members. The answer is GRANTED, NOT_GRANTED,\n" +
			"or UNKNOWN_INFO_DENIED when you may not read every policy it depends on.\n\n" +
			"RESOURCE (or --resource) is a full resource name:\n" +
			"  //cloudresourcemanager.googleapis.com/projects/PROJECT\n" +
			"  //iam.googleapis.com/projects/PROJECT/serviceAccounts/EMAIL\n" +
			"  //cloudfunctions.googleapis.com/projects/PROJECT/locations/REGION/functions/FUNCTION\n" +
			"  //run.googleapis.com/projects/PROJECT/locations/REGION/services/SERVICE\n" +
			"  //cloudscheduler.googleapis.com/projects/PROJECT/locations/LOCATION/jobs/JOB\n" +
			"--principal is an email (a service account when it ends in .gserviceaccount.com) or\n" +
			"user:EMAIL / serviceAccount:EMAIL; --principal-email is gcloud's spelling of it.",
		Example: "  oidcron iam troubleshoot //cloudfunctions.googleapis.com/projects/demo-project/locations/us-central1/functions/hello \\\n" +
			"    --principal=scheduler-invoker@demo-project.iam.gserviceaccount.com --permission=cloudfunctions.functions.invoke",
		Args: positionalArgsOpt(0, "RESOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if resource != "" && resource != args[0] {
					return usagef("argument RESOURCE: give the resource once, as the argument or with --resource, not both.")
				}
				resource = args[0]
			}
			if principal != "" && principalEmail != "" && principal != principalEmail {
				return usagef("argument --principal: --principal and --principal-email name the same principal; give one of them.")
			}
			if principal == "" {
				principal = principalEmail
			}
			var missing []string
			if resource == "" {
				missing = append(missing, "RESOURCE")
			}
			if permission == "" {
				missing = append(missing, "--permission")
			}
			if principal == "" {
				missing = append(missing, "--principal")
			}
			if len(missing) > 0 {
				return usagef("argument %s: Must be specified.", strings.Join(missing, " "))
			}
			if !strings.HasPrefix(resource, "//") {
				hint := ""
				if strings.HasPrefix(resource, "projects/") && strings.Count(resource, "/") == 1 {
					hint = "; for a project: //cloudresourcemanager.googleapis.com/" + resource
				}
				return fmt.Errorf("Invalid value for [RESOURCE]: %q is not a full resource name (//SERVICE.googleapis.com/NAME)%s.", resource, hint)
			}
			svc, err := pt.NewService(ctx(cmd), g.ClientOptions()...)
			if err != nil {
				return err
			}
			resp, err := svc.Iam.Troubleshoot(&pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyRequest{
				AccessTuple: &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{Principal: principal, Permission: permission, FullResourceName: resource},
			}).Context(ctx(cmd)).Do()
			if err != nil {
				return APIError(err)
			}
			if err := g.Print(resp, false, "yaml"); err != nil {
				return err
			}
			fmt.Fprint(g.Err, troubleshootSummary(principal, permission, resource, resp))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&principal, "principal", "", "the principal to check: an email, user:EMAIL or serviceAccount:EMAIL")
	f.StringVar(&principalEmail, "principal-email", "", "gcloud's name for --principal")
	f.StringVar(&permission, "permission", "", "the IAM permission to check, such as cloudfunctions.functions.invoke")
	f.StringVar(&resource, "resource", "", "the full resource name to check access to (or give it as the argument)")
	return cmd
}

// troubleshootSummary says in one line what the response means, then the
// response's own remarks (errors), one per line.
func troubleshootSummary(principal, permission, resource string, r *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse) string {
	var b strings.Builder
	lacks := fmt.Sprintf("%s does not have %s on %s", principal, permission, resource)
	switch r.Access {
	case "GRANTED":
		fmt.Fprintf(&b, "GRANTED: %s has %s on %s", principal, permission, resource)
		if p, be := troubleshootBinding(r, func(be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) bool { return be.Access == "GRANTED" }); be != nil {
			fmt.Fprintf(&b, ": %s is granted to %s on %s", be.Role, strings.Join(included(be), ", "), p.FullResourceName)
		}
	case "NOT_GRANTED":
		b.WriteString("NOT_GRANTED: " + lacks)
		cond := troubleshootBindingOf(r, "UNKNOWN_CONDITIONAL")
		granting := troubleshootBindingOf(r, "GRANTED")
		// The role to name is the narrowest that holds the permission: a
		// predefined role of the service before the basic roles.
		p, near := troubleshootBinding(r, func(be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) bool {
			return be.RolePermission == "ROLE_PERMISSION_INCLUDED" && !basicRoles[be.Role]
		})
		if near == nil {
			p, near = troubleshootBinding(r, func(be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) bool {
				return be.RolePermission == "ROLE_PERMISSION_INCLUDED"
			})
		}
		switch {
		case cond != nil:
			fmt.Fprintf(&b, ": %s on %s would grant it only under a condition, and oidcron does not evaluate conditions", cond.be.Role, cond.p.FullResourceName)
		case granting != nil:
			fmt.Fprintf(&b, " although %s on %s grants it (see below)", granting.be.Role, granting.p.FullResourceName)
		case near != nil:
			fmt.Fprintf(&b, ": %s on %s contains it, but %s is not among its members", near.Role, p.FullResourceName, principal)
		default:
			b.WriteString(": no role bound to it in these policies contains the permission")
		}
	case "UNKNOWN_INFO_DENIED":
		hidden := 0
		for _, p := range r.ExplainedPolicies {
			if p.Access == "UNKNOWN_INFO_DENIED" {
				hidden++
			}
		}
		fmt.Fprintf(&b, "UNKNOWN_INFO_DENIED: whether %s has %s on %s depends on policies you may not read (%d of %d), or the resource does not exist",
			principal, permission, resource, hidden, len(r.ExplainedPolicies))
	default:
		fmt.Fprintf(&b, "%s: %s, %s, %s", r.Access, principal, permission, resource)
	}
	b.WriteString(".\n")
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "  %s\n", e.Message)
	}
	return b.String()
}

var basicRoles = map[string]bool{"roles/owner": true, "roles/editor": true, "roles/viewer": true}

type troubleshootHit struct {
	p  *pt.GoogleCloudPolicytroubleshooterV1ExplainedPolicy
	be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation
}

// troubleshootBindingOf finds the nearest binding with the given access.
func troubleshootBindingOf(r *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse, access string) *troubleshootHit {
	p, be := troubleshootBinding(r, func(be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) bool { return be.Access == access })
	if be == nil {
		return nil
	}
	return &troubleshootHit{p, be}
}

// troubleshootBinding finds the nearest binding that matches, preferring
// the ones marked HIGH.
func troubleshootBinding(r *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse, match func(*pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) bool) (*pt.GoogleCloudPolicytroubleshooterV1ExplainedPolicy, *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) {
	for _, high := range []bool{true, false} {
		for _, p := range r.ExplainedPolicies {
			for _, be := range p.BindingExplanations {
				if match(be) && (be.Relevance == "HIGH") == high {
					return p, be
				}
			}
		}
	}
	return nil, nil
}

// included lists the members of a binding that cover the principal.
func included(be *pt.GoogleCloudPolicytroubleshooterV1BindingExplanation) []string {
	var out []string
	for m, am := range be.Memberships {
		if am.Membership == "MEMBERSHIP_INCLUDED" {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
