package gcloudfmt

import (
	"strings"
	"unicode"
)

// The projection parser follows gcloud's resource_projection_parser.py and
// resource_projection_spec.py: a format string is a sequence of
// NAME, [ATTRIBUTES] and (KEYS) parts, left to right composable; the
// rightmost name wins, each (KEYS) list replaces the previous columns, and
// earlier keys stay in the projection tree as defaults (their labels become
// aliases, their attribute objects are reused by later keys of the same
// name, as gcloud does).

// Projection node flags.
const (
	flagDefault = 0
	flagInner   = 1
	flagProject = 2
)

type attribute struct {
	align       string
	flag        int
	hidden      bool
	label       *string
	optional    *bool
	order       *int
	reverse     *bool
	skipReorder bool
	subformat   *string
	transform   *transformChain
	width       *int
	wrap        *int // nil: None; 0: False; -1: True; N: wrap width
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
	empty      *projNode
	active     int
	aliases    map[string]aliasDef
	symbols    map[string]*transformDef
}

func (s *projSpec) defaults() {
	if s.root != nil {
		var walk func(n *projNode)
		walk = func(n *projNode) {
			n.attr.flag = flagDefault
			for _, c := range n.tree {
				walk(c)
			}
		}
		walk(s.root)
	}
	s.columns = nil
	s.active++
}

func (s *projSpec) setName(name string) {
	if s.name != "" {
		s.attributes = map[string]any{}
	}
	s.name = name
}

func (s *projSpec) hasAttr(name string) bool {
	_, ok := s.attributes[name]
	return ok
}

// labels is ProjectionSpec.Labels(): nil when every label is empty.
func (s *projSpec) labels() []string {
	var out []string
	any := false
	for _, c := range s.columns {
		l := ""
		if c.attr.label != nil {
			l = *c.attr.label
		}
		if l != "" {
			any = true
		}
		out = append(out, l)
	}
	if !any {
		return nil
	}
	return out
}

// order is ProjectionSpec.Order(): (column index, reverse) from the highest
// to the lowest sort precedence.
func (s *projSpec) order() []orderKey {
	type ent struct {
		order, index int
		reverse      bool
	}
	var ents []ent
	for i, c := range s.columns {
		ord := 0
		if c.attr.order != nil {
			ord = *c.attr.order
		}
		rev := c.attr.reverse != nil && *c.attr.reverse
		if ord != 0 || rev {
			if ord == 0 {
				ord = int(^uint(0) >> 1)
			}
			ents = append(ents, ent{ord, i, rev})
		}
	}
	// Python sorts the (order, index, reverse) tuples.
	for i := 1; i < len(ents); i++ {
		for j := i; j > 0; j-- {
			a, b := ents[j-1], ents[j]
			if a.order > b.order || (a.order == b.order && a.index > b.index) {
				ents[j-1], ents[j] = b, a
			}
		}
	}
	out := make([]orderKey, len(ents))
	for i, e := range ents {
		out[i] = orderKey{e.index, e.reverse}
	}
	return out
}

type orderKey struct {
	index   int
	reverse bool
}

// projParser is resource_projection_parser.Parser.
type projParser struct {
	spec          *projSpec
	lex           *lexer
	attrsOnly     bool
	orderOffset   int
	snakeHeadings map[string]bool
}

// parseProjection parses a format/projection expression.
func parseProjection(expr string, symbols map[string]*transformDef) (*projSpec, error) {
	p := &projParser{
		spec: &projSpec{
			attributes: map[string]any{},
			aliases:    map[string]aliasDef{},
			symbols:    symbols,
		},
		snakeHeadings: map[string]bool{},
	}
	return p.spec, p.parse(expr)
}

func (p *projParser) parse(expr string) error {
	s := p.spec
	if s.root == nil {
		s.root = newNode(newAttribute(flagDefault))
	}
	s.empty = newNode(newAttribute(flagProject))
	if expr == "" {
		return nil
	}
	p.lex = newLexer(expr, s)
	defaults := false
	p.attrsOnly = false
	for p.lex.more() {
		switch {
		case p.lex.is("("):
			if !p.attrsOnly {
				defaults = false
				s.defaults()
			}
			if err := p.parseKeys(); err != nil {
				return err
			}
			if p.attrsOnly {
				p.attrsOnly = false
				p.reorder()
			}
		case p.lex.is("["):
			if err := p.parseAttributes(); err != nil {
				return err
			}
		case p.lex.is(":"):
			p.attrsOnly = true
			p.orderOffset = 0
		default:
			here := p.lex.pos
			name, err := p.lex.token(":([", false, true)
			if err != nil {
				return err
			}
			if !isAlpha(name.s) {
				return syntaxErrorf("Name expected [%s].", p.lex.annotate(here))
			}
			s.setName(name.s)
			defaults = true
		}
	}
	if defaults {
		s.defaults()
	}
	return nil
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

func (p *projParser) parseAttributes() error {
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
			if str, ok := value.(string); ok {
				str = strings.ReplaceAll(str, `\n`, "\n")
				value = strings.ReplaceAll(str, `\t`, "\t")
			}
			p.spec.attributes[name.s] = value
			if strings.HasPrefix(name.s, "no-") {
				delete(p.spec.attributes, name.s[3:])
			} else {
				delete(p.spec.attributes, "no-"+name.s)
			}
		}
		c, err := p.lex.isChar("]", false, false)
		if err != nil {
			return err
		}
		if c != 0 {
			return nil
		}
		if !p.lex.is(",") {
			return syntaxErrorf("Expected ] in attribute list [%s].", p.lex.annotate(-1))
		}
	}
}

