package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/googleapi"
	runv2 "google.golang.org/api/run/v2"

	"github.com/oidcron/oidcron/internal/gcloudfmt"
)

// The `functions` group: gcloud's Cloud Functions commands. A function in
// oidcron is an HTTP upstream that the invoker gateway guards (README, "What
// is served"), so `deploy` takes the upstream's URL where gcloud takes
// source code and a runtime.
//
// As gcloud 578 does, a command on one function first reads it with the v2
// API to learn its generation (unless --gen2/--no-gen2 says), then talks to
// the v1 API for a 1st gen function and to the v2 API (and the Cloud Run
// service behind it) for a 2nd gen one.

func init() { register(functionsCmd) }

func functionsCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "functions",
		Short: "Manage functions: HTTP upstreams that oidcron's invoker gateway guards",
		Long: "Manage functions as gcloud does. A function in oidcron is an HTTP upstream (given with\n" +
			"`functions deploy --upstream URL`) that the invoker gateway guards with Cloud Functions'\n" +
			"rules: 1st gen functions check roles/cloudfunctions.invoker on the function, 2nd gen\n" +
			"functions roles/run.invoker on the Cloud Run service behind them.",
	}
	cmd.AddCommand(
		functionsDeployCmd(g),
		functionsDescribeCmd(g),
		functionsListCmd(g),
		functionsDeleteCmd(g),
		functionsGetIamPolicyCmd(g),
		functionsBindingCmd(g, true),
		functionsBindingCmd(g, false),
		functionsInvokerBindingCmd(g, true),
		functionsInvokerBindingCmd(g, false),
	)
	return cmd
}

// fnRef names one function.
type fnRef struct{ Project, Region, ID string }

func (r fnRef) Name() string {
	return "projects/" + r.Project + "/locations/" + r.Region + "/functions/" + r.ID
}

func (r fnRef) Parent() string { return "projects/" + r.Project + "/locations/" + r.Region }

// fnNameRule is gcloud's check of a function name (ValidateFunctionNameOrRaise);
// a full resource name is accepted too.
var fnNameRule = regexp.MustCompile(`^(.*/)?[A-Za-z](?:[-_A-Za-z0-9]{0,61}[A-Za-z0-9])?$`)

const fnNameError = "Function name must contain only Latin letters, digits and a hyphen (-). " +
	"It must start with letter, must not end with a hyphen, and must be at most 63 characters long."

// errNoRegion is gcloud's error when neither --region nor the functions/region
// property gives a region; oidcron has no property store, so only the flag
// is named.
var errNoRegion = errors.New("Missing required argument [region]: You must specify a region. Use the flag `--region`.")

// fnFlags are the flags every command on one function has.
type fnFlags struct {
	region      string
	gen2        *bool // --gen2 (true) or --no-gen2 (false), the last given
	withoutGen2 bool  // the command has no --gen2 flag
}

func (f *fnFlags) add(cmd *cobra.Command, verb string) {
	fl := cmd.Flags()
	fl.StringVar(&f.region, "region", "", "the region of the function "+verb+" (required unless NAME is a full resource name)")
	if !f.withoutGen2 {
		gcloudBoolPair(fl, &f.gen2, "gen2", "use Cloud Functions (2nd gen) without looking the function up first",
			"use Cloud Functions (1st gen) without looking the function up first")
	}
}

// nameArg is cobra's positional check with gcloud's message.
func nameArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usagef("argument NAME: Must be specified.")
	case len(args) > 1:
		return unrecognizedArgs(args[1:]...)
	}
	return nil
}

