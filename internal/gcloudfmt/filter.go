package gcloudfmt

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// The filter follows resource_filter.py (the parser) and resource_expr.py
// (the evaluator) as gcloud currently runs them: ':' is a case-insensitive
// substring match on the value's words ('abc*' prefix, '*abc' suffix, 'a*b'
// anchored glob, '*' any non-empty value), '=' and '!=' case-insensitive
// whole-value matches, '<' '<=' '>' '>=' Python comparisons (numbers
// numerically, RFC 3339 timestamps as times), '~' and '!~' unanchored
// regular expressions (Go RE2 syntax), NOT / - negation, AND, OR, implicit
// AND of adjacent terms, parentheses (required when AND and OR mix), list
// operands key:(a b c), bare words matching any value anywhere (global
// restriction), and transforms on keys (name.basename()=x).

type filterExpr interface {
	eval(obj any) (bool, error)
}

type compiledFilter struct {
	root filterExpr
	keys []parsedKey
}

func (f *compiledFilter) match(obj any) (bool, error) {
	if f.root == nil {
		return true, nil
	}
	return f.root.eval(obj)
}

type exprAnd struct{ l, r filterExpr }
type exprOr struct{ l, r filterExpr }
type exprNot struct{ e filterExpr }

func (e *exprAnd) eval(o any) (bool, error) {
	v, err := e.l.eval(o)
	if err != nil || !v {
		return false, err
	}
	return e.r.eval(o)
}

func (e *exprOr) eval(o any) (bool, error) {
	v, err := e.l.eval(o)
	if err != nil || v {
		return v, err
	}
	return e.r.eval(o)
}

func (e *exprNot) eval(o any) (bool, error) {
	v, err := e.e.eval(o)
	return !v, err
}

// exprGlobal is a bare word: any value anywhere in the resource contains it
// (case-insensitive), or a bare transform call whose result is truthy.
type exprGlobal struct {
	pattern   *regexp.Regexp
	transform *transformChain
	spec      *projSpec
}

func (e *exprGlobal) eval(o any) (bool, error) {
	if e.transform != nil {
		v, err := e.transform.evaluate(o, &evalCtx{spec: e.spec})
		return truthy(v), err
	}
	return globalRestriction(o, e.pattern), nil
}

func globalRestriction(v any, re *regexp.Regexp) bool {
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
			if !strings.HasPrefix(k, "_") && globalRestriction(t[k], re) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if globalRestriction(e, re) {
				return true
			}
		}
	}
	return false
}

type operand struct {
	list            []*operand
	isList          bool
	str             any // string, or pyTime once normalized
	hasStr          bool
	num             any // int64 or float64; nil when not numeric
	numericConstant bool
}

func newOperand(v any) *operand {
	o := &operand{}
	o.init(v, nil)
	return o
}

func (o *operand) init(v any, normalize func(string) (any, bool)) bool {
	switch t := v.(type) {
	case []string:
		o.isList = true
		o.list = nil
		for _, s := range t {
			c := &operand{}
			if !c.init(s, normalize) {
				return false
			}
			o.list = append(o.list, c)
		}
	case string:
		if t != "" && normalize != nil {
			n, ok := normalize(t)
			if !ok {
				return false
			}
			o.str, o.hasStr = n, true
			return true
		}
		o.str, o.hasStr = t, true
		switch strings.ToLower(t) {
		case "false":
			o.num, o.numericConstant = int64(0), true
		case "true":
			o.num, o.numericConstant = int64(1), true
		default:
			o.num = numericType(t)
		}
	}
	return true
}