func (p *projParser) parseKeys() error {
	c, err := p.lex.isChar(")", false, false)
	if err != nil {
		return err
	}
	if c != 0 {
		return nil
	}
	for {
		if err := p.parseKey(); err != nil {
			return err
		}
		p.lex.more()
		c, err := p.lex.isChar(")", false, false)
		if err != nil {
			return err
		}
		if c != 0 {
			return nil
		}
		if !p.lex.is(",") {
			return syntaxErrorf("Expected ) in projection expression [%s].", p.lex.annotate(-1))
		}
	}
}

func (p *projParser) parseKey() error {
	key, aliasAttr, err := p.lex.keyWithAttribute()
	if err != nil {
		return err
	}
	var add *transformChain
	if p.lex.is("(") {
		here := p.lex.pos
		if len(key) == 0 || key[len(key)-1].kind != keyName {
			return syntaxErrorf("Unknown transform function [%s].", p.lex.annotate(here))
		}
		fn := key[len(key)-1].name
		key = key[:len(key)-1]
		add, err = p.lex.transform(fn, p.spec.active)
		if err != nil {
			return err
		}
	}
	var attr *attribute
	if (!p.attrsOnly && aliasAttr != nil) || (p.attrsOnly && aliasAttr != nil && len(key) == 0) {
		attr = aliasAttr.copy()
	} else {
		attr = newAttribute(flagProject)
	}
	if attr.transform == nil {
		attr.transform = add
	} else if add != nil {
		t := &transformChain{calls: append(append([]*transformCall{}, attr.transform.calls...), add.calls...)}
		attr.transform = t
	}
	p.lex.more()
	c, err := p.lex.isChar(":", false, false)
	if err != nil {
		return err
	}
	if c != 0 {
		if err := p.parseKeyAttributes(key, attr); err != nil {
			return err
		}
	}
	if attr.label == nil && len(key) == 0 && attr.transform != nil && len(attr.transform.calls) > 0 {
		names := []keyElem{nameElem(attr.transform.name())}
		for _, a := range attr.transform.calls[0].args {
			names = append(names, nameElem(a))
		}
		l := p.angrySnakeCase(names)
		attr.label = &l
	}
	p.addKey(key, attr)
	return nil
}

var booleanAttributes = map[string]bool{"optional": true, "reverse": true}

func (p *projParser) parseKeyAttributes(key parsedKey, attr *attribute) error {
	for {
		nameTok, err := p.lex.token("=:,)", false, false)
		if err != nil {
			return err
		}
		name := nameTok.s
		here := p.lex.pos
		var value any
		boolean := false
		if p.lex.is("=") {
			v, err := p.lex.token(":,)", false, false)
			if err != nil {
				return err
			}
			value = v.converted()
		} else {
			boolean = true
			if strings.HasPrefix(name, "no-") {
				name = name[3:]
				value = false
			} else {
				value = true
			}
		}
		if booleanAttributes[name] {
			if !boolean {
				return syntaxErrorf("value not expected [%s].", p.lex.annotate(here))
			}
		} else if boolean && name != "wrap" {
			return syntaxErrorf("value expected [%s].", p.lex.annotate(here))
		}
		switch name {
		case "alias":
			if !truthy(value) {
				return syntaxErrorf("Cannot unset alias [%s].", p.lex.annotate(here))
			}
			p.spec.aliases[pyStr(value)] = aliasDef{key: key, attr: attr}
		case "align":
			s, _ := value.(string)
			if s != "left" && s != "center" && s != "right" {
				return syntaxErrorf("Unknown alignment [%s].", p.lex.annotate(here))
			}
			attr.align = s
		case "format":
			s := ""
			if truthy(value) {
				s = pyStr(value)
			}
			attr.subformat = &s
		case "label":
			s := ""
			if truthy(value) {
				s = pyStr(value)
			}
			attr.label = &s
		case "optional":
			b := value.(bool)
			attr.optional = &b
		case "reverse":
			b := value.(bool)
			attr.reverse = &b
		case "sort":
			n, ok := value.(int64)
			if !ok {
				return syntaxErrorf("Integer sort order expected [%s].", p.lex.annotate(here))
			}
			o := int(n)
			attr.order = &o
		case "width":
			n, ok := value.(int64)
			if !ok {
				return syntaxErrorf("Integer width expected [%s].", p.lex.annotate(here))
			}
			w := int(n)
			attr.width = &w
		case "wrap":
			w := 0
			switch v := value.(type) {
			case bool:
				if v {
					w = -1
				}
			case int64:
				w = int(v)
			default:
				return syntaxErrorf("Integer wrap width expected [%s].", p.lex.annotate(here))
			}
			attr.wrap = &w
		default:
			return syntaxErrorf("Unknown key attribute [%s].", p.lex.annotate(here))
		}
		c, err := p.lex.isChar(":", false, false)
		if err != nil {
			return err
		}
		if c == 0 {
			return nil
		}
	}
}

