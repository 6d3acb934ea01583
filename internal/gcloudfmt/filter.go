package gcloudfmt

import (
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Filters (--filter) select the resources to print. The matching rules are
// the ones gcloud applies today:
//
//   - key:word is a case-insensitive substring match ("word*" anchors at the
//     start, "*word" at the end, "a*b" at both, and "*" matches any
//     non-empty value); lists match when an item does, dicts when a key or
//     a value does;
//   - key=value and key!=value compare whole values, ignoring case;
//   - <, <=, >, >= compare numbers as numbers, RFC 3339 timestamps as times
//     and anything else as strings;
//   - ~ and !~ search with a regular expression (Go RE2 syntax);
//   - NOT and -term negate; AND and OR join terms (both on one level needs
//     parentheses); adjacent terms are ANDed, more loosely than AND and OR;
//   - key:(a b c) and key=(a b c) match any of the words;
//   - a bare word matches when any value in the resource contains it;
//   - keys may carry transforms (name.basename()=x), and a transform call
//     on its own (words(a b)) is true when its result is.

// filterNode is one node of a compiled filter.
type filterNode interface {
	match(r any) (bool, error)
}

type compiledFilter struct {
	root filterNode
	keys []parsedKey // every key a term compares, for missing-key warnings
}

func (f *compiledFilter) match(r any) (bool, error) {
	if f.root == nil {
		return true, nil
	}
	return f.root.match(r)
}

// allOf is true when every node is (evaluated left to right, stopping at
// the first false one or error).
type allOf []filterNode

func (n allOf) match(r any) (bool, error) {
	for _, c := range n {
		if ok, err := c.match(r); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// anyOf is true when some node is.
type anyOf []filterNode

func (n anyOf) match(r any) (bool, error) {
	for _, c := range n {
		if ok, err := c.match(r); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

type notNode struct{ inner filterNode }

func (n notNode) match(r any) (bool, error) {
	ok, err := n.inner.match(r)
	return !ok, err
}

// conj and disj make one node of a list of nodes.
func conj(nodes allOf) filterNode {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return nodes
}

func disj(nodes anyOf) filterNode {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return nodes
}

// bareWord matches when any value (not key) anywhere in the resource
// contains the word, ignoring case. Dict keys starting with '_' are skipped.
type bareWord struct{ re *regexp.Regexp }

func (b bareWord) match(r any) (bool, error) { return containsWord(r, b.re), nil }

func containsWord(v any, re *regexp.Regexp) bool {
	if !truthy(v) {
		return false
	}
	switch t := v.(type) {
	case string:
		return re.MatchString(t)
	case bool, int64, float64:
		return re.MatchString(pyStr(t))
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if !strings.HasPrefix(k, "_") && containsWord(t[k], re) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if containsWord(e, re) {
				return true
			}
		}
	}
	return false
}

// callTerm is a transform call without an operator: true when its result
// on the whole resource is truthy.
type callTerm struct {
	chain *transformChain
	spec  *projSpec
}

func (c callTerm) match(r any) (bool, error) {
	v, err := c.chain.evaluate(r, &evalCtx{spec: c.spec})
	return truthy(v), err
}

type compareOp int

const (
	opHas compareOp = iota
	opEQ
	opNE
	opLT
	opLE
	opGE
	opGT
	opRE
	opNotRE
)

var compareOps = map[string]compareOp{":": opHas, "=": opEQ, "!=": opNE, "<": opLT, "<=": opLE, ">=": opGE, ">": opGT, "~": opRE, "!~": opNotRE}

// operand is the right-hand side of a comparison: a string (or, once the
// compared values turn out to be timestamps, a time), its numeric reading,
// or a list of operands for key:(a b c).
type operand struct {
	text    any // string, or pyTime after timestamp conversion; nil for a list
	number  any // int64 or float64; nil when the text is not a number
	boolean bool
	isList  bool
	items   []*operand
}

// newOperand reads a scalar operand. true and false stand for 1 and 0.
func newOperand(s string) *operand {
	o := &operand{text: s}
	switch strings.ToLower(s) {
	case "true":
		o.number, o.boolean = int64(1), true
	case "false":
		o.number, o.boolean = int64(0), true
	default:
		o.number = numberOf(s)
	}
	return o
}

func newListOperand(words []string) *operand {
	o := &operand{isList: true}
	for _, w := range words {
		o.items = append(o.items, newOperand(w))
	}
	return o
}

// strings lists the operand's text(s).
func (o *operand) strings() []string {
	var out []string
	if o.isList {
		for _, it := range o.items {
			if s, ok := it.text.(string); ok {
				out = append(out, s)
			}
		}
	} else if s, ok := o.text.(string); ok {
		out = append(out, s)
	}
	return out
}

// toTimes rereads the operand's text(s) as timestamps. A list is rebuilt
// item by item and stays as far as it got when an item does not parse; a
// scalar is left alone then. The empty string stays a string.
func (o *operand) toTimes(loc *time.Location) bool {
	parse := func(s string) (any, bool) {
		if s == "" {
			return s, true
		}
		t, ok := parseDateTime(s, loc)
		return t, ok
	}
	if !o.isList {
		s, isStr := o.text.(string)
		if !isStr {
			return true
		}
		t, ok := parse(s)
		if ok {
			o.text = t
		}
		return ok
	}
	words := o.strings()
	o.items = nil
	for _, w := range words {
		t, ok := parse(w)
		if !ok {
			return false
		}
		o.items = append(o.items, &operand{text: t})
	}
	return true
}

// numberOf reads v as a number: numbers and booleans as they are, numeric
// strings parsed (int first, then float); nil otherwise.
func numberOf(v any) any {
	switch t := v.(type) {
	case bool, int64, float64:
		return t
	case string:
		if i, ok := pyInt(t); ok {
			return i
		}
		if f, ok := pyFloat(t); ok {
			return f
		}
	}
	return nil
}

// wordPattern is one compiled ':' or '=' operand word.
type wordPattern struct {
	word string
	re   *regexp.Regexp // nil for the lone '*', which matches any non-empty text
}

// comparison is a key OP operand term.
type comparison struct {
	op       compareOp
	key      parsedKey
	chain    *transformChain // transforms on the key, or nil
	spec     *projSpec
	operand  *operand
	words    []wordPattern  // ':', '=' and '!='
	re       *regexp.Regexp // '~' and '!~'
	timeSeen bool           // the first non-empty value has been seen...
	times    bool           // ...and it and the operand were timestamps
}

func (c *comparison) match(r any) (bool, error) {
	value := getKey(r, c.key)
	if c.chain != nil {
		var err error
		if value, err = c.chain.evaluate(value, &evalCtx{spec: c.spec}); err != nil {
			return false, err
		}
	}
	values := []any{value}
	if items, ok := value.([]any); ok && len(items) > 0 {
		values = append([]any(nil), items...)
	}
	for i, v := range values {
		if truthy(v) {
			values[i] = c.asTime(v)
		}
	}
	operands := []*operand{c.operand}
	if c.operand.isList && len(c.operand.items) > 0 {
		operands = c.operand.items
	}
	for _, v := range values {
		for _, o := range operands {
			if c.matchOne(v, o) {
				return true, nil
			}
		}
	}
	return false, nil
}

// matchOne compares one value with one operand, trying in turn: both as
// numbers (conclusive unless the operand is true/false), as they are, and
// for a value of another type than the operand, as text (None as "").
func (c *comparison) matchOne(v any, o *operand) bool {
	if o.number != nil {
		if n := numberOf(v); n != nil {
			if ok, typed := c.test(n, o.number); typed && (ok || !o.boolean) {
				return ok
			}
		}
	}
	if _, isTime := o.text.(pyTime); isTime && !truthy(v) {
		return false
	}
	if ok, typed := c.test(v, o.text); typed {
		return ok
	}
	switch v.(type) {
	case nil:
		ok, _ := c.test("", o.text)
		return ok
	case string, map[string]any, []any:
		return false
	}
	ok, _ := c.test(quotedText(v), o.text)
	return ok
}

var timestampStart = regexp.MustCompile(`^\d\d\d\d-\d\d-\d\d[ T]\d\d:\d\d:\d\d`)

// asTime decides, on the first non-empty value, whether the term compares
// timestamps: when that value is one and the operand reads as one too.
// From then on string values are read as times.
func (c *comparison) asTime(v any) any {
	if c.timeSeen {
		if s, ok := v.(string); ok && c.times {
			if t, ok := parseDateTime(s, time.Local); ok {
				return t
			}
		}
		return v
	}
	c.timeSeen = true
	s, ok := v.(string)
	if !ok || !timestampStart.MatchString(s) {
		return v
	}
	t, ok := parseDateTime(s, time.Local)
	if !ok {
		return v
	}
	var loc *time.Location
	if t.aware {
		loc = time.Local
	}
	c.times = c.operand.toTimes(loc)
	return t
}

// test applies the operator; typed is false where the two values cannot be
// compared (Python's TypeError).
func (c *comparison) test(v, operand any) (ok, typed bool) {
	switch c.op {
	case opHas, opEQ:
		return c.anyWordMatches(v), true
	case opNE:
		return !c.anyWordMatches(v), true
	case opRE, opNotRE:
		s, isStr := v.(string)
		if !isStr {
			return false, false
		}
		return c.re.MatchString(s) == (c.op == opRE), true
	}
	order, comparable := pyCompare(v, operand)
	if !comparable {
		return false, false
	}
	switch c.op {
	case opLT:
		return order < 0, true
	case opLE:
		return order <= 0, true
	case opGE:
		return order >= 0, true
	}
	return order > 0, true
}

// anyWordMatches matches the operand words against a value: each item of a
// list, each key and then each value of a dict, or the value itself.
func (c *comparison) anyWordMatches(v any) bool {
	candidates := []any{v}
	switch t := v.(type) {
	case map[string]any:
		candidates = nil
		keys := sortedKeys(t)
		for _, k := range keys {
			candidates = append(candidates, k)
		}
		for _, k := range keys {
			candidates = append(candidates, t[k])
		}
	case []any:
		candidates = t
	}
	for _, cand := range candidates {
		for _, w := range c.words {
			if c.wordMatches(cand, w) {
				return true
			}
		}
	}
	return false
}

var trailingPointZeros = regexp.MustCompile(`\.0*$`)

func (c *comparison) wordMatches(v any, w wordPattern) bool {
	var text string
	switch t := v.(type) {
	case bool, int64, float64:
		if n := numberOf(w.word); n != nil && pyEqual(t, n) {
			return true
		}
		x, _ := numVal(t)
		if word := strings.ToLower(w.word); (x == 0 && word == "false") || (x == 1 && word == "true") {
			return true
		}
		text = trailingPointZeros.ReplaceAllString(quotedText(t), "")
	case string:
		if t == w.word {
			return true
		}
		text = searchText(t, true)
	case nil:
		switch {
		case w.word == "":
			return true
		case w.word == "*" && c.op == opHas:
			return false
		}
		text = "null"
	case pyTime:
		if w.word != "" {
			var loc *time.Location
			if t.aware {
				loc = time.Local
			}
			if o, ok := parseDateTime(w.word, loc); ok && pyEqual(t, o) {
				return true
			}
		}
		text = searchText(t.pyString(), true)
	default:
		text = searchText(quotedText(t), true)
	}
	if w.re == nil {
		return strings.ContainsFunc(text, func(r rune) bool { return r != '\n' })
	}
	return w.re.MatchString(text)
}

// quotedText is the text of a non-string value as matching sees it:
// Python's repr(), "null" for None.
func quotedText(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return t
	case pyTime:
		return t.pyString()
	}
	return pyRepr(v)
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// searchText lowercases s and drops accents (and HTML tags when html).
func searchText(s string, html bool) string {
	s = strings.ToLower(s)
	if html {
		s = htmlTag.ReplaceAllString(s, "")
	}
	return strings.Map(func(r rune) rune {
		if isCombining(r) {
			return -1
		}
		return r
	}, norm.NFKD.String(s))
}

// hasWord compiles a ':' operand word.
func hasWord(word string) (wordPattern, error) {
	if word == "*" {
		return wordPattern{word: word}, nil
	}
	parts := strings.Split(searchText(word, false), "*")
	switch {
	case len(parts) > 2:
		return wordPattern{}, syntaxErrorf("At most one * expected in : patterns [%s].", word)
	case len(parts) == 1:
		return compileWord(word, regexp.QuoteMeta(parts[0]))
	}
	left, right := regexp.QuoteMeta(parts[0]), regexp.QuoteMeta(parts[1])
	switch {
	case strings.HasPrefix(word, "*"):
		return compileWord(word, left+right+"$")
	case strings.HasSuffix(word, "*"):
		return compileWord(word, "^"+left+right)
	}
	return compileWord(word, "^"+left+".*"+right+"$")
}

// equalsWord compiles a '=' or '!=' operand word.
func equalsWord(word string) (wordPattern, error) {
	return compileWord(word, "^"+regexp.QuoteMeta(searchText(word, false))+"$")
}

func compileWord(word, expr string) (wordPattern, error) {
	re, err := regexp.Compile("(?im)" + expr)
	if err != nil {
		return wordPattern{}, syntaxErrorf("Filter expression RE pattern [%s]: %v", expr, err)
	}
	return wordPattern{word: word, re: re}, nil
}

func (c *comparison) compile() error {
	texts := c.operand.strings()
	var compileOne func(string) (wordPattern, error)
	switch c.op {
	case opHas:
		compileOne = hasWord
	case opEQ, opNE:
		compileOne = equalsWord
	case opRE, opNotRE:
		expr := ""
		if len(texts) > 0 {
			expr = texts[0]
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return syntaxErrorf("Filter expression RE pattern [%s]: %v", expr, err)
		}
		c.re = re
		return nil
	default:
		return nil
	}
	for _, s := range texts {
		w, err := compileOne(s)
		if err != nil {
			return err
		}
		c.words = append(c.words, w)
	}
	return nil
}

// isCombining reports whether r is a combining mark (an accent once NFKD
// has separated it from its letter).
func isCombining(r rune) bool {
	return norm.NFD.PropertiesString(string(r)).CCC() != 0
}

// The parser. At each parenthesis level, terms are joined either by AND or
// by OR (never both), and such chains by adjacency:
//
//	filter   = sequence
//	sequence = chain { chain }                    (implicit AND)
//	chain    = unary { AND unary } | unary { OR unary }
//	unary    = NOT term | term
//	term     = "(" sequence ")" | ["-"] (key op operand | call | word)

type connective int

const (
	connAND connective = iota
	connOR
)

type filterParser struct {
	lex  *lexer
	spec *projSpec
	// used lists, per open parenthesis level, the connectives seen there.
	used [][2]bool
	keys []parsedKey
}

func compileFilter(expr string, spec *projSpec) (*compiledFilter, error) {
	p := &filterParser{lex: newLexer(expr, spec), spec: spec, used: [][2]bool{{}}}
	root, err := p.sequence(false)
	if err != nil {
		return nil, err
	}
	if !p.lex.atEnd() {
		return nil, syntaxErrorf("Unexpected tokens [%s] in expression.", p.lex.annotate(-1))
	}
	return &compiledFilter{root: root, keys: p.keys}, nil
}

func (p *filterParser) termExpected() error {
	return syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
}

// sequence parses chains up to a ')' or the end of the input.
func (p *filterParser) sequence(must bool) (filterNode, error) {
	var seq allOf
	for {
		c, err := p.chain()
		if err != nil {
			return nil, err
		}
		if c == nil {
			if must || len(seq) > 0 {
				return nil, p.termExpected()
			}
			return nil, nil
		}
		seq = append(seq, c)
		if p.lex.isWord("AND", true) || p.lex.isWord("OR", true) || p.lex.peekIs(")") || p.lex.atEnd() {
			return conj(seq), nil
		}
	}
}

// chain parses unary terms joined by AND, or by OR; nil when there is no
// term here.
func (p *filterParser) chain() (filterNode, error) {
	first, err := p.unary()
	if err != nil || first == nil {
		return nil, err
	}
	ands := allOf{first}
	for p.lex.isWord("AND", false) {
		if err := p.use(connAND); err != nil {
			return nil, err
		}
		next, err := p.mustUnary()
		if err != nil {
			return nil, err
		}
		ands = append(ands, next)
	}
	ors := anyOf{conj(ands)}
	for p.lex.isWord("OR", false) {
		if err := p.use(connOR); err != nil {
			return nil, err
		}
		next, err := p.chain()
		if err != nil {
			return nil, err
		}
		if next == nil {
			return nil, p.termExpected()
		}
		ors = append(ors, next)
	}
	return disj(ors), nil
}

func (p *filterParser) mustUnary() (filterNode, error) {
	n, err := p.unary()
	if err == nil && n == nil {
		err = p.termExpected()
	}
	return n, err
}

// use records a connective at the current parenthesis level.
func (p *filterParser) use(c connective) error {
	level := &p.used[len(p.used)-1]
	level[c] = true
	if level[connAND] && level[connOR] {
		return syntaxErrorf("Parenthesis grouping is required when AND and OR are are combined [%s].", p.lex.annotate(-1))
	}
	return nil
}

func (p *filterParser) unary() (filterNode, error) {
	if !p.lex.isWord("NOT", false) {
		return p.term(false)
	}
	t, err := p.term(true)
	if err != nil {
		return nil, err
	}
	if t == nil {
		// NOT right before ')': gcloud fails evaluating this.
		return nil, p.termExpected()
	}
	return notNode{t}, nil
}

// term parses one term; nil (and no error) at the end of the input or a
// ')' when no term is required, or for an empty "()".
func (p *filterParser) term(must bool) (filterNode, error) {
	start := p.lex.pos
	if !p.lex.more() {
		if must {
			return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(start))
		}
		return nil, nil
	}
	if p.lex.peekIs(")") {
		return nil, nil
	}
	if p.lex.is("(") {
		p.used = append(p.used, [2]bool{})
		inner, err := p.sequence(false)
		if err != nil {
			return nil, err
		}
		if _, err := p.lex.expectOneOf(")"); err != nil {
			return nil, err
		}
		p.used = p.used[:len(p.used)-1]
		if inner == nil && must {
			return nil, p.termExpected()
		}
		return inner, nil
	}
	negate := p.lex.is("-")
	node, err := p.positiveTerm()
	if err != nil {
		return nil, err
	}
	if negate {
		return notNode{node}, nil
	}
	return node, nil
}

// positiveTerm parses a comparison, a lone call or a bare word.
func (p *filterParser) positiveTerm() (filterNode, error) {
	start := p.lex.pos
	key, chain, unknownFn, keyErr := p.keyAndTransforms()
	word, hasWord := "", false
	if keyErr != nil {
		if _, ok := keyErr.(*SyntaxError); !ok {
			return nil, keyErr
		}
		// Not a key: the text up to an operator is a bare word.
		p.lex.pos = start
		tok, err := p.lex.token(keyOperators, false, false)
		if err != nil {
			return nil, err
		}
		word, hasWord = tok.s, tok.ok
		key, chain = nil, nil
	}
	opStart := p.lex.pos
	opName, err := p.operator()
	if err != nil {
		return nil, err
	}
	if opName == "" {
		switch {
		case chain != nil && len(key) == 0:
			return callTerm{chain: chain, spec: p.spec}, nil
		case chain != nil:
			return nil, syntaxErrorf("Operator expected [%s].", p.lex.annotate(opStart))
		case word == "AND" || word == "OR":
			return nil, p.termExpected()
		case unknownFn:
			return nil, keyErr
		}
		if !hasWord || word == "" {
			word = key.rawName()
		}
		re, err := regexp.Compile("(?i)" + regexp.QuoteMeta(word))
		if err != nil {
			return nil, err
		}
		return bareWord{re}, nil
	}
	if keyErr != nil {
		return nil, keyErr
	}
	o, err := p.operand(compareOps[opName])
	if err != nil {
		return nil, err
	}
	c := &comparison{op: compareOps[opName], key: key, chain: chain, spec: p.spec, operand: o}
	if err := c.compile(); err != nil {
		return nil, err
	}
	p.keys = append(p.keys, key)
	return c, nil
}

// keyAndTransforms parses a key and the transforms called on it. unknownFn
// marks an error about an unknown transform function (reported only if no
// operator follows; otherwise the text is a bare word).
func (p *filterParser) keyAndTransforms() (key parsedKey, chain *transformChain, unknownFn bool, err error) {
	start := p.lex.pos
	if key, err = p.lex.key(); err != nil {
		return nil, nil, false, err
	}
	if len(key) > 0 && key[0].kind == keyName {
		switch key[0].name {
		case "AND", "NOT", "OR":
			return nil, nil, false, syntaxErrorf("Term expected [%s].", p.lex.annotate(start))
		}
	}
	if !p.lex.is("(") {
		return key, nil, false, nil
	}
	last := len(key) - 1
	if last < 0 || key[last].kind != keyName {
		return nil, nil, true, syntaxErrorf("Unknown transform function [%s].", p.lex.annotate(-1))
	}
	chain, err = parseTransforms(p.lex, key[last].name, 0)
	if err != nil {
		se, ok := err.(*SyntaxError)
		return nil, nil, ok && strings.HasPrefix(se.Msg, "Unknown transform function"), err
	}
	return key[:last], chain, false, nil
}

// operator parses a comparison operator; "" when none follows.
func (p *filterParser) operator() (string, error) {
	if !p.lex.more() {
		return "", nil
	}
	start := p.lex.pos
	const opChars = ":=!<>~"
	c := p.lex.nextOf(opChars)
	if c == 0 {
		return "", nil
	}
	op := string(c)
	if c2 := p.lex.nextOf(opChars); c2 != 0 {
		op += string(c2)
	}
	if _, ok := compareOps[op]; !ok {
		return "", syntaxErrorf("Malformed operator [%s].", p.lex.annotate(start))
	}
	if err := p.lex.need("Term operand"); err != nil {
		return "", err
	}
	return op, nil
}

// operand parses what follows an operator: a word, or for ':' and '=' a
// parenthesized list of words.
func (p *filterParser) operand(op compareOp) (*operand, error) {
	if err := p.lex.need("Operand"); err != nil {
		return nil, err
	}
	start := p.lex.pos
	for _, w := range []string{"AND", "NOT", "OR"} {
		if p.lex.isWord(w, false) {
			return nil, syntaxErrorf("Logical operator not expected [%s].", p.lex.annotate(start))
		}
	}
	if (op == opEQ || op == opHas) && p.lex.is("(") {
		toks, err := p.lex.args(" \t\n,")
		if err != nil {
			return nil, err
		}
		var words []string
		for _, t := range toks {
			switch t.s {
			case "AND", "NOT", "OR":
			default:
				words = append(words, t.s)
			}
		}
		return newListOperand(words), nil
	}
	tok, err := p.lex.token("()", false, true)
	if err != nil {
		return nil, err
	}
	if !tok.ok {
		return nil, syntaxErrorf("Term operand expected [%s].", p.lex.annotate(start))
	}
	return newOperand(tok.s), nil
}
