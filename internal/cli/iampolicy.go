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

// conditionFlags adds gcloud's --condition and --condition-from-file.
func conditionFlags(cmd *cobra.Command, condition, file *string) {
	cmd.Flags().StringVar(condition, "condition", "", "The binding's condition: expression=EXPR,title=TITLE[,description=DESC] "+
		"(^D^ before the pairs splits them on D instead of commas), or None for a binding without one")
	cmd.Flags().StringVar(file, "condition-from-file", "", "A JSON or YAML file holding the condition: expression, title and description")
	cmd.MarkFlagsMutuallyExclusive("condition", "condition-from-file")
}

// readCondition reads --condition or --condition-from-file: nil for none
// (neither flag, or --condition=None), else a condition with an expression
// and a title, which gcloud requires.
func readCondition(cmd *cobra.Command, condition, file string) (*Condition, error) {
	var c Condition
	flag := "--condition"
	switch {
	case file != "":
		flag = "--condition-from-file"
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, invalidArg(flag, "%v", err)
		}
		var raw map[string]any
		if err := yaml.Unmarshal(b, &raw); err != nil { // JSON is YAML too
			return nil, invalidArg(flag, "the file is not JSON or YAML: %v", err)
		}
		if err := Convert(&c, raw); err != nil {
			return nil, invalidArg(flag, "%v", err)
		}
	case !cmd.Flags().Changed("condition") || condition == "None":
		return nil, nil
	default:
		kv, err := schedDictFlag("condition", condition)
		if err != nil {
			return nil, err
		}
		for k, v := range kv {
			switch k {
			case "expression":
				c.Expression = v
			case "title":
				c.Title = v
			case "description":
				c.Description = v
			default:
				return nil, invalidArg(flag, "unknown key %q: the keys are expression, title and description.", k)
			}
		}
	}
	if c.Expression == "" || c.Title == "" {
		return nil, invalidArg(flag, "a condition needs an expression and a title.")
	}
	return &c, nil
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
