// Package cli holds oidcron's gcloud-shaped client commands. They talk to a
// server only through its public APIs, with the official Google REST
// clients (google.golang.org/api), so each command exercises exactly what
// gcloud would send; only the doctor, which has no Google counterpart, uses
// oidcron's own endpoint.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/oidcron/oidcron/internal/gcloudfmt"
)

// DefaultEndpoint is where `oidcron serve` listens by default.
const DefaultEndpoint = "http://127.0.0.1:8930"

// Globals are gcloud's global flags, shared by every client command.
type Globals struct {
	Endpoint string // --endpoint, OIDCRON_ENDPOINT
	Project  string // --project, OIDCRON_PROJECT
	Quiet    bool   // --quiet: answer every prompt with its default
	Fmt      gcloudfmt.Options

	// AccessToken, when set (OIDCRON_ACCESS_TOKEN), is sent as a bearer
	// token; a server started with --require-auth needs one (its admin
	// token, or an access token minted by its IAM Credentials API).
	AccessToken string

	// The streams; tests replace them.
	In       io.Reader
	Out, Err io.Writer
	// Interactive says whether prompts may be asked (gcloud asks only on a
	// terminal; elsewhere a prompt takes its default, as with --quiet).
	Interactive bool
	// HTTPClient, when set, carries every request (tests).
	HTTPClient *http.Client
}

// NewGlobals returns globals bound to the process's streams and environment.
func NewGlobals() *Globals {
	g := &Globals{
		Endpoint:    DefaultEndpoint,
		In:          os.Stdin,
		Out:         os.Stdout,
		Err:         os.Stderr,
		AccessToken: os.Getenv("OIDCRON_ACCESS_TOKEN"),
	}
	if v := os.Getenv("OIDCRON_ENDPOINT"); v != "" {
		g.Endpoint = v
	}
	g.Project = os.Getenv("OIDCRON_PROJECT")
	g.Interactive = isTerminal(os.Stdin)
	return g
}

// AddFlags puts the global flags on root, inherited by every command.
func (g *Globals) AddFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.Endpoint, "endpoint", g.Endpoint, "oidcron server to talk to (env OIDCRON_ENDPOINT)")
	f.StringVar(&g.Project, "project", g.Project, "project to use for this invocation (env OIDCRON_PROJECT)")
	f.BoolVarP(&g.Quiet, "quiet", "q", false, "disable all interactive prompts; take each prompt's default")
	f.StringVar(&g.Fmt.Format, "format", "", "output format: json, yaml, none, value(...), table(...), csv(...)")
	f.StringSliceVar(&g.Fmt.Flatten, "flatten", nil, "flatten the named list keys into one record per item, e.g. bindings[].members")
	f.StringVar(&g.Fmt.Filter, "filter", "", "print only the records matching this expression, e.g. bindings.members:EMAIL")
	f.IntVar(&g.Fmt.Limit, "limit", 0, "print at most this many records")
	f.StringSliceVar(&g.Fmt.SortBy, "sort-by", nil, "sort records by these fields (~field for descending)")
}

// Commands returns every client command group.
func Commands(g *Globals) []*cobra.Command {
	var cmds []*cobra.Command
	for _, mk := range groups {
		cmds = append(cmds, mk(g))
	}
	return cmds
}

// groups are the top-level command groups; each file of this package adds
// its own from an init function, so groups can be written independently.
var groups []func(*Globals) *cobra.Command

func register(mk func(*Globals) *cobra.Command) { groups = append(groups, mk) }

// ClientOptions are the options every google.golang.org/api client is made
// with: the server's endpoint and, if given, the bearer token.
func (g *Globals) ClientOptions() []option.ClientOption {
	opts := []option.ClientOption{option.WithEndpoint(strings.TrimRight(g.Endpoint, "/") + "/")}
	if g.HTTPClient != nil {
		hc := *g.HTTPClient
		if g.AccessToken != "" {
			hc.Transport = bearer{token: g.AccessToken, next: transportOf(g.HTTPClient)}
		}
		return append(opts, option.WithHTTPClient(&hc))
	}
	if g.AccessToken != "" {
		return append(opts, option.WithHTTPClient(&http.Client{Transport: bearer{token: g.AccessToken, next: http.DefaultTransport}}))
	}
	return append(opts, option.WithoutAuthentication())
}

