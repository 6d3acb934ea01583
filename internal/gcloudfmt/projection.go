package gcloudfmt

import (
	"sort"
	"strings"
	"unicode"
)

// A format such as `table[box](name.basename():label=ID, state)` is read
// left to right as a sequence of parts: a printer NAME, [ATTRIBUTES] of the
// printer, (COLUMNS), and :(COLUMNS) that only add attributes (sort order)
// to keys. Parts compose: the last name wins, each (COLUMNS) replaces the
// columns before it, and keys seen earlier stay in the projection tree as
// defaults, so a later column of the same key reuses their label and
// transforms, and their labels work as aliases. This is how a command's
// default format and --format combine ("DEFAULT EXPLICIT").

// Projection tree node levels: a key projected as a column, a key on the
// path to one, or a key only remembered from an earlier part.
const (
	flagDefault = 0
	flagInner   = 1
	flagProject = 2
)

// attribute holds what a format says about one key.
type attribute struct {
	align       string
	flag        int
	hidden      bool // a :(key:sort=N) key: sorts, is not shown
	label       *string
	optional    *bool
	order       *int // sort precedence, 1 first
	reverse     *bool
	skipReorder bool
	subformat   *string
	transform   *transformChain
	width       *int
	wrap        *int // nil: unset; 0: off; -1: on (default width); N: minimum width
}

func newAttribute(flag int) *attribute { return &attribute{align: "left", flag: flag} }

func (a *attribute) copy() *attribute {
	c := *a
	return &c
}

type projNode struct {
	tree map[keyElem]*projNode
	attr *attribute
}

func newNode(a *attribute) *projNode { return &projNode{tree: map[keyElem]*projNode{}, attr: a} }

func (n *projNode) deepCopy() *projNode {
	c := &projNode{tree: make(map[keyElem]*projNode, len(n.tree)), attr: n.attr.copy()}
	for k, v := range n.tree {
		c.tree[k] = v.deepCopy()
	}
	return c
}

// walk calls f on every node below n.
func (n *projNode) walk(f func(*projNode)) {
	for _, c := range n.tree {
		f(c)
		c.walk(f)
	}
}

type column struct {
	key  parsedKey
	attr *attribute
}

type aliasDef struct {
	key  parsedKey
	attr *attribute
}

// projSpec is a parsed format: printer name, printer attributes, columns and
// the projection tree.
type projSpec struct {
	name       string
	attributes map[string]any
	columns    []*column
	root       *projNode
	empty      *projNode // the node of keys not in the tree
	active     int       // incremented by each part that resets the columns
	aliases    map[string]aliasDef
	symbols    map[string]*transformDef
}

func newProjSpec(symbols map[string]*transformDef) *projSpec {
	return &projSpec{
		attributes: map[string]any{},
		aliases:    map[string]aliasDef{},
		symbols:    symbols,
		root:       newNode(newAttribute(flagDefault)),
		empty:      newNode(newAttribute(flagProject)),
	}
}

// demote turns the current columns into defaults for what follows.
func (s *projSpec) demote() {
	s.root.attr.flag = flagDefault
	s.root.walk(func(n *projNode) { n.attr.flag = flagDefault })
	s.columns = nil
	s.active++
}

func (s *projSpec) hasAttr(name string) bool {
	_, ok := s.attributes[name]
	return ok
}

// labels lists the column labels; nil when none has one.
func (s *projSpec) labels() []string {
	out := make([]string, len(s.columns))
	anyLabel := false
	for i, c := range s.columns {
		if c.attr.label != nil {
			out[i] = *c.attr.label
			anyLabel = anyLabel || out[i] != ""
		}
	}
	if !anyLabel {
		return nil
	}
	return out
}

type orderKey struct {
	index   int
	reverse bool
}

// order lists the columns to sort by, highest precedence first: those with
// a sort order by that order, then reverse-only ones, by position.
func (s *projSpec) order() []orderKey {
	type ranked struct {
		rank int
		orderKey
	}
	var keys []ranked
	for i, c := range s.columns {
		rank := 0
		if c.attr.order != nil {
			rank = *c.attr.order
		}
		reverse := c.attr.reverse != nil && *c.attr.reverse
		if rank == 0 && !reverse {
			continue
		}
		if rank == 0 {
			rank = int(^uint(0) >> 1)
		}
		keys = append(keys, ranked{rank, orderKey{i, reverse}})
	}
	sort.SliceStable(keys, func(a, b int) bool { return keys[a].rank < keys[b].rank })
	out := make([]orderKey, len(keys))
	for i, k := range keys {
		out[i] = k.orderKey
	}
	return out
}

