package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"

	"github.com/spf13/cobra"
	cfv2 "google.golang.org/api/cloudfunctions/v2"

	"github.com/oidcron/oidcron/internal/functions"
)

const deployLong = `Create or update a function, as gcloud functions deploy does.

A function in oidcron runs no code: it is an HTTP upstream that oidcron's invoker gateway
guards with Cloud Functions' rules (401 for a bad token, 403 without the invoke permission).
So --upstream URL takes the place of gcloud's source and runtime flags (--source, --runtime,
--entry-point, --stage-bucket); it is stored in the function's service config as the
environment variable OIDCRON_UPSTREAM. Every function is HTTP-triggered (--trigger-http is
accepted and changes nothing).

A new function is 1st gen unless --gen2 is given; an existing function keeps its
generation. A new function is private: --allow-unauthenticated grants allUsers the invoker
role (roles/cloudfunctions.invoker on a 1st gen function, roles/run.invoker on the Cloud
Run service behind a 2nd gen one); without either flag, you are asked on a terminal, and
nothing is granted otherwise. On an existing function, --allow-unauthenticated and
--no-allow-unauthenticated add or remove that grant.

The function is created or updated with the Cloud Functions v2 API, and then printed as
gcloud prints it (the v1 shape for a 1st gen function, the v2 shape for a 2nd gen one).`

func functionsDeployCmd(g *Globals) *cobra.Command {
	f := &fnFlags{}
	var upstream string
	var allow *bool // --allow-unauthenticated or --no-allow-unauthenticated, the last given
	var triggerHTTP bool
	var runtime, source, entryPoint, stageBucket string
	cmd := &cobra.Command{
		Use:   "deploy NAME --region REGION --upstream URL",
		Short: "Create or update a function that fronts an HTTP upstream",
		Long:  deployLong,
		Example: "  oidcron functions deploy hello --region=us-central1 --upstream=http://127.0.0.1:9000\n" +
			"  oidcron functions deploy hello2 --region=us-central1 --upstream=http://127.0.0.1:9000 --gen2 --allow-unauthenticated",
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, unsupported := range []struct{ flag, value string }{
				{"--source", source}, {"--runtime", runtime}, {"--entry-point", entryPoint}, {"--stage-bucket", stageBucket},
			} {
				if unsupported.value != "" {
					return usagef("argument %s: oidcron runs no code, so it takes no source or runtime; give the function's HTTP upstream with --upstream URL.", unsupported.flag)
				}
			}
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			if upstream != "" {
				if u, err := url.Parse(upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("Invalid value for [--upstream]: %q is not an absolute http:// or https:// URL.", upstream)
				}
			}
			d := &deploy{g: g, ref: ref, name: args[0], upstream: upstream, setAllow: allow}
			return d.run(ctx(cmd), f)
		},
	}
	f.add(cmd, "to deploy")
	fl := cmd.Flags()
	fl.StringVar(&upstream, "upstream", "", "the http(s) URL the function forwards its invocations to (required for a new function); replaces gcloud's --source and --runtime")
	gcloudBoolPair(fl, &allow, "allow-unauthenticated", "make this a public function: grant allUsers the invoker role",
		"make this function private: remove allUsers' invoker role")
	gcloudStoreTrue(fl, &triggerHTTP, "trigger-http", "", false, "accepted for gcloud compatibility: every oidcron function is HTTP-triggered")
	for name, p := range map[string]*string{"runtime": &runtime, "source": &source, "entry-point": &entryPoint, "stage-bucket": &stageBucket} {
		fl.StringVar(p, name, "", "not supported: use --upstream")
		_ = fl.MarkHidden(name)
	}
	return cmd
}

type deploy struct {
	g        *Globals
	ref      fnRef
	name     string // NAME as given, for the prompt
	upstream string
	setAllow *bool // --allow-unauthenticated (true) or --no-allow-unauthenticated (false)
}

func (d *deploy) run(ctx context.Context, f *fnFlags) error {
	g, ref := d.g, d.ref
	c, err := g.functionsClients(ctx)
	if err != nil {
		return err
	}
	existing, err := c.v2.Projects.Locations.Functions.Get(ref.Name()).Context(ctx).Do()
	if isNotFound(err) {
		existing, err = nil, nil
	}
	if err != nil {
		return functionsError(err)
	}
	gen2 := f.gen2 != nil && *f.gen2
	switch {
	case f.gen2 == nil:
		gen2 = existing != nil && existing.Environment == "GEN_2"
	case existing == nil:
	case gen2 && existing.Environment != "GEN_2":
		return errors.New("Invalid value for [--gen2]: Function already exists in 1st gen, can't change the environment.")
	case !gen2 && existing.Environment == "GEN_2":
		return errors.New("Invalid value for [--no-gen2]: Function already exists in 2nd gen, can't change the environment.")
	}
	if existing == nil {
		return d.create(ctx, c, gen2)
	}
	return d.update(ctx, c, existing, gen2)
}