// angrySnakeCase builds a column label from the key names, right to left,
// adding components until the label is not yet used.
func (p *projParser) angrySnakeCase(key []keyElem) string {
	label := ""
	for i := len(key) - 1; i >= 0; i-- {
		if key[i].kind != keyName {
			continue
		}
		snake := strings.ToUpper(headingSnake(key[i].name))
		if label != "" {
			label = snake + "_" + label
		} else {
			label = snake
		}
		if !p.snakeHeadings[label] {
			p.snakeHeadings[label] = true
			break
		}
	}
	return label
}

// headingSnake applies ((?<=[a-z0-9])[A-Z]+|(?!^)[A-Z](?=[a-z])) -> _\1.
func headingSnake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i := 0; i < len(r); {
		c := r[i]
		if isUpperASCII(c) && i > 0 && (isLowerASCII(r[i-1]) || isDigitASCII(r[i-1])) {
			j := i
			for j < len(r) && isUpperASCII(r[j]) {
				j++
			}
			b.WriteByte('_')
			b.WriteString(string(r[i:j]))
			i = j
			continue
		}
		if isUpperASCII(c) && i > 0 && i+1 < len(r) && isLowerASCII(r[i+1]) {
			b.WriteByte('_')
		}
		b.WriteRune(c)
		i++
	}
	return b.String()
}

func isUpperASCII(r rune) bool { return r >= 'A' && r <= 'Z' }
func isLowerASCII(r rune) bool { return r >= 'a' && r <= 'z' }
func isDigitASCII(r rune) bool { return r >= '0' && r <= '9' }

func (p *projParser) addKey(key parsedKey, add *attribute) {
	s := p.spec
	node := s.root
	for _, name := range key[:max(len(key)-1, 0)] {
		if child, ok := node.tree[name]; ok {
			if child.attr.flag != flagProject {
				child.attr.flag = flagInner
			}
		} else {
			node.tree[name] = newNode(newAttribute(flagInner))
		}
		node = node.tree[name]
	}
	name := nameElem("")
	if len(key) > 0 {
		name = key[len(key)-1]
	}
	var attr *attribute
	child, inTree := node.tree[name]
	switch {
	case inTree:
		attr = child.attr
		if !p.attrsOnly {
			for _, c := range s.columns {
				if c.key.equal(key) {
					attr = attr.copy()
					break
				}
			}
		}
		if !p.attrsOnly || attr.order == nil || *attr.order == 0 {
			attr.hidden = false
		}
	case name.kind == keyIndex && node.tree[keyElem{kind: keySlice}] != nil:
		n := node.tree[keyElem{kind: keySlice}].deepCopy()
		node.tree[name] = n
		attr = n.attr
	default:
		attr = add
		if p.attrsOnly && attr.order != nil && *attr.order != 0 {
			attr.hidden = true
		}
		if len(key) > 0 || attr.transform != nil {
			node.tree[name] = &projNode{tree: map[keyElem]*projNode{}, attr: attr}
		}
	}
	if add.order != nil {
		o := *add.order
		attr.order = &o
		if p.attrsOnly {
			p.orderOffset++
			attr.skipReorder = true
		}
	}
	if add.label != nil {
		attr.label = add.label
	} else if attr.label == nil {
		l := p.angrySnakeCase(key)
		attr.label = &l
	}
	if add.align != "left" {
		attr.align = add.align
	}
	if add.optional != nil {
		attr.optional = add.optional
	} else if attr.optional == nil {
		f := false
		attr.optional = &f
	}
	if add.reverse != nil {
		attr.reverse = add.reverse
	} else if attr.reverse == nil {
		f := false
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
	s.aliases[*attr.label] = aliasDef{key: key, attr: attr}
	if !p.attrsOnly || attr.hidden {
		attr.flag = flagProject
		s.columns = append(s.columns, &column{key: key, attr: attr})
	} else if !inTree {
		attr.flag = flagDefault
	}
}

// reorder slides established sort orders out of the way of new ones.
func (p *projParser) reorder() {
	if p.orderOffset == 0 {
		return
	}
	var walk func(n *projNode)
	walk = func(n *projNode) {
		for _, c := range n.tree {
			if c.attr.order != nil && *c.attr.order != 0 {
				if c.attr.skipReorder {
					c.attr.skipReorder = false
				} else {
					o := *c.attr.order + p.orderOffset
					c.attr.order = &o
				}
			}
			walk(c)
		}
	}
	walk(p.spec.root)
	p.orderOffset = 0
}
