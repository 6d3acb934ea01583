package cli

import (
	"encoding/json"
	"errors"
	"maps"
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
	c, ok := b.condition()
	if b.Role != role || !ok { // a condition this package cannot read matches nothing
		return false
	}
	return (c == nil && cond == nil) || (c != nil && cond != nil && *c == *cond)
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

// condition returns b's condition, nil for none; ok is false for one this
// package cannot read.
func (b *Binding) condition() (c *Condition, ok bool) {
	if len(b.Condition) == 0 {
		return nil, true
	}
	var v Condition
	if json.Unmarshal(b.Condition, &v) != nil {
		return nil, false
	}
	if v == (Condition{}) {
		return nil, true
	}
	return &v, true
}

// conditional reports whether any binding of p has a condition.
func (p *Policy) conditional() bool {
	for _, b := range p.Bindings {
		if c, ok := b.condition(); c != nil || !ok {
			return true
		}
	}
	return false
}

// conditions lists the distinct conditions of the bindings that hold
// member with role (every binding when both are empty), as gcloud's
// _ConditionsInPolicy orders them: by their label, none (nil) last.
func (p *Policy) conditions(member, role string) []*Condition {
	seen := map[string]*Condition{}
	none := false
	for _, b := range p.Bindings {
		if (role != "" && b.Role != role) || (member != "" && !slices.Contains(b.Members, member)) {
			continue
		}
		c, ok := b.condition()
		switch {
		case !ok:
		case c == nil:
			none = true
		default:
			seen[conditionLabel(c)] = c
		}
	}
	var out []*Condition
	for _, label := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, seen[label])
	}
	if none {
		out = append(out, nil)
	}
	return out
}

// RemoveAllConditions removes member from every binding of role, whatever
// its condition (gcloud's --all), dropping bindings left empty.
func (p *Policy) RemoveAllConditions(member, role string) error {
	if !p.remove(member, func(b *Binding) bool { return b.Role == role }) {
		return errors.New("Policy bindings with the specified principal and role not found!")
	}
	return nil
}

// remove takes member out of the bindings match selects, dropping those
// left empty, and reports whether it was in any.
func (p *Policy) remove(member string, match func(*Binding) bool) bool {
	found := false
	kept := p.Bindings[:0]
	for _, b := range p.Bindings {
		if match(b) {
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
	return found
}

// ErrBindingNotFound is gcloud's text when a removed binding is not there.
var ErrBindingNotFound = errors.New("Policy binding with the specified principal, role, and condition not found!")

// RemoveBinding removes member from the bindings of role under cond (nil:
// the unconditional ones), dropping bindings left empty.
func (p *Policy) RemoveBinding(member, role string, cond *Condition) error {
	if !p.remove(member, func(b *Binding) bool { return b.has(role, cond) }) {
		return ErrBindingNotFound
	}
	return nil
}
