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
	p.AddBinding("user:c@x.com", "roles/viewer")
	p.AddBinding("user:c@x.com", "roles/viewer") // already there: no change
	p.AddBinding("user:d@x.com", "roles/editor") // only a conditional binding: a new one
	want := [][]string{{"user:a@x.com", "user:c@x.com"}, {"user:b@x.com"}, {"user:d@x.com"}}
	if len(p.Bindings) != len(want) {
		t.Fatalf("%d bindings, want %d", len(p.Bindings), len(want))
	}
	for i, b := range p.Bindings {
		if !reflect.DeepEqual(b.Members, want[i]) {
			t.Errorf("binding %d members = %v, want %v", i, b.Members, want[i])
		}
	}
	if err := p.RemoveBinding("user:d@x.com", "roles/editor"); err != nil {
		t.Fatal(err)
	}
	if len(p.Bindings) != 2 {
		t.Errorf("empty binding kept: %d bindings", len(p.Bindings))
	}
	if err := p.RemoveBinding("user:b@x.com", "roles/editor"); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("removing from a conditional binding: %v, want ErrBindingNotFound", err)
	}
}