// numericType is _NumericType: int(s), else float(s), else nil.
func numericType(v any) any {
	switch t := v.(type) {
	case bool:
		return t
	case int64, float64:
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

type opKind int

const (
	opHas opKind = iota
	opEQ
	opNE
	opLT
	opLE
	opGE
	opGT
	opRE
	opNotRE
)

var opNames = map[string]opKind{":": opHas, "=": opEQ, "!=": opNE, "<": opLT, "<=": opLE, ">=": opGE, ">": opGT, "~": opRE, "!~": opNotRE}

type wordPattern struct {
	operand string
	re      *regexp.Regexp // nil: the '*' pattern, matching any non-empty text
}

type exprTerm struct {
	op        opKind
	opName    string
	key       parsedKey
	operand   *operand
	transform *transformChain
	spec      *projSpec
	patterns  []wordPattern
	re        *regexp.Regexp
	// normalization state: nil until the first non-empty value is seen.
	normalized bool
	toTime     bool
}

func (t *exprTerm) eval(obj any) (bool, error) {
	value := getKey(obj, t.key)
	if t.transform != nil {
		var err error
		value, err = t.transform.evaluate(value, &evalCtx{spec: t.spec})
		if err != nil {
			return false, err
		}
	}
	var resourceValues []any
	if l, ok := value.([]any); ok && len(l) > 0 {
		resourceValues = l
	} else {
		resourceValues = []any{value}
	}
	values := make([]any, 0, len(resourceValues))
	for _, v := range resourceValues {
		if truthy(v) {
			v = t.normalize(v)
		}
		values = append(values, v)
	}
	operands := []*operand{t.operand}
	if t.operand.isList && len(t.operand.list) > 0 {
		operands = t.operand.list
	}
	for _, v := range values {
		for _, o := range operands {
			if o.num != nil {
				if nv := numericType(v); nv != nil {
					if ok, err := t.apply(nv, o.num); err == nil && ok {
						return true, nil
					} else if err == nil && !o.numericConstant {
						continue
					}
				}
			}
			if _, isTime := o.str.(pyTime); isTime && !truthy(v) {
				continue
			}
			ok, err := t.apply(v, o.str)
			if err == nil {
				if ok {
					return true, nil
				}
				continue
			}
			if err != errTypeError {
				continue
			}
			switch v.(type) {
			case nil:
				if ok, err := t.apply("", o.str); err == nil && ok {
					return true, nil
				}
			case string, map[string]any, []any:
			default:
				if ok, err := t.apply(stringize(v), o.str); err == nil && ok {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

var dateTimePrefixRE = regexp.MustCompile(`^\d\d\d\d-\d\d-\d\d[ T]\d\d:\d\d:\d\d`)

// normalize is InitializeNormalization: the first non-empty value decides
// whether the term compares timestamps.
func (t *exprTerm) normalize(v any) any {
	if t.normalized {
		if t.toTime {
			if s, ok := v.(string); ok {
				if p, ok := parseDateTime(s, time.Local); ok {
					return p
				}
			}
		}
		return v
	}
	t.normalized = true
	s, ok := v.(string)
	if !ok || !dateTimePrefixRE.MatchString(s) {
		return v
	}
	p, ok := parseDateTime(s, time.Local)
	if !ok {
		return v
	}
	var loc *time.Location
	if p.aware {
		loc = time.Local
	}
	var src any = t.operand.str
	if t.operand.isList {
		var l []string
		for _, o := range t.operand.list {
			if str, ok := o.str.(string); ok {
				l = append(l, str)
			}
		}
		src = l
	}
	if t.operand.init(src, func(s string) (any, bool) {
		p, ok := parseDateTime(s, loc)
		return p, ok
	}) {
		t.toTime = true
	}
	return p
}

type typeError struct{}

func (typeError) Error() string { return "TypeError" }

var errTypeError error = typeError{}

// apply evaluates value OP operand; errTypeError where Python raises
// TypeError.
func (t *exprTerm) apply(value, operand any) (bool, error) {
	switch t.op {
	case opHas, opEQ:
		return t.wordMatch(value), nil
	case opNE:
		return !t.wordMatch(value), nil
	case opRE, opNotRE:
		s, ok := value.(string)
		if !ok {
			return false, errTypeError
		}
		m := t.re.MatchString(s)
		if t.op == opNotRE {
			return !m, nil
		}
		return m, nil
	}
	c, ok := pyCompare(value, operand)
	if !ok {
		return false, errTypeError
	}
	switch t.op {
	case opLT:
		return c < 0, nil
	case opLE:
		return c <= 0, nil
	case opGE:
		return c >= 0, nil
	}
	return c > 0, nil
}

func (t *exprTerm) wordMatch(value any) bool {
	var values []any
	switch v := value.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			values = append(values, k)
		}
		for _, k := range sortedKeys(v) {
			values = append(values, v[k])
		}
	case []any:
		values = v
	default:
		values = []any{value}
	}
	for _, v := range values {
		for _, p := range t.patterns {
			if t.matchOneWord(v, p) {
				return true
			}
		}
	}
	return false
}

var trailingZerosRE = regexp.MustCompile(`\.0*$`)

func (t *exprTerm) matchOneWord(value any, p wordPattern) bool {
	var text string
	switch v := value.(type) {
	case bool, int64, float64:
		if n := numericType(p.operand); n != nil && pyEqual(v, n) {
			return true
		}
		x, _ := numVal(v)
		if x == 0 && strings.ToLower(p.operand) == "false" {
			return true
		}
		if x == 1 && strings.ToLower(p.operand) == "true" {
			return true
		}
		text = trailingZerosRE.ReplaceAllString(stringize(v), "")
	case string:
		if v == p.operand {
			return true
		}
		text = normalizeForSearch(v, true)
	case nil:
		if p.operand == "" {
			return true
		}
		if p.operand == "*" && t.op == opHas {
			return false
		}
		text = "null"
	case pyTime:
		if p.operand != "" {
			var loc *time.Location
			if v.aware {
				loc = time.Local
			}
			if o, ok := parseDateTime(p.operand, loc); ok && pyEqual(v, o) {
				return true
			}
		}
		text = normalizeForSearch(v.pyString(), true)
	default:
		text = normalizeForSearch(stringize(v), true)
	}
	if p.re == nil {
		return text != "" && strings.ContainsFunc(text, func(r rune) bool { return r != '\n' })
	}
	return p.re.MatchString(text)
}

// stringize is _Stringize: repr() for non-strings, 'null' for None.
func stringize(v any) string {
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

var htmlTagRE = regexp.MustCompile(`<[^>]*>`)

// normalizeForSearch lowercases, strips HTML tags (html) and accents.
func normalizeForSearch(s string, html bool) string {
	s = strings.ToLower(s)
	if html {
		s = htmlTagRE.ReplaceAllString(s, "")
	}
	s = norm.NFKD.String(s)
	return strings.Map(func(r rune) rune {
		if isCombining(r) {
			return -1
		}
		return r
	}, s)
}

// hasPattern compiles a ':' operand the way gcloud currently evaluates it.
func hasPattern(pattern string) (wordPattern, error) {
	if pattern == "*" {
		return wordPattern{operand: pattern}, nil
	}
	normalized := normalizeForSearch(pattern, false)
	parts := strings.Split(normalized, "*")
	if len(parts) > 2 {
		return wordPattern{}, syntaxErrorf("At most one * expected in : patterns [%s].", pattern)
	}
	left, right := "", ""
	if len(parts) == 1 {
		left = regexp.QuoteMeta(parts[0])
		return compileWord(pattern, left)
	}
	left, right = regexp.QuoteMeta(parts[0]), regexp.QuoteMeta(parts[1])
	switch {
	case strings.HasPrefix(pattern, "*"):
		return compileWord(pattern, left+right+"$")
	case strings.HasSuffix(pattern, "*"):
		return compileWord(pattern, "^"+left+right)
	}
	return compileWord(pattern, "^"+left+".*"+right+"$")
}

func eqPattern(pattern string) (wordPattern, error) {
	return compileWord(pattern, "^"+regexp.QuoteMeta(normalizeForSearch(pattern, false))+"$")
}

func compileWord(operand, re string) (wordPattern, error) {
	c, err := regexp.Compile("(?im)" + re)
	if err != nil {
		return wordPattern{}, syntaxErrorf("Filter expression RE pattern [%s]: %v", re, err)
	}
	return wordPattern{operand: operand, re: c}, nil
}

// filterParser is resource_filter._Parser.
type filterParser struct {
	lex    *lexer
	spec   *projSpec
	parens []map[int]bool
	keys   []parsedKey
}

var logicalOps = []string{"AND", "NOT", "OR"}

func compileFilter(expr string, spec *projSpec) (*compiledFilter, error) {
	p := &filterParser{spec: spec, parens: []map[int]bool{{}}}
	p.lex = newLexer(expr, spec)
	tree, err := p.parseExpr(false)
	if err != nil {
		return nil, err
	}
	if !p.lex.atEnd() {
		return nil, syntaxErrorf("Unexpected tokens [%s] in expression.", p.lex.annotate(-1))
	}
	return &compiledFilter{root: tree, keys: p.keys}, nil
}

const (
	opAndGroup = 0
	opOrGroup  = 1
)

func (p *filterParser) checkParens(op int) error {
	cur := p.parens[len(p.parens)-1]
	cur[op] = true
	if len(cur) > 1 {
		return syntaxErrorf("Parenthesis grouping is required when AND and OR are are combined [%s].", p.lex.annotate(-1))
	}
	return nil
}

func (p *filterParser) parseKey() (parsedKey, *transformChain, error) {
	here := p.lex.pos
	key, err := p.lex.key()
	if err != nil {
		return nil, nil, err
	}
	if len(key) > 0 && key[0].kind == keyName {
		for _, l := range logicalOps {
			if key[0].name == l {
				return nil, nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(here))
			}
		}
	}
	if p.lex.is("(") {
		here := p.lex.pos
		if len(key) == 0 || key[len(key)-1].kind != keyName {
			return nil, nil, &unknownTransformError{syntaxErrorf("Unknown transform function [%s].", p.lex.annotate(here))}
		}
		fn := key[len(key)-1].name
		key = key[:len(key)-1]
		t, err := p.lex.transform(fn, 0)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && strings.HasPrefix(se.Msg, "Unknown transform function") {
				return nil, nil, &unknownTransformError{err}
			}
			return nil, nil, err
		}
		return key, t, nil
	}
	return key, nil, nil
}

type unknownTransformError struct{ error }

func (p *filterParser) parseOperator() (string, error) {
	if !p.lex.more() {
		return "", nil
	}
	here := p.lex.pos
	const c1, c2 = ":=!<>~", "=~"
	c, _ := p.lex.isChar(c1, false, false)
	if c == 0 {
		return "", nil
	}
	op := string(c)
	if !p.lex.atEnd() {
		if c2r, _ := p.lex.isChar(c1+c2, false, false); c2r != 0 {
			op += string(c2r)
		}
	}
	if _, ok := opNames[op]; !ok {
		return "", syntaxErrorf("Malformed operator [%s].", p.lex.annotate(here))
	}
	if _, err := p.lex.skipSpace("Term operand", ""); err != nil {
		return "", err
	}
	return op, nil
}

func (p *filterParser) parseTerm(must bool) (filterExpr, error) {
	here := p.lex.pos
	if !p.lex.more() {
		if must {
			return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(here))
		}
		return nil, nil
	}
	if p.lex.peekIs(")") {
		return nil, nil
	}
	if p.lex.is("(") {
		p.parens = append(p.parens, map[int]bool{})
		tree, err := p.parseExpr(false)
		if err != nil {
			return nil, err
		}
		if _, err := p.lex.isChar(")", false, false); err != nil {
			return nil, err
		}
		p.parens = p.parens[:len(p.parens)-1]
		if tree == nil && must {
			// gcloud crashes evaluating NOT (); report it instead.
			return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
		}
		return tree, nil
	}
	invert := p.lex.is("-")
	here = p.lex.pos
	key, transform, keyErr := p.parseKey()
	restriction := ""
	hasRestriction := false
	if keyErr != nil {
		if _, ok := keyErr.(*unknownTransformError); !ok {
			if _, ok := keyErr.(*SyntaxError); !ok {
				return nil, keyErr
			}
		}
		p.lex.pos = here
		tok, err := p.lex.token(operatorChars, false, false)
		if err != nil {
			return nil, err
		}
		restriction, hasRestriction = tok.s, tok.ok
		transform = nil
		key = nil
	}
	here = p.lex.pos
	opName, err := p.parseOperator()
	if err != nil {
		return nil, err
	}
	var tree filterExpr
	if opName == "" {
		switch {
		case transform != nil && len(key) == 0:
			tree = &exprGlobal{transform: transform, spec: p.spec}
		case transform != nil:
			return nil, syntaxErrorf("Operator expected [%s].", p.lex.annotate(here))
		case restriction == "AND" || restriction == "OR":
			return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
		default:
			if ute, ok := keyErr.(*unknownTransformError); ok {
				return nil, ute.error
			}
			if !hasRestriction || restriction == "" {
				restriction = parsedKey(key).rawName()
			}
			re, err := regexp.Compile("(?i)" + regexp.QuoteMeta(restriction))
			if err != nil {
				return nil, err
			}
			tree = &exprGlobal{pattern: re}
		}
		if invert {
			tree = &exprNot{tree}
		}
		return tree, nil
	} else if keyErr != nil {
		if ute, ok := keyErr.(*unknownTransformError); ok {
			return nil, ute.error
		}
		return nil, keyErr
	}
	if _, err := p.lex.skipSpace("Operand", ""); err != nil {
		return nil, err
	}
	here = p.lex.pos
	for _, l := range logicalOps {
		if p.lex.isString(l, false) {
			return nil, syntaxErrorf("Logical operator not expected [%s].", p.lex.annotate(here))
		}
	}
	op := opNames[opName]
	var opd *operand
	if (op == opEQ || op == opHas) && p.lex.is("(") {
		toks, err := p.lex.args(" \t\n,")
		if err != nil {
			return nil, err
		}
		var l []string
		for _, a := range toks {
			if a.s == "AND" || a.s == "NOT" || a.s == "OR" {
				continue
			}
			l = append(l, a.s)
		}
		opd = &operand{}
		opd.init(l, nil)
		if l == nil {
			opd.isList = true
		}
	} else {
		tok, err := p.lex.token("()", false, true)
		if err != nil {
			return nil, err
		}
		if !tok.ok {
			return nil, syntaxErrorf("Term operand expected [%s].", p.lex.annotate(here))
		}
		opd = newOperand(tok.s)
	}
	term := &exprTerm{op: op, opName: opName, key: key, operand: opd, transform: transform, spec: p.spec}
	if err := term.compilePatterns(); err != nil {
		return nil, err
	}
	p.keys = append(p.keys, key)
	tree = term
	if invert {
		tree = &exprNot{tree}
	}
	return tree, nil
}

func (t *exprTerm) compilePatterns() error {
	var strs []string
	if t.operand.isList {
		for _, o := range t.operand.list {
			if s, ok := o.str.(string); ok {
				strs = append(strs, s)
			}
		}
	} else if s, ok := t.operand.str.(string); ok {
		strs = append(strs, s)
	}
	switch t.op {
	case opHas:
		for _, s := range strs {
			p, err := hasPattern(s)
			if err != nil {
				return err
			}
			t.patterns = append(t.patterns, p)
		}
	case opEQ, opNE:
		for _, s := range strs {
			p, err := eqPattern(s)
			if err != nil {
				return err
			}
			t.patterns = append(t.patterns, p)
		}
	case opRE, opNotRE:
		s := ""
		if len(strs) > 0 {
			s = strs[0]
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return syntaxErrorf("Filter expression RE pattern [%s]: %v", s, err)
		}
		t.re = re
	}
	return nil
}

// rawName is GetKeyName(key, quote=False).
func (k parsedKey) rawName() string {
	var parts []string
	for _, e := range k {
		switch e.kind {
		case keyName:
			parts = append(parts, e.name)
			continue
		case keySlice:
			if len(parts) > 0 {
				parts[len(parts)-1] += "[]"
				continue
			}
			parts = append(parts, "[]")
		default:
			s := "[" + e.name + "]"
			if e.kind == keyIndex {
				s = "[" + itoa(e.index) + "]"
			}
			if len(parts) > 0 {
				parts[len(parts)-1] += s
				continue
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, ".")
}

func itoa(i int) string { return strconv.Itoa(i) }

func (p *filterParser) parseAndTerm(must bool) (filterExpr, error) {
	if p.lex.isString("NOT", false) {
		t, err := p.parseTerm(true)
		if err != nil {
			return nil, err
		}
		return &exprNot{t}, nil
	}
	return p.parseTerm(must)
}

func (p *filterParser) parseAndTail(tree filterExpr) (filterExpr, error) {
	if p.lex.isString("AND", false) {
		if err := p.checkParens(opAndGroup); err != nil {
			return nil, err
		}
		r, err := p.parseOrTerm(true)
		if err != nil {
			return nil, err
		}
		return &exprAnd{tree, r}, nil
	}
	return tree, nil
}

func (p *filterParser) parseOrTerm(must bool) (filterExpr, error) {
	tree, err := p.parseAndTerm(false)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return p.parseAndTail(tree)
	}
	if must {
		return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
	}
	return nil, nil
}

func (p *filterParser) parseOrTail(tree filterExpr) (filterExpr, error) {
	if p.lex.isString("OR", false) {
		if err := p.checkParens(opOrGroup); err != nil {
			return nil, err
		}
		r, err := p.parseAdjTerm(true)
		if err != nil {
			return nil, err
		}
		return &exprOr{tree, r}, nil
	}
	return tree, nil
}

func (p *filterParser) parseAdjTerm(must bool) (filterExpr, error) {
	tree, err := p.parseOrTerm(false)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return p.parseOrTail(tree)
	}
	if must {
		return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
	}
	return nil, nil
}

func (p *filterParser) parseAdjTail(tree filterExpr) (filterExpr, error) {
	if !p.lex.isString("AND", true) && !p.lex.isString("OR", true) && !p.lex.peekIs(")") && !p.lex.atEnd() {
		r, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		return &exprAnd{tree, r}, nil
	}
	return tree, nil
}

func (p *filterParser) parseExpr(must bool) (filterExpr, error) {
	tree, err := p.parseAdjTerm(false)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return p.parseAdjTail(tree)
	}
	if must {
		return nil, syntaxErrorf("Term expected [%s].", p.lex.annotate(-1))
	}
	return nil, nil
}

// isCombining is unicodedata.combining(r) != 0.
func isCombining(r rune) bool {
	return norm.NFD.PropertiesString(string(r)).CCC() != 0
}