// ref resolves the NAME argument: a function id with --region and the
// project, or a full resource name.
func (f *fnFlags) ref(g *Globals, name string) (fnRef, error) {
	if !fnNameRule.MatchString(name) {
		return fnRef{}, usagef("argument NAME: Invalid value '%s': %s", name, fnNameError)
	}
	if strings.Contains(name, "/") {
		p := strings.Split(name, "/")
		if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "functions" || p[1] == "" || p[3] == "" {
			return fnRef{}, usagef("argument NAME: Invalid value '%s': give a function id, or a full name of the form projects/PROJECT/locations/REGION/functions/FUNCTION.", name)
		}
		return fnRef{Project: p[1], Region: p[3], ID: p[5]}, nil
	}
	project, err := g.RequireProject()
	if err != nil {
		return fnRef{}, err
	}
	if f.region == "" {
		return fnRef{}, errNoRegion
	}
	return fnRef{Project: project, Region: f.region, ID: name}, nil
}

// fnClients are the REST clients the functions commands use.
type fnClients struct {
	v1  *cfv1.Service
	v2  *cfv2.Service
	run *runv2.Service
}

func (g *Globals) functionsClients(ctx context.Context) (*fnClients, error) {
	opts := g.ClientOptions()
	v1, err := cfv1.NewService(ctx, opts...)
	if err != nil {
		return nil, err
	}
	v2, err := cfv2.NewService(ctx, opts...)
	if err != nil {
		return nil, err
	}
	run, err := runv2.NewService(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &fnClients{v1: v1, v2: v2, run: run}, nil
}

// openFunction makes the clients and decides the target's generation: the
// start of every command on one function.
func (g *Globals) openFunction(ctx context.Context, f *fnFlags, ref fnRef) (*fnClients, *fnTarget, error) {
	c, err := g.functionsClients(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.lookup(ctx, f, ref)
	if err != nil {
		return nil, nil, functionsError(err)
	}
	return c, t, nil
}

// fnTarget is a function command's target once its generation is known.
type fnTarget struct {
	ref  fnRef
	gen2 bool
	// fn is the function as the v2 API returned it, when it was read.
	fn *cfv2.Function
	// missing is the v2 API's NOT_FOUND when the function does not exist
	// (gcloud then goes on with the v2 command, which fails with it).
	missing error
}

// lookup decides the generation as gcloud's FunctionResourceCommand does:
// --gen2/--no-gen2 first, else the existing function's generation (read
// with the v2 API), else 2nd gen.
func (c *fnClients) lookup(ctx context.Context, f *fnFlags, ref fnRef) (*fnTarget, error) {
	t := &fnTarget{ref: ref}
	if f.gen2 != nil {
		t.gen2 = *f.gen2
		return t, nil
	}
	fn, err := c.v2.Projects.Locations.Functions.Get(ref.Name()).Context(ctx).Do()
	if isNotFound(err) {
		t.gen2, t.missing = true, err
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	t.fn, t.gen2 = fn, fn.Environment == "GEN_2"
	return t, nil
}

// function returns the target read with the v2 API, reading it if needed.
func (c *fnClients) function(ctx context.Context, t *fnTarget) (*cfv2.Function, error) {
	if t.missing != nil {
		return nil, t.missing
	}
	if t.fn != nil {
		return t.fn, nil
	}
	fn, err := c.v2.Projects.Locations.Functions.Get(t.ref.Name()).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	t.fn = fn
	return fn, nil
}

// serviceOf is the Cloud Run service behind a 2nd gen function.
func serviceOf(fn *cfv2.Function) string {
	if fn.ServiceConfig != nil && fn.ServiceConfig.Service != "" {
		return fn.ServiceConfig.Service
	}
	p := strings.Split(fn.Name, "/")
	if len(p) == 6 {
		return "projects/" + p[1] + "/locations/" + p[3] + "/services/" + p[5]
	}
	return ""
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// functionsError is how gcloud's function commands report an API error
// (CatchHTTPErrorRaiseHTTPException): "ResponseError: status=[404],
// code=[Not Found], message=[...]".
func functionsError(err error) error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return err
	}
	msg := ge.Message
	if msg == "" {
		msg = strings.TrimSpace(ge.Body)
	}
	return fmt.Errorf("ResponseError: status=[%d], code=[%s], message=[%s]", ge.Code, http.StatusText(ge.Code), msg)
}

// warn writes one of gcloud's warnings (log.warning) on stderr.
func (g *Globals) warn(format string, args ...any) {
	fmt.Fprintf(g.Err, "WARNING: "+format+"\n", args...)
}

// canPrompt is gcloud's console_io.CanPrompt: an interactive input and no
// --quiet.
func (g *Globals) canPrompt() bool { return g.Interactive && !g.Quiet }

// ask is PromptContinue with its own question, for the prompts gcloud
// asks only when it can prompt (console_io.CanPrompt: a terminal, no
// --quiet); otherwise it is not asked, and nothing it offers is done.
func (g *Globals) ask(question string, def bool) bool {
	if !g.canPrompt() {
		return false
	}
	ok, _ := g.Confirm(Prompt{Question: question, Default: def}) // no option that errs
	return ok
}

// wait waits for a Cloud Functions v2 operation to finish, as gcloud's
// WaitForOperation does (oidcron's are finished when returned).
func (c *fnClients) wait(ctx context.Context, op *cfv2.Operation) error {
	delay := 200 * time.Millisecond
	for !op.Done {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 2*time.Second {
			delay *= 2
		}
		next, err := c.v2.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
		if err != nil {
			return err
		}
		op = next
	}
	if op.Error != nil {
		return fmt.Errorf("OperationError: code=%d, message=%s", op.Error.Code, op.Error.Message)
	}
	return nil
}

// describe

func functionsDescribeCmd(g *Globals) *cobra.Command {
	f := &fnFlags{}
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Display details of a function",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			c, t, err := g.openFunction(ctx(cmd), f, ref)
			if err != nil {
				return err
			}
			if t.gen2 {
				fn, err := c.function(ctx(cmd), t)
				if err != nil {
					return functionsError(err)
				}
				return g.Print(fn, false, "yaml")
			}
			fn, err := c.v1.Projects.Locations.Functions.Get(ref.Name()).Context(ctx(cmd)).Do()
			if err != nil {
				return functionsError(err)
			}
			return g.Print(fn, false, "yaml")
		},
	}
	f.add(cmd, "to describe")
	return cmd
}

