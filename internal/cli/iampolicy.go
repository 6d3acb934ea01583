package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/api/googleapi"

	"github.com/oidcron/oidcron/internal/iam"
)

// The IAM policy helpers every group's binding commands share (projects,
// service accounts, functions): --member/--role and their checks, gcloud's
// read-modify-write of a policy, and policy files.

// bindingFlags adds --member and --role, as gcloud's binding commands
// have them.
func bindingFlags(cmd *cobra.Command, member, role *string, add bool) {
	verb := "to add the binding for"
	roleHelp := "Role name to assign to the principal, such as roles/cloudfunctions.invoker."
	if !add {
		verb = "to remove the binding for"
		roleHelp = "The role to remove the principal from."
	}
	cmd.Flags().StringVar(member, "member", "", "The principal "+verb+": user|group|serviceAccount:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers")
	if role != nil {
		cmd.Flags().StringVar(role, "role", "", roleHelp)
	}
}

// condFlags are gcloud's condition flags of the binding commands that take
// them (iam_util's): --condition and --condition-from-file, and on remove
// --all, one mutually exclusive group.
type condFlags struct {
	condition map[string]string // gcloudCondition
	file      string            // the file's contents (Globals.fileContents)
	all       bool
	remove    bool
}

func (f *condFlags) register(g *Globals, cmd *cobra.Command, remove bool) {
	f.remove = remove
	gcloudFlag(cmd.Flags(), &f.condition, "condition", "", "The binding's condition: expression=EXPR,title=TITLE[,description=DESC] "+
		"(^D^ before the pairs splits them on D instead of commas), or None for a binding without one", gcloudCondition)
	gcloudFlag(cmd.Flags(), &f.file, "condition-from-file", "", "A JSON or YAML file (- for standard input) holding the condition: expression, title and description", g.fileContents)
	if remove {
		gcloudStoreTrue(cmd.Flags(), &f.all, "all", "", false, "Remove all bindings with this role and principal, irrespective of any conditions.")
	}
}

// conditionUsage is the condition flags' part of a binding command's usage.
func conditionUsage(remove bool) string {
	if remove {
		return "[--condition=KEY=VALUE,...|None | --condition-from-file=PATH | --all]"
	}
	return "[--condition=KEY=VALUE,...|None | --condition-from-file=PATH]"
}

// condChoice is what the condition flags say.
type condChoice struct {
	given bool       // --condition or --condition-from-file, None included
	cond  *Condition // the condition; nil for none
	all   bool       // --all: every binding of the member and role
}

// The run-time errors of gcloud's ValidateConditionArgument.
var (
	errConditionFormat = invalidArg("condition", "condition must be either `None` or a list of key=value pairs. "+
		"If not `None`, `expression` and `title` are required keys.\n"+
		"Example: --condition=expression=[expression],title=[title],description=[description]")
	errConditionFileFormat = invalidArg("condition-from-file", "condition-from-file must be a path to a YAML or JSON file containing the "+
		"condition. `expression` and `title` are required keys. `description` is optional. To specify a `None` condition, use --condition=None.")
)

// read reads the flags (gcloud's ValidateAndExtractCondition, and on add
// ValidateMutexConditionAndPrimitiveRoles for role).
func (f *condFlags) read(cmd *cobra.Command, role string) (condChoice, error) {
	c, err := f.choice(cmd)
	if err == nil && !f.remove {
		err = c.forRole(role)
	}
	return c, err
}

func (f *condFlags) choice(cmd *cobra.Command) (condChoice, error) {
	var set []string
	for _, n := range []string{"all", "condition", "condition-from-file"} {
		if cmd.Flags().Changed(n) {
			set = append(set, "--"+n)
		}
	}
	if len(set) > 1 {
		group := "--condition | --condition-from-file"
		if f.remove {
			group = "--all | --condition | --condition-from-file"
		}
		return condChoice{}, usagef("argument %s: At most one of %s can be specified.", set[0], group) // gcloud names the first, by name
	}
	switch {
	case f.all:
		return condChoice{all: true}, nil
	case cmd.Flags().Changed("condition-from-file"):
		var raw map[string]any
		if yaml.Unmarshal([]byte(f.file), &raw) != nil { // JSON is YAML too
			return condChoice{}, errConditionFileFormat
		}
		kv := map[string]string{}
		for k, v := range raw {
			if v != nil {
				kv[k] = fmt.Sprint(v)
			} else {
				kv[k] = ""
			}
		}
		c, err := conditionOf(kv, errConditionFileFormat)
		return condChoice{given: true, cond: c}, err
	case cmd.Flags().Changed("condition"):
		c, err := conditionOf(f.condition, errConditionFormat)
		return condChoice{given: true, cond: c}, err
	}
	return condChoice{}, nil
}

