package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// conditionalPolicy has user:a as viewer under t1 and unconditionally, and
// user:b as editor under t2.
func conditionalPolicy(t *testing.T) *Policy {
	t.Helper()
	var p Policy
	if err := json.Unmarshal([]byte(`{"bindings":[
		{"role":"roles/run.invoker","members":["user:a"],"condition":{"expression":"e1","title":"t1"}},
		{"role":"roles/run.invoker","members":["user:a"]},
		{"role":"roles/run.developer","members":["user:b"],"condition":{"expression":"e2","title":"t2","description":"d2"}}]}`), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func promptGlobals(stdin string, interactive bool) (*Globals, *bytes.Buffer) {
	var errb bytes.Buffer
	return &Globals{In: strings.NewReader(stdin), Err: &errb, Interactive: interactive}, &errb
}

// bindingsOf renders p's bindings as "role member [title]" lines.
func bindingsOf(p *Policy) string {
	var b strings.Builder
	for _, x := range p.Bindings {
		c, _ := x.condition()
		title := "-"
		if c != nil {
			title = c.Title
		}
		b.WriteString(x.Role + " " + strings.Join(x.Members, ",") + " " + title + "\n")
	}
	return b.String()
}

// gcloud's iam_util: without a terminal, a policy with conditions takes no
// binding change that does not name its condition.
func TestConditionalPolicyRefusesUnnamedConditionWithoutATerminal(t *testing.T) {
	g, _ := promptGlobals("", false)
	err := g.addBinding(conditionalPolicy(t), "user:c", "roles/run.invoker", condChoice{})
	if err == nil || err.Error() != "Adding a binding without specifying a condition to a policy containing conditions is prohibited in non-interactive mode. Run the command again with `--condition=None`" {
		t.Errorf("add: %v", err)
	}
	err = g.removeBinding(conditionalPolicy(t), "user:a", "roles/run.invoker", condChoice{})
	if err == nil || !strings.HasPrefix(err.Error(), "Removing a binding without specifying a condition from a policy containing conditions is prohibited in non-interactive mode. Run the command again with `--condition=None`") {
		t.Errorf("remove: %v", err)
	}
	// Named, it goes ahead.
	p := conditionalPolicy(t)
	if err := g.removeBinding(p, "user:a", "roles/run.invoker", condChoice{given: true}); err != nil {
		t.Fatal(err)
	}
	if got := bindingsOf(p); got != "roles/run.invoker user:a t1\nroles/run.developer user:b t2\n" {
		t.Errorf("after removing the unconditional binding:\n%s", got)
	}
}

// On a terminal gcloud asks which condition, listing the policy's (by
// their label, None last) and its extra choices.
func TestConditionPrompts(t *testing.T) {
	g, errb := promptGlobals("9\n4\nexpression=e3,title=t3\n", true)
	p := conditionalPolicy(t)
	if err := g.addBinding(p, "user:c", "roles/run.invoker", condChoice{}); err != nil {
		t.Fatal(err)
	}
	wantPrompt := " [1] EXPRESSION=e1, TITLE=t1\n [2] EXPRESSION=e2, TITLE=t2, DESCRIPTION=d2\n [3] None\n [4] Specify a new condition\n" +
		"The policy contains bindings with conditions, so specifying a \ncondition is required when adding a binding. Please specify a \ncondition.:  " +
		"Please enter a value between 1 and 4:  \n" +
		// Wrapped as Python's textwrap wraps it (console_io._DoWrap).
		"Condition is either `None` or a list of key=value pairs. If not \n`None`, `expression` and `title` are required keys.\n" +
		"Example: --condition=expression=[expression],title=[title],description\n=[description].\nSpecify the condition:  "
	if errb.String() != wantPrompt {
		t.Errorf("add prompt:\n%q\nwant\n%q", errb.String(), wantPrompt)
	}
	if got := bindingsOf(p); !strings.HasSuffix(got, "roles/run.invoker user:c t3\n") {
		t.Errorf("added:\n%s", got)
	}

	g, errb = promptGlobals("3\n", true)
	p = conditionalPolicy(t)
	if err := g.removeBinding(p, "user:a", "roles/run.invoker", condChoice{}); err != nil {
		t.Fatal(err)
	}
	if want := " [1] EXPRESSION=e1, TITLE=t1\n [2] None\n [3] all conditions\n"; !strings.HasPrefix(errb.String(), want) {
		t.Errorf("remove prompt:\n%q\nwant it to start\n%q", errb.String(), want)
	}
	if got := bindingsOf(p); got != "roles/run.developer user:b t2\n" {
		t.Errorf("after removing all conditions:\n%s", got)
	}

	// The end of the input answers nothing.
	g, _ = promptGlobals("", true)
	if err := g.removeBinding(conditionalPolicy(t), "user:a", "roles/run.invoker", condChoice{}); !errors.Is(err, ErrUnattended) {
		t.Errorf("end of input: %v", err)
	}
	// A member and role with no binding: gcloud's message, before asking.
	g, errb = promptGlobals("1\n", true)
	if err := g.removeBinding(conditionalPolicy(t), "user:z", "roles/run.invoker", condChoice{}); err == nil || err.Error() != "Policy binding with the specified principal and role not found!" || errb.Len() != 0 {
		t.Errorf("no such binding: %v (asked %q)", err, errb.String())
	}
}

func TestRemoveAllConditionsAndWarnings(t *testing.T) {
	g, errb := promptGlobals("", false)
	p := conditionalPolicy(t)
	if err := g.removeBinding(p, "user:a", "roles/run.invoker", condChoice{all: true}); err != nil {
		t.Fatal(err)
	}
	if got := bindingsOf(p); got != "roles/run.developer user:b t2\n" {
		t.Errorf("after --all:\n%s", got)
	}
	if err := g.removeBinding(p, "user:a", "roles/run.invoker", condChoice{all: true}); err == nil || err.Error() != "Policy bindings with the specified principal and role not found!" {
		t.Errorf("--all again: %v", err)
	}
	// A first condition in a policy without any: gcloud warns.
	p = &Policy{}
	if err := g.addBinding(p, "user:a", "roles/run.invoker", condChoice{given: true, cond: &Condition{Expression: "e", Title: "t"}}); err != nil {
		t.Fatal(err)
	}
	if want := "WARNING: Adding binding with condition to a policy without condition will change the behavior of add-iam-policy-binding and remove-iam-policy-binding commands.\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}