// list

// functionsListFormat is gcloud's `functions list` table.
const functionsListFormat = `table(name.basename():sort=1, state():label=STATE, trigger():label=TRIGGER, name.scope("locations").segment(0):label=REGION, generation():label=ENVIRONMENT)`

func functionsListCmd(g *Globals) *cobra.Command {
	var regions []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List functions",
		Long: "List functions as gcloud does: 2nd gen functions as the v2 API shows them, then 1st gen\n" +
			"functions as the v1 API shows them.",
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			project, err := g.RequireProject()
			if err != nil {
				return err
			}
			c, err := g.functionsClients(ctx(cmd))
			if err != nil {
				return err
			}
			// Records of both shapes, as JSON values (the list mixes types).
			out := []any{}
			keep := func(fn any) error {
				var m map[string]any
				if err := Convert(&m, fn); err != nil {
					return err
				}
				out = append(out, m)
				return nil
			}
			// gcloud asks the v2 API for environment="GEN_2"; oidcron's v2
			// API lists without filters, so the filter runs here.
			for _, r := range regions {
				call := c.v2.Projects.Locations.Functions.List("projects/" + project + "/locations/" + r)
				call.PageSize(g.pageSize(100)) // gcloud: 100, or --limit when smaller
				err := call.Pages(ctx(cmd), func(resp *cfv2.ListFunctionsResponse) error {
					for _, fn := range resp.Functions {
						if fn.Environment == "GEN_2" {
							if err := keep(fn); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					return APIError(err)
				}
			}
			for _, r := range regions {
				call := c.v1.Projects.Locations.Functions.List("projects/" + project + "/locations/" + r)
				call.PageSize(g.pageSize(100)) // gcloud: 100, or --limit when smaller
				err := call.Pages(ctx(cmd), func(resp *cfv1.ListFunctionsResponse) error {
					for _, fn := range resp.Functions {
						if err := keep(fn); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return APIError(err)
				}
			}
			return g.printList(out, functionsListFormat, fnTransforms)
		},
	}
	cmd.Flags().StringSliceVar(&regions, "regions", []string{"-"}, "regions containing functions to list (default: all)")
	pageSizeFlag(cmd, new(int)) // gcloud takes it and asks for 100 all the same
	listFlags(g, cmd)
	return cmd
}

// fnTransforms are gcloud's functions transforms (state(), trigger(),
// generation()), available to the list format.
var fnTransforms = map[string]gcloudfmt.TransformFunc{
	"state":      fnTransformState,
	"trigger":    fnTransformTrigger,
	"generation": fnTransformGeneration,
}

// The transforms of gcloud's api_lib/functions/transforms.py, on a function
// in either shape: v1's CloudFunction or v2's Function.

func fnTransformState(v any, _ []string, _ map[string]string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", nil
	}
	if s, ok := m["status"]; ok {
		return s, nil
	}
	if s, ok := m["state"]; ok {
		return s, nil
	}
	return "", nil
}

// fnShape infers which message a function is: gcloud looks for fields only
// a CloudFunction has (entryPoint, buildId, runtime) and then for those
// only a Function has (buildConfig, serviceConfig). oidcron's CloudFunction
// has no build, so its v1-only httpsTrigger and status count as well.
func fnShape(m map[string]any) string {
	for _, k := range []string{"entryPoint", "buildId", "runtime", "httpsTrigger", "status"} {
		if present(m[k]) {
			return "CloudFunction"
		}
	}
	for _, k := range []string{"buildConfig", "serviceConfig"} {
		if present(m[k]) {
			return "Function"
		}
	}
	return ""
}

func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case map[string]any:
		return len(t) > 0
	case []any:
		return len(t) > 0
	}
	return true
}