// formatParser reads a format into a projSpec.
type formatParser struct {
	spec *projSpec
	lex  *lexer
	// sortOnly: inside a :(...) part, which only adds attributes.
	sortOnly bool
	// shift is how far the sort orders set earlier must move to make room
	// for those a :(...) part sets.
	shift int
	// usedLabels are the generated column labels so far.
	usedLabels map[string]bool
}

// parseProjection parses a format/projection expression.
func parseProjection(expr string, symbols map[string]*transformDef) (*projSpec, error) {
	p := &formatParser{spec: newProjSpec(symbols), usedLabels: map[string]bool{}}
	return p.spec, p.parse(expr)
}

// compileSubProjection compiles a column list against a copy of parent's
// keys, aliases and transforms (the keys of format()).
func compileSubProjection(expr string, parent *projSpec) (*projSpec, error) {
	spec := newProjSpec(map[string]*transformDef{})
	if parent != nil {
		for k, v := range parent.symbols {
			spec.symbols[k] = v
		}
		for k, v := range parent.aliases {
			spec.aliases[k] = v
		}
		spec.root = parent.root.deepCopy()
		spec.active = parent.active
		spec.demote()
	}
	p := &formatParser{spec: spec, usedLabels: map[string]bool{}}
	return spec, p.parse(expr)
}

func (p *formatParser) parse(expr string) error {
	if expr == "" {
		return nil
	}
	p.lex = newLexer(expr, p.spec)
	p.sortOnly = false
	namedLast := false // a printer name not yet followed by columns
	for p.lex.more() {
		var err error
		switch {
		case p.lex.is("("):
			if !p.sortOnly {
				namedLast = false
				p.spec.demote()
			}
			err = p.columns()
			if p.sortOnly && err == nil {
				p.sortOnly = false
				p.shiftOrders()
			}
		case p.lex.is("["):
			err = p.printerAttributes()
		case p.lex.is(":"):
			p.sortOnly, p.shift = true, 0
		default:
			err = p.printerName()
			namedLast = true
		}
		if err != nil {
			return err
		}
	}
	if namedLast {
		p.spec.demote()
	}
	return nil
}

func (p *formatParser) printerName() error {
	start := p.lex.pos
	name, err := p.lex.token(":([", false, true)
	if err != nil {
		return err
	}
	if name.s == "" || strings.IndexFunc(name.s, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
		return syntaxErrorf("Name expected [%s].", p.lex.annotate(start))
	}
	if p.spec.name != "" {
		// A new printer drops the attributes given to the previous one.
		p.spec.attributes = map[string]any{}
	}
	p.spec.name = name.s
	return nil
}

// printerAttributes reads [name, name=value, no-name, ...]; the '[' has
// been consumed. no-X removes X and X removes no-X.
func (p *formatParser) printerAttributes() error {
	for {
		name, err := p.lex.token("=,])", false, false)
		if err != nil {
			return err
		}
		if name.ok && name.s != "" {
			var value any = int64(1)
			if p.lex.is("=") {
				v, err := p.lex.token(",])", false, false)
				if err != nil {
					return err
				}
				value = v.converted()
			}
			if s, ok := value.(string); ok {
				value = strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(s)
			}
			p.spec.attributes[name.s] = value
			if base, negated := strings.CutPrefix(name.s, "no-"); negated {
				delete(p.spec.attributes, base)
			} else {
				delete(p.spec.attributes, "no-"+name.s)
			}
		}
		if c, err := p.lex.expectOneOf("]"); err != nil || c != 0 {
			return err
		}
		if !p.lex.is(",") {
			return syntaxErrorf("Expected ] in attribute list [%s].", p.lex.annotate(-1))
		}
	}
}

// columns reads a comma-separated column list; the '(' has been consumed.
func (p *formatParser) columns() error {
	if c, err := p.lex.expectOneOf(")"); err != nil || c != 0 {
		return err
	}
	for {
		if err := p.column(); err != nil {
			return err
		}
		p.lex.more()
		if c, err := p.lex.expectOneOf(")"); err != nil || c != 0 {
			return err
		}
		if !p.lex.is(",") {
			return syntaxErrorf("Expected ) in projection expression [%s].", p.lex.annotate(-1))
		}
	}
}