// conditionOf is gcloud's ValidateConditionArgument: None alone, or a
// condition with an expression and a title; bad is the error otherwise.
func conditionOf(kv map[string]string, bad error) (*Condition, error) {
	if _, none := kv["None"]; none {
		if len(kv) > 1 {
			return nil, bad
		}
		return nil, nil
	}
	c := Condition{Expression: kv["expression"], Title: kv["title"], Description: kv["description"]}
	if c.Expression == "" || c.Title == "" {
		return nil, bad
	}
	return &c, nil
}

// forRole is gcloud's ValidateMutexConditionAndPrimitiveRoles, which the
// add commands apply before any call (read) and to a condition chosen at
// the prompt.
func (c condChoice) forRole(role string) error {
	if c.cond != nil && basicRoles[role] {
		return errors.New("Binding with a condition and a basic role is not allowed. Basic roles are `roles/editor`, `roles/owner`, and `roles/viewer`.")
	}
	return nil
}

// addBinding is gcloud's AddBindingToIamPolicyWithCondition: to a policy
// that has conditions, a binding is added only under a condition the
// caller chose (the flags, or the prompt on a terminal).
func (g *Globals) addBinding(p *Policy, member, role string, c condChoice) error {
	if p.conditional() && !c.given {
		if !g.canPrompt() {
			return errors.New("Adding a binding without specifying a condition to a policy containing conditions is prohibited in non-interactive mode. Run the command again with `--condition=None`")
		}
		conds := p.conditions("", "")
		if n := len(conds); n == 0 || conds[n-1] != nil {
			conds = append(conds, nil)
		}
		i, err := g.promptChoice(append(conditionLabels(conds), "Specify a new condition"),
			"The policy contains bindings with conditions, so specifying a condition is required when adding a binding. Please specify a condition.")
		if err != nil {
			return err
		}
		c = condChoice{given: true}
		if i < len(conds) {
			c.cond = conds[i]
		} else if c.cond, err = g.promptNewCondition(); err != nil {
			return err
		}
		if err := c.forRole(role); err != nil {
			return err
		}
	}
	if !p.conditional() && c.cond != nil {
		g.warn("Adding binding with condition to a policy without condition will change the behavior of add-iam-policy-binding and remove-iam-policy-binding commands.")
	}
	p.AddBinding(member, role, c.cond)
	return nil
}

// removeBinding is gcloud's RemoveBindingFromIamPolicyWithCondition: from
// a policy that has conditions, the caller says which binding goes (the
// flags, or the prompt on a terminal), or --all of them.
func (g *Globals) removeBinding(p *Policy, member, role string, c condChoice) error {
	if !c.all && !c.given && p.conditional() {
		if !g.canPrompt() {
			return errors.New("Removing a binding without specifying a condition from a policy containing conditions is prohibited in non-interactive mode. " +
				"Run the command again with `--condition=None` to remove a binding without condition or run command with `--all` to remove all bindings of the specified principal and role.")
		}
		conds := p.conditions(member, role)
		if len(conds) == 0 {
			return errors.New("Policy binding with the specified principal and role not found!")
		}
		i, err := g.promptChoice(append(conditionLabels(conds), "all conditions"),
			"The policy contains bindings with conditions, so specifying a condition is required when removing a binding. Please specify a condition.")
		if err != nil {
			return err
		}
		if i == len(conds) {
			c = condChoice{all: true}
		} else {
			c = condChoice{given: true, cond: conds[i]}
		}
	}
	if c.all {
		return p.RemoveAllConditions(member, role)
	}
	return p.RemoveBinding(member, role, c.cond)
}

// promptChoice is gcloud's console_io.PromptChoice without a default: the
// options numbered from 1, then the prompt, until a number in range is
// given. The end of the input is ErrUnattended.
func (g *Globals) promptChoice(options []string, prompt string) (int, error) {
	var b strings.Builder
	for i, o := range options {
		fmt.Fprintf(&b, " [%d] %s\n", i+1, o)
	}
	b.WriteString(wrapText(prompt + ":  "))
	fmt.Fprint(g.Err, b.String())
	for {
		line, err := readLine(g.In)
		if line == "" && err != nil {
			fmt.Fprintln(g.Err)
			return 0, ErrUnattended
		}
		if n, perr := strconv.Atoi(strings.TrimSpace(line)); perr == nil && n >= 1 && n <= len(options) {
			fmt.Fprintln(g.Err)
			return n - 1, nil
		}
		fmt.Fprintf(g.Err, "Please enter a value between 1 and %d:  ", len(options))
	}
}

// promptNewCondition is gcloud's _PromptForNewCondition.
func (g *Globals) promptNewCondition() (*Condition, error) {
	fmt.Fprint(g.Err, wrapText("Condition is either `None` or a list of key=value pairs. If not `None`, `expression` and `title` are required keys.\n"+
		"Example: --condition=expression=[expression],title=[title],description=[description].\nSpecify the condition:  "))
	line, err := readLine(g.In)
	if line == "" && err != nil {
		return nil, ErrUnattended
	}
	kv, err := gcloudCondition("--condition", strings.TrimSpace(line))
	if err != nil {
		return nil, err
	}
	return conditionOf(kv, errConditionFormat)
}

