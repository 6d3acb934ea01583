// Package cli holds oidcron's gcloud-shaped client commands. They talk to a
// server only through its public APIs, with the official Google REST
// clients (google.golang.org/api), so each command exercises exactly what
// gcloud would send; only the doctor, which has no Google counterpart, uses
// oidcron's own endpoint.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	PageSize int // --page-size of the lists that honour it (pageSizeFlag)

	// AccessToken, when set (OIDCRON_ACCESS_TOKEN), is sent as a bearer
	// token; a server started with --require-auth needs one (its admin
	// token, or an access token minted by its IAM Credentials API).
	AccessToken string

	// The streams; tests replace them.
	In       io.Reader
	Out, Err io.Writer
	// Interactive says whether stdin is a terminal (gcloud's IsInteractive).
	// Prompts read stdin either way; without a terminal, the end of the
	// input is an error for the prompts that refuse to guess, and the
	// prompts gcloud asks only when it can (CanPrompt) are not asked.
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
	gcloudStoreTrue(f, &g.Quiet, "quiet", "q", false, "disable all interactive prompts; take each prompt's default")
	f.StringVar(&g.Fmt.Format, "format", "", "output format: json, yaml, none, value(...), table(...), csv(...)")
	f.StringSliceVar(&g.Fmt.Flatten, "flatten", nil, "flatten the named list keys into one record per item, e.g. bindings[].members")
	// gcloud words an unknown flag as it does an extra argument.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		// A flag value refused with gcloud's own error (gcloudValue) keeps it.
		if iv, ok := errors.AsType[*pflag.InvalidValueError](err); ok {
			switch cause := iv.Unwrap(); cause.(type) {
			case *UsageError, *OutsideError:
				return cause
			}
		}
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag needs an argument: --"); ok {
			return usagef("argument --%s: expected one argument", name)
		}
		for _, p := range []string{"unknown flag: ", "unknown shorthand flag: "} {
			if rest, ok := strings.CutPrefix(msg, p); ok {
				// The flag ends the message ("--bogus", "'b' in -b"; of a
				// group, only its letters from the unknown one on). Execute
				// replaces it with every leftover as typed.
				return unrecognizedArgs(rest[strings.LastIndex(rest, " ")+1:])
			}
		}
		return &UsageError{Msg: msg}
	})
}

// Commands returns every client command group.
func Commands(g *Globals) []*cobra.Command {
	var cmds []*cobra.Command
	for _, mk := range groups {
		c := mk(g)
		refuseUnknownSubcommands(c)
		cmds = append(cmds, c)
	}
	return cmds
}

// refuseUnknownSubcommands makes every group below c (a command with
// subcommands and nothing to run) fail as gcloud's do, on a misspelt or
// missing subcommand, instead of printing its help and succeeding: a typo
// in a script must not read as done.
func refuseUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("Invalid choice: '%s'.", args[0])
			}
			return usagef("Command name argument expected.")
		}
	}
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
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
	urlSafeBytes(val, bytesFields(v))
	return gcloudfmt.Print(g.Out, val, isList, defaultFormat, g.Fmt)
}

// PrintList writes the records of a list command with its default format
// unless --format says otherwise and, as gcloud's list commands do when
// no record was printed and no --format was given, "Listed 0 items." on
// stderr.
func (g *Globals) PrintList(items any, defaultFormat string) error {
	return g.printList(items, defaultFormat, nil)
}

// printList is PrintList with the command's own projection transforms.
func (g *Globals) printList(items any, defaultFormat string, transforms map[string]gcloudfmt.TransformFunc) error {
	val, err := gcloudfmt.ToValue(items)
	if err != nil {
		return err
	}
	urlSafeBytes(val, bytesFields(items))
	opts := g.Fmt
	if transforms != nil {
		opts.Transforms = transforms
	}
	printed, err := gcloudfmt.Display(g.Out, val, true, defaultFormat, opts)
	if err != nil {
		return err
	}
	if !printed && g.Fmt.Format == "" {
		g.Status("Listed 0 items.")
	}
	return nil
}

// Status writes one of gcloud's status lines (stderr), such as
// "Updated IAM policy for project [p].".
func (g *Globals) Status(format string, args ...any) {
	fmt.Fprintf(g.Err, format+"\n", args...)
}