func fnTransformTrigger(v any, _ []string, _ map[string]string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", nil
	}
	switch fnShape(m) {
	case "CloudFunction":
		switch {
		case m["httpsTrigger"] != nil:
			return "HTTP Trigger", nil
		case m["eventTrigger"] != nil:
			return "Event Trigger", nil
		}
		return "", nil
	case "Function":
		if m["eventTrigger"] != nil {
			return "Event Trigger", nil
		}
		// A 2nd gen function can always be called over HTTP.
		return "HTTP Trigger", nil
	}
	return "", nil
}

func fnTransformGeneration(v any, _ []string, _ map[string]string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "-", nil
	}
	switch m["environment"] {
	case "GEN_1":
		return "1st gen", nil
	case "GEN_2":
		return "2nd gen", nil
	}
	switch fnShape(m) {
	case "CloudFunction":
		return "1st gen", nil
	case "Function":
		return "2nd gen", nil
	}
	return "-", nil
}

// delete

func functionsDeleteCmd(g *Globals) *cobra.Command {
	f := &fnFlags{}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a function",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := f.ref(g, args[0])
			if err != nil {
				return err
			}
			c, t, err := g.openFunction(ctx(cmd), f, ref)
			if err != nil {
				return err
			}
			gen := "1st gen"
			if t.gen2 {
				gen = "2nd gen"
			}
			// gcloud's PromptContinue(message) with no options: no answer
			// (the end of the input) takes the default, yes.
			ok, err := g.Confirm(Prompt{Message: fmt.Sprintf("%s function [%s] will be deleted.", gen, ref.Name()), Default: true})
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("Deletion aborted by user.")
			}
			// gcloud deletes a 1st gen function with the v1 API; oidcron's
			// v1 API has no delete, and the v2 API deletes both.
			op, err := c.v2.Projects.Locations.Functions.Delete(ref.Name()).Context(ctx(cmd)).Do()
			if err != nil {
				return functionsError(err)
			}
			if err := c.wait(ctx(cmd), op); err != nil {
				return functionsError(err)
			}
			g.Status("Deleted [%s].", ref.Name())
			return nil
		},
	}
	f.add(cmd, "to delete")
	return cmd
}