// column reads key[.transform(...)...][:attr...].
func (p *formatParser) column() error {
	key, aliasAttr, err := p.lex.keyWithAttribute()
	if err != nil {
		return err
	}
	var calls *transformChain
	if p.lex.is("(") {
		last := len(key) - 1
		if last < 0 || key[last].kind != keyName {
			return syntaxErrorf("Unknown transform function [%s].", p.lex.annotate(-1))
		}
		if calls, err = parseTransforms(p.lex, key[last].name, p.spec.active); err != nil {
			return err
		}
		key = key[:last]
	}
	attr := newAttribute(flagProject)
	if aliasAttr != nil && (!p.sortOnly || len(key) == 0) {
		attr = aliasAttr.copy()
	}
	switch {
	case attr.transform == nil:
		attr.transform = calls
	case calls != nil:
		attr.transform = &transformChain{calls: append(append([]*transformCall(nil), attr.transform.calls...), calls.calls...)}
	}
	p.lex.more()
	if c, err := p.lex.expectOneOf(":"); err != nil {
		return err
	} else if c != 0 {
		if err := p.columnAttributes(key, attr); err != nil {
			return err
		}
	}
	if attr.label == nil && len(key) == 0 && attr.transform != nil && len(attr.transform.calls) > 0 {
		// A call without a key, like firstof(a, b), is labelled after the
		// function and its arguments.
		names := []keyElem{nameElem(attr.transform.name())}
		for _, a := range attr.transform.calls[0].args.positional {
			names = append(names, nameElem(a))
		}
		label := p.columnLabel(names)
		attr.label = &label
	}
	p.place(key, attr)
	return nil
}

// columnAttributes reads :name=value:flag:no-flag...; the first ':' has
// been consumed.
func (p *formatParser) columnAttributes(key parsedKey, attr *attribute) error {
	for {
		tok, err := p.lex.token("=:,)", false, false)
		if err != nil {
			return err
		}
		name := tok.s
		at := p.lex.pos
		fail := func(msg string) error { return syntaxErrorf("%s [%s].", msg, p.lex.annotate(at)) }
		var value any
		flag := !p.lex.is("=")
		if flag {
			var negated bool
			name, negated = strings.CutPrefix(name, "no-")
			value = !negated
		} else {
			v, err := p.lex.token(":,)", false, false)
			if err != nil {
				return err
			}
			value = v.converted()
		}
		switch {
		case name == "optional" || name == "reverse":
			if !flag {
				return fail("value not expected")
			}
		case flag && name != "wrap":
			return fail("value expected")
		}
		text := func() *string {
			s := ""
			if truthy(value) {
				s = pyStr(value)
			}
			return &s
		}
		switch name {
		case "alias":
			if !truthy(value) {
				return fail("Cannot unset alias")
			}
			p.spec.aliases[pyStr(value)] = aliasDef{key: key, attr: attr}
		case "align":
			s, _ := value.(string)
			if s != "left" && s != "center" && s != "right" {
				return fail("Unknown alignment")
			}
			attr.align = s
		case "format":
			attr.subformat = text()
		case "label":
			attr.label = text()
		case "optional":
			b := value.(bool)
			attr.optional = &b
		case "reverse":
			b := value.(bool)
			attr.reverse = &b
		case "sort":
			n, ok := value.(int64)
			if !ok {
				return fail("Integer sort order expected")
			}
			o := int(n)
			attr.order = &o
		case "width":
			n, ok := value.(int64)
			if !ok {
				return fail("Integer width expected")
			}
			w := int(n)
			attr.width = &w
		case "wrap":
			var w int
			switch v := value.(type) {
			case bool:
				if v {
					w = -1
				}
			case int64:
				w = int(v)
			default:
				return fail("Integer wrap width expected")
			}
			attr.wrap = &w
		default:
			return fail("Unknown key attribute")
		}
		if c, err := p.lex.expectOneOf(":"); err != nil || c == 0 {
			return err
		}
	}
}

// columnLabel makes a label from the key's names, last first, in upper
// snake case (serviceAccountEmail -> SERVICE_ACCOUNT_EMAIL), prepending
// earlier names until the label is one not generated before.
func (p *formatParser) columnLabel(key []keyElem) string {
	label := ""
	for i := len(key) - 1; i >= 0; i-- {
		if key[i].kind != keyName {
			continue
		}
		part := strings.ToUpper(snakeWords(key[i].name))
		if label == "" {
			label = part
		} else {
			label = part + "_" + label
		}
		if !p.usedLabels[label] {
			p.usedLabels[label] = true
			break
		}
	}
	return label
}