func (d *deploy) create(ctx context.Context, c *fnClients, gen2 bool) error {
	g, ref := d.g, d.ref
	if d.upstream == "" {
		return errors.New("Missing required argument [--upstream]: Flag `--upstream` is required for new functions.")
	}
	allow := false
	if d.setAllow != nil {
		allow = *d.setAllow
	} else {
		allow = g.ask(fmt.Sprintf("Allow unauthenticated invocations of new function [%s]?", d.name), false)
	}
	env := "GEN_1"
	if gen2 {
		env = "GEN_2"
	}
	fn := &cfv2.Function{
		Name:          ref.Name(),
		Environment:   env,
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{functions.UpstreamEnv: d.upstream}},
	}
	op, err := c.v2.Projects.Locations.Functions.Create(ref.Parent(), fn).FunctionId(ref.ID).Context(ctx).Do()
	if err != nil {
		return APIError(err)
	}
	if !gen2 && !allow && d.setAllow == nil {
		g.warn("Function created with limited-access IAM policy. To enable unauthorized access consider `%s`", d.bindAllUsersCommand())
	}
	if err := c.wait(ctx, op); err != nil {
		return APIError(err)
	}
	if allow {
		if err := d.setAllUsers(ctx, c, gen2, true); err != nil {
			return err
		}
	}
	return d.print(ctx, c, gen2)
}

func (d *deploy) update(ctx context.Context, c *fnClients, existing *cfv2.Function, gen2 bool) error {
	g, ref := d.g, d.ref
	env := map[string]string{}
	if existing.ServiceConfig != nil {
		maps.Copy(env, existing.ServiceConfig.EnvironmentVariables)
	}
	if d.upstream != "" && env[functions.UpstreamEnv] != d.upstream {
		env[functions.UpstreamEnv] = d.upstream
		patch := &cfv2.Function{Name: ref.Name(), ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: env}}
		op, err := c.v2.Projects.Locations.Functions.Patch(ref.Name(), patch).UpdateMask("service_config.environment_variables").Context(ctx).Do()
		if err != nil {
			return APIError(err)
		}
		if err := c.wait(ctx, op); err != nil {
			return APIError(err)
		}
	} else {
		g.Status("Nothing to update.")
		if !gen2 && d.setAllow == nil {
			return nil // gcloud's 1st gen deploy stops here, printing nothing more
		}
	}
	if d.setAllow != nil {
		if err := d.setAllUsers(ctx, c, gen2, *d.setAllow); err != nil {
			return err
		}
	}
	return d.print(ctx, c, gen2)
}

// setAllUsers grants (or removes) allUsers' invoker role: on the function
// through the v1 API for 1st gen, on its Cloud Run service for 2nd gen.
func (d *deploy) setAllUsers(ctx context.Context, c *fnClients, gen2, grant bool) error {
	if !gen2 {
		pol := c.v1Policy(d.ref.Name())
		var err error
		if grant {
			_, err = pol.add(ctx, "allUsers", roleFunctionsInvoker)
		} else {
			_, err = pol.removeIfFound(ctx, "allUsers", roleFunctionsInvoker, false)
		}
		if err != nil {
			// gcloud's 1st gen deploy goes on, with this advice.
			d.g.warn("Setting IAM policy failed, try `%s`", d.bindAllUsersCommand())
		}
		return nil
	}
	fn, err := c.v2.Projects.Locations.Functions.Get(d.ref.Name()).Context(ctx).Do()
	if err != nil {
		return functionsError(err)
	}
	pol := c.runPolicy(serviceOf(fn))
	if grant {
		_, err = pol.add(ctx, "allUsers", roleRunInvoker)
	} else {
		_, err = pol.removeIfFound(ctx, "allUsers", roleRunInvoker, true)
	}
	if err != nil {
		return APIError(err)
	}
	return nil
}

// print shows the deployed function as gcloud does: the v1 shape for a 1st
// gen function, the v2 shape for a 2nd gen one.
func (d *deploy) print(ctx context.Context, c *fnClients, gen2 bool) error {
	if gen2 {
		fn, err := c.v2.Projects.Locations.Functions.Get(d.ref.Name()).Context(ctx).Do()
		if err != nil {
			return functionsError(err)
		}
		return d.g.Print(fn, false, "yaml")
	}
	fn, err := c.v1.Projects.Locations.Functions.Get(d.ref.Name()).Context(ctx).Do()
	if err != nil {
		return functionsError(err)
	}
	return d.g.Print(fn, false, "yaml")
}

func (d *deploy) bindAllUsersCommand() string {
	return fmt.Sprintf("oidcron functions add-iam-policy-binding %s --region=%s --member=allUsers --role=%s", d.ref.ID, d.ref.Region, roleFunctionsInvoker)
}
