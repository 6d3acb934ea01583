package cli

import (
	"errors"
	"reflect"
	"testing"
)

func TestPolicyBindings(t *testing.T) {
	p := &Policy{Bindings: []*Binding{
		{Role: "roles/viewer", Members: []string{"user:a@x.com"}},
		{Role: "roles/editor", Members: []string{"user:b@x.com"}, Condition: []byte(`{"expression":"true"}`)},
	}}
	p.AddBinding("user:c@x.com", "roles/viewer", nil)
	p.AddBinding("user:c@x.com", "roles/viewer", nil) // already there: no change
	p.AddBinding("user:d@x.com", "roles/editor", nil) // only a conditional binding: a new one
	want := [][]string{{"user:a@x.com", "user:c@x.com"}, {"user:b@x.com"}, {"user:d@x.com"}}
	if len(p.Bindings) != len(want) {
		t.Fatalf("%d bindings, want %d", len(p.Bindings), len(want))
	}
	for i, b := range p.Bindings {
		if !reflect.DeepEqual(b.Members, want[i]) {
			t.Errorf("binding %d members = %v, want %v", i, b.Members, want[i])
		}
	}
	if err := p.RemoveBinding("user:d@x.com", "roles/editor", nil); err != nil {
		t.Fatal(err)
	}
	if len(p.Bindings) != 2 {
		t.Errorf("empty binding kept: %d bindings", len(p.Bindings))
	}
	if err := p.RemoveBinding("user:b@x.com", "roles/editor", nil); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("removing from a conditional binding: %v, want ErrBindingNotFound", err)
	}
}

func TestPolicyConditionalBindings(t *testing.T) {
	soon := &Condition{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until 2030"}
	p := &Policy{Bindings: []*Binding{{Role: "roles/viewer", Members: []string{"user:a@x.com"}}}}
	p.AddBinding("user:b@x.com", "roles/viewer", soon) // another condition: a new binding
	p.AddBinding("user:c@x.com", "roles/viewer", &Condition{Expression: soon.Expression, Title: soon.Title})
	if len(p.Bindings) != 2 || !reflect.DeepEqual(p.Bindings[1].Members, []string{"user:b@x.com", "user:c@x.com"}) {
		t.Fatalf("bindings %+v", p.Bindings)
	}
	if got := string(p.Bindings[1].Condition); got != `{"expression":"request.time \u003c timestamp(\"2030-01-01T00:00:00Z\")","title":"until 2030"}` {
		t.Errorf("condition written as %s", got)
	}
	if err := p.RemoveBinding("user:b@x.com", "roles/viewer", nil); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("removing b without its condition: %v, want ErrBindingNotFound", err)
	}
	if err := p.RemoveBinding("user:b@x.com", "roles/viewer", &Condition{Expression: soon.Expression, Title: "other"}); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("removing b under another title: %v, want ErrBindingNotFound", err)
	}
	for _, m := range []string{"user:b@x.com", "user:c@x.com"} {
		if err := p.RemoveBinding(m, "roles/viewer", soon); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.Bindings) != 1 {
		t.Errorf("the emptied conditional binding was kept: %+v", p.Bindings)
	}
}