// snakeWords puts '_' before each run of capitals that follows a lower
// case letter or digit, and before a capital that starts a word
// ("HTTPTarget" -> "HTTP_Target", "userUpdateTime" -> "user_Update_Time").
func snakeWords(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		if !isUpperASCII(r[i]) || i == 0 {
			b.WriteRune(r[i])
			continue
		}
		if isLowerASCII(r[i-1]) || isDigitASCII(r[i-1]) {
			j := i
			for j < len(r) && isUpperASCII(r[j]) {
				j++
			}
			b.WriteByte('_')
			b.WriteString(string(r[i:j]))
			i = j - 1
			continue
		}
		if i+1 < len(r) && isLowerASCII(r[i+1]) {
			b.WriteByte('_')
		}
		b.WriteRune(r[i])
	}
	return b.String()
}

func isUpperASCII(r rune) bool { return r >= 'A' && r <= 'Z' }
func isLowerASCII(r rune) bool { return r >= 'a' && r <= 'z' }
func isDigitASCII(r rune) bool { return r >= '0' && r <= '9' }

// place puts a column's key into the projection tree, merging add into the
// attribute of a key placed before, and appends the column.
func (p *formatParser) place(key parsedKey, add *attribute) {
	s := p.spec
	parent := s.root
	for _, e := range key[:max(len(key)-1, 0)] {
		child := parent.tree[e]
		if child == nil {
			child = newNode(newAttribute(flagInner))
			parent.tree[e] = child
		} else if child.attr.flag != flagProject {
			child.attr.flag = flagInner
		}
		parent = child
	}
	last := nameElem("")
	if len(key) > 0 {
		last = key[len(key)-1]
	}
	existing, known := parent.tree[last]
	var attr *attribute
	switch {
	case known:
		attr = existing.attr
		if !p.sortOnly && p.isColumn(key) {
			// The same key twice: each column its own attributes.
			attr = attr.copy()
		}
		if !p.sortOnly || attr.order == nil || *attr.order == 0 {
			attr.hidden = false
		}
	case last.kind == keyIndex && parent.tree[keyElem{kind: keySlice}] != nil:
		// a[N] after a[]: start from what a[] says.
		n := parent.tree[keyElem{kind: keySlice}].deepCopy()
		parent.tree[last] = n
		attr = n.attr
	default:
		attr = add
		if p.sortOnly && attr.order != nil && *attr.order != 0 {
			attr.hidden = true
		}
		if len(key) > 0 || attr.transform != nil {
			parent.tree[last] = &projNode{tree: map[keyElem]*projNode{}, attr: attr}
		}
	}
	merge(attr, add)
	if add.order != nil && p.sortOnly {
		p.shift++
		attr.skipReorder = true
	}
	if attr.label == nil {
		l := p.columnLabel(key)
		attr.label = &l
	}
	s.aliases[*attr.label] = aliasDef{key: key, attr: attr}
	switch {
	case !p.sortOnly || attr.hidden:
		attr.flag = flagProject
		s.columns = append(s.columns, &column{key: key, attr: attr})
	case !known:
		attr.flag = flagDefault
	}
}

// merge copies what add sets into attr.
func merge(attr, add *attribute) {
	if add.order != nil {
		o := *add.order
		attr.order = &o
	}
	if add.label != nil {
		attr.label = add.label
	}
	if add.align != "left" {
		attr.align = add.align
	}
	f := false
	switch {
	case add.optional != nil:
		attr.optional = add.optional
	case attr.optional == nil:
		attr.optional = &f
	}
	switch {
	case add.reverse != nil:
		attr.reverse = add.reverse
	case attr.reverse == nil:
		attr.reverse = &f
	}
	if add.transform != nil {
		attr.transform = add.transform
	}
	if add.subformat != nil && *add.subformat != "" {
		attr.subformat = add.subformat
	}
	if add.width != nil {
		attr.width = add.width
	}
	if add.wrap != nil {
		attr.wrap = add.wrap
	}
}

func (p *formatParser) isColumn(key parsedKey) bool {
	for _, c := range p.spec.columns {
		if c.key.equal(key) {
			return true
		}
	}
	return false
}

// shiftOrders moves the sort orders set before a :(...) part behind the
// ones it set.
func (p *formatParser) shiftOrders() {
	if p.shift == 0 {
		return
	}
	p.spec.root.walk(func(n *projNode) {
		a := n.attr
		switch {
		case a.order == nil || *a.order == 0:
		case a.skipReorder:
			a.skipReorder = false
		default:
			o := *a.order + p.shift
			a.order = &o
		}
	})
	p.shift = 0
}