// Prompt is one of gcloud's yes/no questions, with the options of
// console_io.PromptContinue.
type Prompt struct {
	// Message is written first, followed by a blank line.
	Message string
	// Question is the prompt string; "Do you want to continue" when empty.
	// " (Y/n)?  " or " (y/N)?  " is appended to it.
	Question string
	// Default is the answer to an empty line, to the end of the input and,
	// with --quiet, to the prompt itself.
	Default bool
	// ThrowIfUnattended makes the end of the input an error (ErrUnattended)
	// instead of the default when stdin is not a terminal: a script that
	// gives no answer must say --quiet.
	ThrowIfUnattended bool
	// CancelOnNo makes a "no" an error: CancelString, or ErrAborted.
	CancelOnNo   bool
	CancelString string
}

// ErrAborted is gcloud's answer to a declined prompt.
var ErrAborted = errors.New("Aborted by user.")

// ErrUnattended is gcloud's UnattendedPromptError.
var ErrUnattended = errors.New("This prompt could not be answered because you are not in an interactive session.  " +
	"You can re-run the command with the --quiet flag to accept default answers for all prompts.")

// Confirm asks p as gcloud's PromptContinue does. With --quiet it writes
// nothing and takes the default (a default of no with CancelOnNo is then
// ErrAborted). Otherwise it writes the message and the question (wrapped
// at 70 columns), and reads stdin, terminal or not, one line at a time:
// an empty line or the end of the input takes the default, y/yes and n/no
// (any case) answer, anything else asks "Please enter 'y' or 'n':  ". A
// newline ends the prompt, whatever its outcome.
func (g *Globals) Confirm(p Prompt) (bool, error) {
	cancel := func() error {
		if p.CancelString != "" {
			return errors.New(p.CancelString)
		}
		return ErrAborted
	}
	if g.Quiet {
		if !p.Default && p.CancelOnNo {
			return false, cancel()
		}
		return p.Default, nil
	}
	var b strings.Builder
	if p.Message != "" {
		b.WriteString(wrapText(p.Message) + "\n\n")
	}
	q := p.Question
	if q == "" {
		q = "Do you want to continue"
	}
	if p.Default {
		q += " (Y/n)?  "
	} else {
		q += " (y/N)?  "
	}
	b.WriteString(wrapText(q))
	fmt.Fprint(g.Err, b.String())
	ans, err := g.answer(p)
	fmt.Fprintln(g.Err)
	if err != nil {
		return false, err
	}
	if !ans && p.CancelOnNo {
		return false, cancel()
	}
	return ans, nil
}

func (g *Globals) answer(p Prompt) (bool, error) {
	for {
		line, err := readLine(g.In)
		switch a := strings.ToLower(strings.TrimSpace(line)); {
		case line == "" && err == nil:
			return p.Default, nil
		case line == "": // the end of the input (or an unreadable one)
			if p.ThrowIfUnattended && !g.Interactive {
				return false, ErrUnattended
			}
			return p.Default, nil
		case a == "y" || a == "yes":
			return true, nil
		case a == "n" || a == "no":
			return false, nil
		}
		fmt.Fprint(g.Err, "Please enter 'y' or 'n':  ")
	}
}

// readLine reads one line of r without its line ending, byte by byte so
// that nothing meant for a later prompt is buffered away. A last line
// without a newline is returned with the end of input (io.EOF), which the
// next call returns alone.
func readLine(r io.Reader) (string, error) {
	var b []byte
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(string(b), "\r"), nil
			}
			b = append(b, buf[0])
		}
		if err != nil {
			return string(b), err
		}
	}
}

// promptWidth is the width of gcloud's prompt wrapper (Python's
// textwrap default).
const promptWidth = 70

// wrapText wraps each line of s as gcloud's prompts do (console_io._DoWrap:
// a textwrap.TextWrapper of width 70 that keeps whitespace, does not break
// on hyphens, and breaks words longer than a line).
func wrapText(s string) string {
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
	if n := len(lines); n > 1 && lines[n-1] == "" {
		lines = lines[:n-1] // splitlines: no empty line after a final newline
	}
	for i, l := range lines {
		lines[i] = wrapLine(expandTabs(l))
	}
	return strings.Join(lines, "\n")
}

