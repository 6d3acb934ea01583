package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	runv2 "google.golang.org/api/run/v2"
)

const (
	roleFunctionsInvoker = "roles/cloudfunctions.invoker"
	roleRunInvoker       = "roles/run.invoker"
	authDocsURL          = "https://cloud.google.com/functions/docs/securing/authenticating#authenticating_function_to_function_calls"
)

// The function commands' policies, through one API each: the v1 function
// paths (1st gen), the v2 function paths (2nd gen), or the Cloud Run
// service behind a 2nd gen function. gcloud's function commands write the
// policy back with the version they read (keepVersion), unlike the
// project and service account commands, which force version 3.

func (c *fnClients) v1Policy(resource string) policyAPI {
	fns := c.v1.Projects.Locations.Functions
	return keptVersionPolicy(
		func(ctx context.Context) (any, error) { return fns.GetIamPolicy(resource).Context(ctx).Do() },
		func(ctx context.Context, p *cfv1.Policy) (any, error) {
			return fns.SetIamPolicy(resource, &cfv1.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
		})
}

func (c *fnClients) v2Policy(resource string) policyAPI {
	fns := c.v2.Projects.Locations.Functions
	return keptVersionPolicy(
		func(ctx context.Context) (any, error) { return fns.GetIamPolicy(resource).Context(ctx).Do() },
		func(ctx context.Context, p *cfv2.Policy) (any, error) {
			return fns.SetIamPolicy(resource, &cfv2.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
		})
}

func (c *fnClients) runPolicy(service string) policyAPI {
	svcs := c.run.Projects.Locations.Services
	return keptVersionPolicy(
		func(ctx context.Context) (any, error) { return svcs.GetIamPolicy(service).Context(ctx).Do() },
		func(ctx context.Context, p *runv2.GoogleIamV1Policy) (any, error) {
			return svcs.SetIamPolicy(service, &runv2.GoogleIamV1SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
		})
}

// keptVersionPolicy adapts one client library's get and set of a policy
// (its own Policy type P) to policyAPI, writing back the version read.
func keptVersionPolicy[P any](get func(context.Context) (any, error), set func(context.Context, *P) (any, error)) policyAPI {
	return policyAPI{
		keepVersion: true,
		get: func(ctx context.Context) (*Policy, error) {
			return converted(get(ctx))
		},
		set: func(ctx context.Context, p *Policy) (any, error) {
			var cp P
			if err := Convert(&cp, p); err != nil {
				return nil, err
			}
			return set(ctx, &cp)
		},
	}
}

// add is gcloud's AddBindingToIamPolicy in a read-modify-write.
func (a policyAPI) add(ctx context.Context, member, role string) (any, error) {
	return a.edit(ctx, func(p *Policy) error {
		p.AddBinding(member, role, nil)
		return nil
	})
}

// remove is gcloud's RemoveBindingFromIamPolicy: an error when the binding
// is not there.
func (a policyAPI) remove(ctx context.Context, member, role string) (any, error) {
	return a.edit(ctx, func(p *Policy) error { return p.RemoveBinding(member, role, nil) })
}

// errNoChange stops an edit that has nothing to write.
var errNoChange = errors.New("no change")

// removeIfFound removes the binding when it is there. Without it, the
// policy is left alone and returned as read (gcloud's
// RemoveFunctionIamPolicyBindingIfFound, for 1st gen), or written back
// unchanged when alwaysWrite is set (gcloud's Cloud Run
// AddOrRemoveIamPolicyBinding).
func (a policyAPI) removeIfFound(ctx context.Context, member, role string, alwaysWrite bool) (any, error) {
	var read *Policy
	out, err := a.edit(ctx, func(p *Policy) error {
		err := p.RemoveBinding(member, role, nil)
		switch {
		case !errors.Is(err, ErrBindingNotFound):
			return err
		case alwaysWrite:
			return nil
		}
		read = p
		return errNoChange
	})
	if errors.Is(err, errNoChange) {
		return read, nil
	}
	return out, err
}

// runPolicyHint tells where the Cloud Run service's policy can be read:
// gcloud names `gcloud run services get-iam-policy`, which oidcron does not
// have, so the REST call is given instead.
func (g *Globals) runPolicyHint(service string) string {
	return "curl -s " + strings.TrimRight(g.Endpoint, "/") + "/v2/" + service + ":getIamPolicy"
}

// get-iam-policy

func functionsGetIamPolicyCmd(g *Globals) *cobra.Command {
	f := &fnFlags{}
	cmd := &cobra.Command{
		Use:   "get-iam-policy NAME",
		Short: "Get the IAM policy of a function",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			ctx := ctx(cmd)
			c, t, err := g.openFunction(ctx, f, ref)
			if err != nil {
				return err
			}
			var p any
			if !t.gen2 {
				p, err = c.v1.Projects.Locations.Functions.GetIamPolicy(ref.Name()).Context(ctx).Do()
			} else {
				fn, ferr := c.function(ctx, t)
				if ferr != nil {
					return functionsError(ferr)
				}
				g.warn("To view more details about the invoker policy in the underlying Cloud Run Service, please run:\n\n %s\n", g.runPolicyHint(serviceOf(fn)))
				p, err = c.v2.Projects.Locations.Functions.GetIamPolicy(ref.Name()).Context(ctx).Do()
			}
			if err != nil {
				return functionsError(err)
			}
			return g.Print(p, false, "yaml")
		},
	}
	f.add(cmd, "to get the IAM policy of")
	listFlags(g, cmd)
	return cmd
}

// add-iam-policy-binding, remove-iam-policy-binding

func functionsBindingCmd(g *Globals, add bool) *cobra.Command {
	f := &fnFlags{}
	var member, role string
	use, short, verb := "add-iam-policy-binding NAME", "Add an IAM policy binding to a function", "to add the IAM policy binding to"
	if !add {
		use, short, verb = "remove-iam-policy-binding NAME", "Remove an IAM policy binding from a function", "to remove the IAM policy binding from"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + ".\n\n" +
			"For a 1st gen function this edits the function's policy with the v1 API. For a 2nd gen\n" +
			"function it edits the function's policy with the v2 API; note that invoking a 2nd gen\n" +
			"function needs roles/run.invoker on its Cloud Run service (see add-invoker-policy-binding).",
		Example: "  oidcron functions add-iam-policy-binding FUNCTION --region=us-central1 \\\n" +
			"    --member=serviceAccount:scheduler-invoker@PROJECT.iam.gserviceaccount.com --role=roles/cloudfunctions.invoker",
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			mem, err := checkBinding(cmd, member, role)
			if err != nil {
				return err
			}
			m := &fnBinding{member: mem, role: role}
			ctx := ctx(cmd)
			c, t, err := g.openFunction(ctx, f, ref)
			if err != nil {
				return err
			}
			var p any
			switch {
			case !t.gen2 && add:
				p, err = c.v1Policy(ref.Name()).add(ctx, m.member, m.role)
			case !t.gen2:
				p, err = c.v1Policy(ref.Name()).remove(ctx, m.member, m.role)
			case add:
				p, err = g.addGen2Binding(ctx, c, t, m)
			default:
				p, err = g.removeGen2Binding(ctx, c, t, m)
			}
			if err != nil {
				return functionsError(err)
			}
			return g.Print(p, false, "yaml")
		},
	}
	f.add(cmd, verb)
	bindingFlags(cmd, &member, &role, add)
	return cmd
}

// fnBinding is a checked --member and --role.
type fnBinding struct{ member, role string }

// invokerRoleCaveat holds the Cloud Functions roles that, bound on a 2nd gen
// function, do not let the member invoke it.
var invokerRoleCaveat = []string{"roles/cloudfunctions.admin", "roles/cloudfunctions.developer", roleFunctionsInvoker}

// addGen2Binding is gcloud's 2nd gen add-iam-policy-binding, with its
// caveats: roles/run.invoker belongs on the Cloud Run service, and the
// Cloud Functions roles do not grant invocation of a 2nd gen function.
func (g *Globals) addGen2Binding(ctx context.Context, c *fnClients, t *fnTarget, m *fnBinding) (any, error) {
	if t.missing != nil {
		return nil, t.missing
	}
	if m.role == roleRunInvoker {
		g.warn("The role [roles/run.invoker] cannot be bound to a Cloud Function IAM policy as it is a Cloud Run role. " +
			"For 2nd gen functions, this role must be granted on the underlying Cloud Run service. " +
			"This can be done by running the `oidcron functions add-invoker-policy-binding` command.\n")
		if g.ask(fmt.Sprintf("Would you like to run this command instead and grant [%s] permission to invoke function [%s]", m.member, t.ref.ID), true) {
			fn, err := c.function(ctx, t)
			if err != nil {
				return nil, err
			}
			return c.runPolicy(serviceOf(fn)).add(ctx, m.member, roleRunInvoker)
		}
	}
	p, err := c.v2Policy(t.ref.Name()).add(ctx, m.member, m.role)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(invokerRoleCaveat, m.role) {
		return p, nil
	}
	g.warn("The role [%s] was successfully bound to member [%s] but this does not grant the member permission to invoke 2nd gen function [%s]. "+
		"Instead, the role [roles/run.invoker] must be granted on the underlying Cloud Run service. "+
		"This can be done by running the `oidcron functions add-invoker-policy-binding` command.\n", m.role, m.member, t.ref.ID)
	if g.ask(fmt.Sprintf("Would you like to run this command and additionally grant [%s] permission to invoke function [%s]", m.member, t.ref.ID), true) {
		fn, err := c.function(ctx, t)
		if err != nil {
			return nil, err
		}
		if _, err := c.runPolicy(serviceOf(fn)).add(ctx, m.member, roleRunInvoker); err != nil {
			return nil, err
		}
		g.Status("The role [roles/run.invoker] was successfully bound to the underlying Cloud Run service. You can view its IAM policy by running:\n%s\n", g.runPolicyHint(serviceOf(fn)))
		return p, nil
	}
	g.Status("Additional information on authenticating function calls can be found at:\n%s", authDocsURL)
	return p, nil
}

// removeGen2Binding is gcloud's 2nd gen remove-iam-policy-binding.
func (g *Globals) removeGen2Binding(ctx context.Context, c *fnClients, t *fnTarget, m *fnBinding) (any, error) {
	if t.missing != nil {
		return nil, t.missing
	}
	p, err := c.v2Policy(t.ref.Name()).remove(ctx, m.member, m.role)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(invokerRoleCaveat, m.role) {
		return p, nil
	}
	g.warn("The binding between member %[1]s and role %[2]s has been successfully removed. "+
		"However, to make sure the member %[1]s doesn't have the permission to invoke the 2nd gen function, "+
		"you need to remove the invoker binding in the underlying Cloud Run service. "+
		"This can be done by running the following command:\n  oidcron functions remove-invoker-policy-binding %[3]s --member=%[1]s \n",
		m.member, m.role, t.ref.ID)
	if g.ask(fmt.Sprintf("Would you like to run this command and additionally deny [%s] permission to invoke function [%s]", m.member, t.ref.ID), true) {
		fn, err := c.function(ctx, t)
		if err != nil {
			return nil, err
		}
		if _, err := c.runPolicy(serviceOf(fn)).removeIfFound(ctx, m.member, roleRunInvoker, true); err != nil {
			return nil, err
		}
		g.Status("The role [roles/run.invoker] was successfully removed for member %s in the underlying Cloud Run service. You can view its IAM policy by running:\n%s\n", m.member, g.runPolicyHint(serviceOf(fn)))
	}
	return p, nil
}

// add-invoker-policy-binding, remove-invoker-policy-binding

func functionsInvokerBindingCmd(g *Globals, add bool) *cobra.Command {
	f := &fnFlags{}
	var member string
	use, short, verb := "add-invoker-policy-binding NAME", "Add an invoker binding to the IAM policy of a function", "to add the invoker binding to"
	long := "Grants the member the right to invoke the function: roles/cloudfunctions.invoker on the\n" +
		"function for a 1st gen function, roles/run.invoker on its Cloud Run service for a 2nd gen one."
	if !add {
		use, short, verb = "remove-invoker-policy-binding NAME", "Remove an invoker binding from the IAM policy of a function", "to remove the invoker binding from"
		long = "Removes the member's right to invoke the function: roles/cloudfunctions.invoker on the\n" +
			"function for a 1st gen function, roles/run.invoker on its Cloud Run service for a 2nd gen one."
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			m, err := checkMember(cmd, member)
			if err != nil {
				return err
			}
			ctx := ctx(cmd)
			c, t, err := g.openFunction(ctx, f, ref)
			if err != nil {
				return err
			}
			var p any
			if !t.gen2 {
				pol := c.v1Policy(ref.Name())
				if add {
					p, err = pol.add(ctx, m, roleFunctionsInvoker)
				} else {
					p, err = pol.removeIfFound(ctx, m, roleFunctionsInvoker, false)
				}
			} else {
				var fn *cfv2.Function
				if fn, err = c.function(ctx, t); err == nil {
					pol := c.runPolicy(serviceOf(fn))
					if add {
						p, err = pol.add(ctx, m, roleRunInvoker)
					} else {
						p, err = pol.removeIfFound(ctx, m, roleRunInvoker, true)
					}
				}
			}
			if err != nil {
				return functionsError(err)
			}
			return g.Print(p, false, "yaml")
		},
	}
	f.add(cmd, verb)
	bindingFlags(cmd, &member, nil, add)
	return cmd
}
