package cli

import (
	"encoding/json"
	"errors"
	"slices"
)

// Policy is the IAM policy shape every API here shares on the wire
// (Resource Manager, IAM admin, Cloud Functions, Cloud Run); each client
// library has its own struct for it, so the binding commands convert
// through JSON and edit this one.
type Policy struct {
	AuditConfigs json.RawMessage `json:"auditConfigs,omitempty"`
	Bindings     []*Binding      `json:"bindings,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	Version      int64           `json:"version,omitempty"`
}

// Binding is one role's members, with its optional condition.
type Binding struct {
	Condition json.RawMessage `json:"condition,omitempty"`
	Members   []string        `json:"members,omitempty"`
	Role      string          `json:"role,omitempty"`
}

// Convert copies src into dst through their JSON forms (between a client
// library's Policy and this package's).
func Convert(dst, src any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// Condition is a binding's condition (google.type.Expr) as gcloud's
// --condition gives it.
type Condition struct {
	Expression  string `json:"expression,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// has reports whether b is the binding of role under cond (nil: none).
func (b *Binding) has(role string, cond *Condition) bool {
	if b.Role != role {
		return false
	}
	var c Condition
	if len(b.Condition) > 0 && json.Unmarshal(b.Condition, &c) != nil {
		return false // a condition this package cannot read matches nothing
	}
	if cond == nil {
		return c == Condition{}
	}
	return c == *cond
}

// AddBinding adds member to role under cond (nil: none) as gcloud does: to
// the first binding of that role with that condition, or to a new binding;
// adding a member that is already there changes nothing.
func (p *Policy) AddBinding(member, role string, cond *Condition) {
	for _, b := range p.Bindings {
		if b.has(role, cond) {
			if !slices.Contains(b.Members, member) {
				b.Members = append(b.Members, member)
			}
			return
		}
	}
	nb := &Binding{Role: role, Members: []string{member}}
	if cond != nil {
		nb.Condition, _ = json.Marshal(cond) // three strings: cannot fail
	}
	p.Bindings = append(p.Bindings, nb)
}

// ErrBindingNotFound is gcloud's text when a removed binding is not there.
var ErrBindingNotFound = errors.New("Policy binding with the specified principal, role, and condition not found!")

// RemoveBinding removes member from the bindings of role under cond (nil:
// the unconditional ones), dropping bindings left empty.
func (p *Policy) RemoveBinding(member, role string, cond *Condition) error {
	found := false
	kept := p.Bindings[:0]
	for _, b := range p.Bindings {
		if b.has(role, cond) {
			if i := slices.Index(b.Members, member); i >= 0 {
				b.Members = slices.Delete(b.Members, i, i+1)
				found = true
			}
			if len(b.Members) == 0 {
				continue
			}
		}
		kept = append(kept, b)
	}
	p.Bindings = kept
	if !found {
		return ErrBindingNotFound
	}
	return nil
}