// wrapLine is TextWrapper.fill for one line: chunks of whitespace and of
// non-whitespace, laid greedily onto lines of promptWidth characters.
func wrapLine(s string) string {
	var chunks [][]rune // in reverse order, as textwrap keeps them
	rs := []rune(s)
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && unicode.IsSpace(rs[j]) == unicode.IsSpace(rs[i]) {
			j++
		}
		chunks = append([][]rune{rs[i:j]}, chunks...)
		i = j
	}
	var out []string
	for len(chunks) > 0 {
		var line []rune
		for len(chunks) > 0 && len(line)+len(chunks[len(chunks)-1]) <= promptWidth {
			line = append(line, chunks[len(chunks)-1]...)
			chunks = chunks[:len(chunks)-1]
		}
		if len(chunks) > 0 && len(chunks[len(chunks)-1]) > promptWidth {
			last := chunks[len(chunks)-1]
			end := promptWidth - len(line)
			line = append(line, last[:end]...)
			chunks[len(chunks)-1] = last[end:]
		}
		if len(line) > 0 {
			out = append(out, string(line))
		}
	}
	return strings.Join(out, "\n")
}

// expandTabs is Python's str.expandtabs(8).
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}

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
// "status" of Google's JSON error body when there is one, else from the
// HTTP code.
func statusName(ge *googleapi.Error) string {
	var e googleError
	if json.Unmarshal([]byte(ge.Body), &e) == nil && e.Error.Status != "" {
		return e.Error.Status
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

// ---- argument checks shared by the commands ----

// UsageError is a mistake on the command line, found before any call is
// made. gcloud (argparse) exits 2 for these and 1 when a call fails.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// OutsideError is an error gcloud raises outside the command, so that it
// prints "ERROR: (gcloud) ..." without the command path, and exits 1 (an
// exception escaping argparse, such as a bad duration). The binary prints
// it as "ERROR: (oidcron) ...".
type OutsideError struct{ Msg string }

func (e *OutsideError) Error() string { return e.Msg }

// NoArgs refuses every positional argument, in gcloud's words.
var NoArgs = positionalArgs()

// positionalArgs is gcloud's positional-argument check: each name is
// required, extra arguments are refused.
func positionalArgs(names ...string) cobra.PositionalArgs {
	return positionalArgsOpt(len(names), names...)
}

// positionalArgsOpt is positionalArgs where only the first required names
// must be given.
func positionalArgsOpt(required int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < required {
			return usagef("argument %s: Must be specified.", strings.Join(names[len(args):required], " "))
		}
		if len(args) > len(names) {
			return unrecognizedArgs(args[len(names):]...)
		}
		return nil
	}
}

// requireFlags is gcloud's error for required flags left out.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f == nil || !f.Changed {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("argument %s: Must be specified.", strings.Join(missing, " "))
	}
	return nil
}

// invalidArg is gcloud's InvalidArgumentException text.
func invalidArg(name, format string, args ...any) error {
	return fmt.Errorf("Invalid value for [%s]: %s", name, fmt.Sprintf(format, args...))
}

// listFlags adds gcloud's list-command flags to cmd: --filter, --limit and
// --sort-by belong to its list commands (get-iam-policy is one in gcloud)
// and to no other, so elsewhere they are unrecognized arguments; --format
// and --flatten are global.
func listFlags(g *Globals, cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.Fmt.Filter, "filter", "", "print only the records matching this expression, e.g. bindings.members:EMAIL")
	gcloudFlag(f, &g.Fmt.Limit, "limit", "", "print at most this many records", gcloudPositive)
	f.StringSliceVar(&g.Fmt.SortBy, "sort-by", nil, "sort records by these fields (~field for descending)")
}

// pageSizeFlag adds --page-size to a list command, recording into p:
// &g.PageSize where gcloud honours it, a variable of its own where gcloud
// takes the flag and ignores it (projects list, functions list).
func pageSizeFlag(cmd *cobra.Command, p *int) {
	gcloudFlag(cmd.Flags(), p, "page-size", "", "records per page a list asks the API for", gcloudPositive)
}

// pageSize is the page size gcloud's list pager asks for: --page-size or
// else the command's batch size, cut to --limit when smaller (and no
// --filter needs more records). 0 (a batch of 0 and no --page-size)
// means none: the service's default.
func (g *Globals) pageSize(batch int64) int64 {
	if g.PageSize > 0 {
		batch = int64(g.PageSize)
	}
	if g.Fmt.Limit > 0 && int64(g.Fmt.Limit) < batch && g.Fmt.Filter == "" {
		return int64(g.Fmt.Limit)
	}
	return batch
}