// HTTP returns the client for oidcron's own endpoints (the doctor, the
// attempt history), which no Google client library knows.
func (g *Globals) HTTP() *http.Client {
	base := http.DefaultClient
	if g.HTTPClient != nil {
		base = g.HTTPClient
	}
	if g.AccessToken == "" {
		return base
	}
	hc := *base
	hc.Transport = bearer{token: g.AccessToken, next: transportOf(base)}
	return &hc
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// RequireProject returns --project, or gcloud's error when it is not set.
func (g *Globals) RequireProject() (string, error) {
	if g.Project != "" {
		return g.Project, nil
	}
	return "", errors.New("The required property [project] is not currently set.\n" +
		"It can be set on a per-command basis by re-running your command with the [--project] flag.\n\n" +
		"You may set it for your current workspace by running:\n\n" +
		"  $ export OIDCRON_PROJECT=VALUE")
}

// Print writes a resource (or a list of them) with the command's default
// format unless --format says otherwise.
func (g *Globals) Print(v any, isList bool, defaultFormat string) error {
	val, err := gcloudfmt.ToValue(v)
	if err != nil {
		return err
	}
	return gcloudfmt.Print(g.Out, val, isList, defaultFormat, g.Fmt)
}

// Status writes one of gcloud's status lines (stderr), such as
// "Updated IAM policy for project [p].".
func (g *Globals) Status(format string, args ...any) {
	fmt.Fprintf(g.Err, format+"\n", args...)
}

// Confirm asks gcloud's "Do you want to continue (Y/n)?" after message and
// reports the answer; --quiet (silently) or a non-interactive input takes
// def.
func (g *Globals) Confirm(message string, def bool) (bool, error) {
	if g.Quiet {
		return def, nil // as gcloud with prompts disabled: nothing is printed
	}
	if message != "" {
		fmt.Fprintf(g.Err, "%s\n\n", message)
	}
	if !g.Interactive {
		return def, nil
	}
	hint := "(Y/n)"
	if !def {
		hint = "(y/N)"
	}
	r := bufio.NewReader(g.In)
	for {
		fmt.Fprintf(g.Err, "Do you want to continue %s?  ", hint)
		line, err := r.ReadString('\n')
		ans := strings.ToLower(strings.TrimSpace(line))
		switch {
		case ans == "" && err == nil:
			return def, nil
		case ans == "y" || ans == "yes":
			return true, nil
		case ans == "n" || ans == "no":
			return false, nil
		case err != nil:
			fmt.Fprintln(g.Err)
			return def, nil
		}
		fmt.Fprintln(g.Err, "Please enter 'y' or 'n':")
	}
}

// ErrAborted is gcloud's answer to a declined prompt.
var ErrAborted = errors.New("Aborted by user.")

// APIError turns a client error into gcloud's message body: for an API
// error "STATUS: message" (e.g. "NOT_FOUND: Job not found."), as gcloud's
// generated commands print it after "ERROR: (gcloud.group.command) ".
func APIError(err error) error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return err
	}
	st := statusName(ge)
	msg := ge.Message
	if msg == "" {
		msg = strings.TrimSpace(ge.Body)
	}
	if st == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", st, msg)
}

// statusName finds the canonical status ("NOT_FOUND") of an API error: the
// JSON error's "status" when the client kept it, else from the HTTP code.
func statusName(ge *googleapi.Error) string {
	if ge.Details != nil || ge.Body != "" {
		if i := strings.Index(ge.Body, `"status"`); i >= 0 {
			rest := ge.Body[i+len(`"status"`):]
			rest = strings.TrimLeft(rest, " :\t\n")
			if strings.HasPrefix(rest, `"`) {
				if j := strings.IndexByte(rest[1:], '"'); j >= 0 {
					return rest[1 : 1+j]
				}
			}
		}
	}
	switch ge.Code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ALREADY_EXISTS"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 500:
		return "INTERNAL"
	case 503:
		return "UNAVAILABLE"
	}
	return ""
}

// ctx is the context of a command's API calls.
func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}