// conditionLabels are gcloud's _ConditionToString of each condition:
// "EXPRESSION=..., TITLE=..., DESCRIPTION=..." (the fields set), or None.
func conditionLabels(conds []*Condition) []string {
	out := make([]string, len(conds))
	for i, c := range conds {
		out[i] = conditionLabel(c)
	}
	return out
}

func conditionLabel(c *Condition) string {
	if c == nil {
		return "None"
	}
	var parts []string
	for _, f := range [][2]string{{"EXPRESSION", c.Expression}, {"TITLE", c.Title}, {"DESCRIPTION", c.Description}} {
		if f[1] != "" {
			parts = append(parts, f[0]+"="+f[1])
		}
	}
	return strings.Join(parts, ", ")
}

// checkMember validates --member (required) and returns it in its
// canonical form: emails lower-cased, as the server stores them, so that
// removing "user:Alice@x.com" finds "user:alice@x.com".
func checkMember(cmd *cobra.Command, member string) (string, error) {
	if err := requireFlags(cmd, "member"); err != nil {
		return "", err
	}
	m, err := iam.ParseMember(member)
	if err != nil {
		var me *iam.MemberError
		if !errors.As(err, &me) {
			return "", invalidArg("--member", "%v", err)
		}
		msg := me.Rule
		if !strings.HasSuffix(msg, "?") {
			msg += "."
		}
		if me.NoType {
			msg += " Principals are user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers."
		}
		return "", invalidArg("--member", "%s", msg)
	}
	return m.String(), nil
}

// checkBinding validates --member and --role (both required) before any
// request and returns the member in its canonical form (see checkMember).
func checkBinding(cmd *cobra.Command, member, role string) (string, error) {
	if err := requireFlags(cmd, "member", "role"); err != nil {
		return "", err
	}
	m, err := checkMember(cmd, member)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(role) == "" {
		return "", invalidArg("--role", "must not be empty.")
	}
	return m, nil
}

// policyAPI reads and writes one resource's IAM policy through one API.
// get returns the policy in this package's shape; set returns the API's
// answer, for printing.
type policyAPI struct {
	// keepVersion writes the policy back with the version it was read
	// with instead of 3.
	keepVersion bool
	get         func(context.Context) (*Policy, error)
	set         func(context.Context, *Policy) (any, error)
}

// edit is gcloud's read-modify-write of a policy: get it, edit it, set it
// with the etag that was read (and version 3 unless keepVersion). A concurrent change
// (409) restarts the whole cycle, as gcloud's RetryOnHttpStatus(409) does.
// Errors come back as they are: the client's, for the command to word
// (APIError and functionsError leave edit's own errors alone), and edit's.
func (a policyAPI) edit(c context.Context, edit func(*Policy) error) (any, error) {
	const attempts = 5
	wait := 100 * time.Millisecond
	for i := 0; ; i++ {
		p, err := a.get(c)
		if err != nil {
			return nil, err
		}
		if err := edit(p); err != nil {
			return nil, err
		}
		if !a.keepVersion {
			p.Version = 3
		}
		out, err := a.set(c, p)
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
		return out, err
	}
}

// converted turns a client library's policy (or its error) into a Policy.
func converted(p any, err error) (*Policy, error) {
	if err != nil {
		return nil, err
	}
	var out Policy
	if err := Convert(&out, p); err != nil {
		return nil, err
	}
	return &out, nil
}

// ---- policy files ----

// readPolicyFile reads a policy from a JSON or YAML file, as gcloud's
// ParseYamlOrJsonPolicyFile does, and returns it with the update mask made
// of the file's top-level fields (sorted).
func readPolicyFile(path string) (*Policy, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("Unable to read file [%s]: %v", path, errors.Unwrap(err))
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("Policy file [%s] is not a properly formatted YAML or JSON policy file. %s", path, fmt.Sprintf(format, args...))
	}
	var doc any
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		err = json.Unmarshal(b, &doc)
	} else {
		err = yaml.Unmarshal(b, &doc)
	}
	if err != nil {
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
			if s, ok := v.(string); ok { // "3", quoted
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
		// gcloud writes it URL-safe (as the CLI prints it); the API's JSON
		// takes either alphabet.
		if _, err := base64.URLEncoding.DecodeString(p.Etag); err != nil {
			if _, err2 := base64.StdEncoding.DecodeString(p.Etag); err2 != nil {
				return nil, nil, fmt.Errorf("The etag of policy file [%s] is not properly formatted. %v", path, err)
			}
		}
	}
	return &p, mask, nil
}
