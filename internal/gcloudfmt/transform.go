package gcloudfmt

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TransformFunc is a custom projection transform (gcloud's per-collection
// transforms, such as the functions commands' state() or generation()),
// called for key.name(args...) with the key's value, or with the whole
// resource when the call has no key (state()). The value is JSON-shaped in
// this package's normal form: map[string]any, []any, string, int64,
// float64, bool or nil. args are the positional arguments and kw the
// name=value ones, as the raw strings of the expression. The result may be
// any JSON-shaped value.
type TransformFunc func(value any, args []string, kw map[string]string) (any, error)

// argStyle says how a transform's arguments are read.
type argStyle int

const (
	// argsPositional: every argument is positional, name=value included,
	// and any number is accepted.
	argsPositional argStyle = iota
	// argsDeclared: arguments bind to the declared parameters, in order or
	// by name=value; anything else is an error when the call runs.
	argsDeclared
	// argsFree: name=value arguments are split out, nothing is checked
	// (custom transforms).
	argsFree
)

// transformDef describes one transform function.
type transformDef struct {
	name   string
	style  argStyle
	params []string // argsDeclared: the parameter names, in positional order
	run    func(a callArgs, ctx *evalCtx, v any) (any, error)
}

// callArgs are the arguments of one call, as written in the expression.
type callArgs struct {
	positional []string
	named      map[string]string
	params     []string
}

// lookup returns the argument given for parameter name, by position or by
// name.
func (a callArgs) lookup(name string) (string, bool) {
	for i, p := range a.params {
		if p == name && i < len(a.positional) {
			return a.positional[i], true
		}
	}
	v, ok := a.named[name]
	return v, ok
}

// get is lookup with a default for an argument that was not given.
func (a callArgs) get(name, def string) string {
	if v, ok := a.lookup(name); ok {
		return v
	}
	return def
}

// bind reads the argument tokens of a call to def. A call that does not fit
// the declared parameters yields an error that is reported only when the
// call runs, so that a transform that is never reached never fails.
func bindArgs(def *transformDef, toks []token) (callArgs, error) {
	a := callArgs{named: map[string]string{}, params: def.params}
	for _, t := range toks {
		if def.style != argsPositional {
			if name, value, ok := strings.Cut(t.s, "="); ok {
				a.named[name] = value
				continue
			}
		}
		a.positional = append(a.positional, t.s)
	}
	if def.style != argsDeclared {
		return a, nil
	}
	if len(a.positional) > len(def.params) {
		return a, fmt.Errorf("%s() takes at most %d arguments (%d given)", def.name, len(def.params), len(a.positional))
	}
	names := make([]string, 0, len(a.named))
	for n := range a.named {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		i := indexOf(def.params, n)
		switch {
		case i < 0:
			return a, fmt.Errorf("%s() got an unexpected keyword argument '%s'", def.name, n)
		case i < len(a.positional):
			return a, fmt.Errorf("%s() got multiple values for argument '%s'", def.name, n)
		}
	}
	return a, nil
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// transformCall is one call in a chain such as name.segment(1).upper().
type transformCall struct {
	def    *transformDef
	args   callArgs
	argErr error // the arguments do not fit def; reported when the call runs
	// active is the projection level the call was parsed at; always marks
	// a call preceded by always(), active at every level.
	active int
	always bool
	// mapDepth > 0 applies the call to the items of a list value, after
	// flattening mapDepth-1 levels of nested lists (map(N) and the '*'
	// shorthand).
	mapDepth int
}

type transformChain struct {
	calls []*transformCall
}

// name is the name of the last call, "" for an empty chain.
func (t *transformChain) name() string {
	if len(t.calls) == 0 {
		return ""
	}
	return t.calls[len(t.calls)-1].def.name
}

// isActive reports whether the chain applies at projection level: a chain
// inherited from a default format is inactive for the structured printers
// of an explicit one.
func (t *transformChain) isActive(level int) bool {
	if len(t.calls) == 0 {
		return true
	}
	first := t.calls[0]
	return first.always || first.active == level
}

// evalCtx carries what transforms need besides the value: the projection
// they were parsed in (format() compiles its keys against it).
type evalCtx struct {
	spec  *projSpec
	depth int // format() nesting, bounded
}

const maxFormatDepth = 32

func (t *transformChain) evaluate(v any, ctx *evalCtx) (any, error) {
	for _, c := range t.calls {
		var err error
		if items, ok := v.([]any); ok && c.mapDepth > 0 {
			v, err = c.mapItems(items, ctx)
		} else if c.mapDepth == 0 || truthy(v) {
			v, err = c.run(ctx, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (c *transformCall) run(ctx *evalCtx, v any) (any, error) {
	if c.argErr != nil {
		return nil, c.argErr
	}
	return c.def.run(c.args, ctx, v)
}

// mapItems runs the call on each item of items, nested lists flattened
// mapDepth-1 levels deep (strings count as lists of characters and dicts
// as lists of keys; a scalar item stops the flattening).
func (c *transformCall) mapItems(items []any, ctx *evalCtx) (any, error) {
	for level := 1; level < c.mapDepth && len(items) > 0; level++ {
		flat, ok := flattenOneLevel(items)
		if !ok {
			break
		}
		items = flat
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		v, err := c.run(ctx, it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func flattenOneLevel(items []any) ([]any, bool) {
	var flat []any
	for _, it := range items {
		elems, ok := iterate(it)
		if !ok {
			return nil, false
		}
		flat = append(flat, elems...)
	}
	return flat, true
}

// iterate lists what iterating over v yields: list items, the characters
// of a string, the (sorted) keys of a dict. ok is false for scalars.
func iterate(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case string:
		out := make([]any, 0, len(t))
		for _, r := range t {
			out = append(out, string(r))
		}
		return out, true
	case map[string]any:
		keys := sortedKeys(t)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, true
	}
	return nil, false
}

// lookupTransform finds a transform: the projection's own symbols (custom
// transforms) first, then the built-in ones.
func lookupTransform(spec *projSpec, name string) *transformDef {
	if spec != nil {
		if d := spec.symbols[name]; d != nil {
			return d
		}
	}
	return builtinTransforms[name]
}

// parseTransforms parses the chain of calls that starts with fn, whose '('
// the lexer has just consumed: fn(args).next(args)... always() and map()
// modify the calls after them instead of being calls themselves.
func parseTransforms(l *lexer, fn string, active int) (*transformChain, error) {
	chain := &transformChain{}
	always := false
	mapDepth := 0
	here := l.pos
	for {
		def := lookupTransform(l.spec, fn)
		if def == nil {
			return nil, syntaxErrorf("Unknown transform function %s [%s].", fn, l.annotate(l.pos))
		}
		toks, err := l.args(",")
		if err != nil {
			return nil, err
		}
		switch def.name {
		case "always":
			always = true
		case "map":
			mapDepth = 1
			if len(toks) > 0 {
				n, ok := pyInt(toks[0].s)
				if !ok {
					return nil, syntaxErrorf("Integer map() level expected [%s].", l.annotate(here))
				}
				mapDepth = int(n)
			}
		default:
			args, argErr := bindArgs(def, toks)
			chain.calls = append(chain.calls, &transformCall{def: def, args: args, argErr: argErr,
				active: active, always: always, mapDepth: mapDepth})
			mapDepth = 0
		}
		if !l.is(".") {
			return chain, nil
		}
		next, err := l.key()
		if err != nil {
			return nil, err
		}
		here = l.pos
		if !l.is("(") {
			return nil, syntaxErrorf("Transform function expected [%s].", l.annotate(here))
		}
		if len(next) != 1 || next[0].kind != keyName {
			return nil, syntaxErrorf("Unknown transform function %s [%s].", next.String(), l.annotate(here))
		}
		fn = next[0].name
	}
}

func customTransform(name string, f TransformFunc) *transformDef {
	return &transformDef{name: name, style: argsFree, run: func(a callArgs, _ *evalCtx, v any) (any, error) {
		kw := make(map[string]string, len(a.named))
		for k, s := range a.named {
			kw[k] = s
		}
		out, err := f(v, append([]string(nil), a.positional...), kw)
		if err != nil {
			return nil, err
		}
		return normalize(out)
	}}
}

// The built-in transforms. Argument names are gcloud's, so that
// name=value arguments written for gcloud work here too.
var builtinTransforms = map[string]*transformDef{}

func init() {
	declared := func(name string, run func(callArgs, *evalCtx, any) (any, error), params ...string) {
		builtinTransforms[name] = &transformDef{name: name, style: argsDeclared, params: params, run: run}
	}
	positional := func(name string, run func(callArgs, *evalCtx, any) (any, error)) {
		builtinTransforms[name] = &transformDef{name: name, style: argsPositional, run: run}
	}
	identity := func(_ callArgs, _ *evalCtx, v any) (any, error) { return v, nil }
	positional("always", identity)
	positional("map", identity)

	positional("firstof", trFirstOf)
	positional("format", trFormat)
	positional("len", trLen)
	positional("lower", trCase(strings.ToLower))
	positional("upper", trCase(strings.ToUpper))
	positional("scope", trScope)
	declared("basename", trBasename, "undefined")
	declared("date", trDate, "format", "unit", "undefined", "tz", "tz_default")
	declared("flatten", trFlatten, "show", "undefined", "separator")
	declared("float", trFloat, "precision", "spec", "undefined")
	declared("iso", trIso, "undefined")
	declared("join", trJoin, "sep", "undefined")
	declared("list", trList, "show", "undefined", "separator")
	declared("segment", trSegment, "index", "undefined")
	declared("slice", trSlice, "op", "undefined")
	declared("sort", trSort, "attr")
	declared("split", trSplit, "sep", "undefined")
	declared("yesno", trYesNo, "yes", "no")
}

// valueAt looks up a dotted key (a transform argument) in v.
func valueAt(v any, key string) (any, error) {
	k, err := newLexer(key, nil).key()
	if err != nil {
		return nil, err
	}
	return getKey(v, k), nil
}

// trBasename: the part of a path or URL after the last '/' (or '\'); each
// item's for a list.
func trBasename(a callArgs, _ *evalCtx, v any) (any, error) {
	return lastPathPart(v, a.get("undefined", "")), nil
}

func lastPathPart(v any, undefined string) any {
	if !truthy(v) {
		return undefined
	}
	if items, ok := v.([]any); ok {
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = lastPathPart(it, "")
		}
		return out
	}
	s := pyStr(v)
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	if i := strings.LastIndex(s, `\`); i >= 0 {
		return s[i+1:]
	}
	return s
}

// trFirstOf: the value of the first of the argument keys that is set.
func trFirstOf(a callArgs, _ *evalCtx, v any) (any, error) {
	for _, key := range a.positional {
		x, err := valueAt(v, key)
		if err != nil {
			return nil, err
		}
		if x != nil {
			return x, nil
		}
	}
	return "", nil
}

// dictEntries renders a dict's sorted entries as show asks: "keys",
// "values", or key=value.
func dictEntries(m map[string]any, show string, render func(any) string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		switch show {
		case "keys":
			out = append(out, k)
		case "values":
			out = append(out, render(m[k]))
		default:
			out = append(out, k+"="+render(m[k]))
		}
	}
	return out
}

// trFlatten: nested dicts and lists as one separator-joined string.
func trFlatten(a callArgs, _ *evalCtx, v any) (any, error) {
	show := a.get("show", "")
	undefined := a.get("undefined", "")
	sep := a.get("separator", ",")
	var flat func(x any) any
	flat = func(x any) any {
		if m, ok := x.(map[string]any); ok {
			x = strings.Join(dictEntries(m, show, func(e any) string { return pyStr(flat(e)) }), sep)
		}
		if items, ok := x.([]any); ok && len(items) > 0 {
			nested := false
			switch items[0].(type) {
			case map[string]any, []any:
				nested = true
			}
			parts := make([]string, len(items))
			for i, it := range items {
				if nested {
					it = flat(it)
				}
				parts[i] = pyStr(it)
			}
			return strings.Join(parts, sep)
		}
		if truthy(x) {
			return x
		}
		return undefined
	}
	return flat(v), nil
}

// trFloat: a number with precision significant digits (or as spec says).
func trFloat(a callArgs, _ *evalCtx, v any) (any, error) {
	precision := a.get("precision", "6")
	spec, hasSpec := a.lookup("spec")
	f, ok := toFloat(v)
	if !ok {
		return a.get("undefined", ""), nil
	}
	prec, ok := pyInt(precision)
	if !ok {
		return nil, fmt.Errorf("invalid precision [%s]", precision)
	}
	prec = max(min(prec, maxPad), 0)
	if hasSpec {
		return pyFormatSpec(f, "."+strconv.FormatInt(prec, 10)+spec)
	}
	return floatDigits(f, int(prec)), nil
}

// toFloat converts a number, boolean or numeric string.
func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case bool, int64, float64:
		return numVal(t)
	case string:
		return pyFloat(t)
	}
	return 0, false
}

// trFormat: format("{0} ({1})", key0, key1) fills the template with the
// keys' values, compiled as a projection of their own; key.format("{0}")
// fills it with the value itself.
func trFormat(a callArgs, ctx *evalCtx, v any) (any, error) {
	if len(a.positional) == 0 {
		return nil, errors.New("format() missing 1 required positional argument: 'fmt'")
	}
	template, keys := a.positional[0], a.positional[1:]
	if len(keys) == 0 {
		var fields []any
		switch t := v.(type) {
		case []any:
			fields = t
		default:
			if truthy(v) {
				fields = []any{v}
			} else {
				fields = []any{""}
			}
		}
		return pyFormat(template, fields)
	}
	var parent *projSpec
	depth := 0
	if ctx != nil {
		parent, depth = ctx.spec, ctx.depth
	}
	if depth >= maxFormatDepth {
		return nil, errors.New("RecursionError: maximum recursion depth exceeded in format()")
	}
	sub, err := compileSubProjection("("+strings.Join(keys, ",")+")", parent)
	if err != nil {
		return nil, err
	}
	fields, err := sub.evalColumns(v, depth+1)
	if err != nil {
		return nil, err
	}
	return pyFormat(template, fields)
}

// pyTypeName is the Python type name of a value, for error messages.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "object"
}

// trJoin: list items (string characters, dict keys) joined by sep.
func trJoin(a callArgs, _ *evalCtx, v any) (any, error) {
	undefined := a.get("undefined", "")
	items, ok := iterate(v)
	if !ok {
		return undefined, nil
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = pyStr(it)
	}
	if s := strings.Join(parts, a.get("sep", "/")); s != "" {
		return s, nil
	}
	return undefined, nil
}

// trLen: the length of a string (in characters), list or dict; 0 otherwise.
func trLen(_ callArgs, _ *evalCtx, v any) (any, error) {
	switch t := v.(type) {
	case string:
		return int64(utf8.RuneCountInString(t)), nil
	case []any:
		return int64(len(t)), nil
	case map[string]any:
		return int64(len(t)), nil
	}
	return int64(0), nil
}

// trList: a dict's entries or a list's items joined by separator.
func trList(a callArgs, _ *evalCtx, v any) (any, error) {
	sep := a.get("separator", ",")
	switch t := v.(type) {
	case map[string]any:
		return strings.Join(dictEntries(t, a.get("show", ""), pyStr), sep), nil
	case []any:
		parts := make([]string, len(t))
		for i, it := range t {
			parts[i] = pyStr(it)
		}
		return strings.Join(parts, sep), nil
	}
	if truthy(v) {
		return v, nil
	}
	return a.get("undefined", ""), nil
}

// trCase changes the case of a non-empty string; other values pass.
func trCase(change func(string) string) func(callArgs, *evalCtx, any) (any, error) {
	return func(_ callArgs, _ *evalCtx, v any) (any, error) {
		if s, ok := v.(string); ok && s != "" {
			return change(s), nil
		}
		return v, nil
	}
}

// percentDecode undoes URL %XX escapes.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b = append(b, byte(n))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// trScope: what follows the last /SCOPE/ of a resource path (the scopes are
// the arguments, regions and zones by default), or the last segment of an
// https URL.
func trScope(a callArgs, _ *evalCtx, v any) (any, error) {
	if !truthy(v) {
		return "", nil
	}
	s := percentDecode(pyStr(v))
	if !strings.Contains(s, "/") {
		return s, nil
	}
	scopes := a.positional
	if len(scopes) == 0 {
		scopes = []string{"regions", "zones"}
	}
	for _, scope := range scopes {
		if parts := strings.Split(s, "/"+scope+"/"); len(parts) > 1 {
			return parts[len(parts)-1], nil
		}
	}
	if strings.HasPrefix(s, "https://") {
		return s[strings.LastIndex(s, "/")+1:], nil
	}
	return s, nil
}

// trSegment: the index'th '/'-separated segment of a path (negative
// indexes count from the end).
func trSegment(a callArgs, _ *evalCtx, v any) (any, error) {
	index := a.get("index", "-1")
	undefined := a.get("undefined", "")
	if !truthy(v) {
		return undefined, nil
	}
	n, ok := pyInt(index)
	if !ok {
		return nil, fmt.Errorf("invalid literal for int() with base 10: %s", pyStrRepr(index))
	}
	segments := strings.Split(percentDecode(pyStr(v)), "/")
	i := int(n)
	if i < 0 {
		i += len(segments)
	}
	if i < 0 || i >= len(segments) || segments[i] == "" {
		return undefined, nil
	}
	return segments[i], nil
}

// trSlice: items of a list (characters of a string) picked by a Python
// slice "start:stop:step", or a single index "N".
func trSlice(a callArgs, _ *evalCtx, v any) (any, error) {
	undefined := a.get("undefined", "")
	bounds, ok := parseSliceOp(a.get("op", ":"))
	if !ok {
		return undefined, nil
	}
	var items []any
	switch v.(type) {
	case []any, string:
		items, _ = iterate(v)
	default:
		return undefined, nil
	}
	out := sliceItems(items, bounds)
	if len(out) == 0 {
		return undefined, nil
	}
	return out, nil
}

// sliceBounds are the parts of a slice operation; nil where omitted.
type sliceBounds struct{ start, stop, step *int }

func parseSliceOp(op string) (sliceBounds, bool) {
	op = pyStrip(op)
	if op == "" {
		return sliceBounds{}, false
	}
	var parts []*int
	for _, p := range strings.Split(op, ":") {
		if p = pyStrip(p); p == "" {
			parts = append(parts, nil)
			continue
		}
		n, ok := pyInt(p)
		if !ok {
			return sliceBounds{}, false
		}
		i := int(n)
		parts = append(parts, &i)
	}
	switch len(parts) {
	case 1:
		// "N" is the slice N:N+1 (N:end for -1).
		if parts[0] == nil {
			return sliceBounds{}, false
		}
		b := sliceBounds{start: parts[0]}
		if stop := *parts[0] + 1; stop != 0 {
			b.stop = &stop
		}
		return b, true
	case 2:
		return sliceBounds{start: parts[0], stop: parts[1]}, true
	case 3:
		return sliceBounds{start: parts[0], stop: parts[1], step: parts[2]}, true
	}
	return sliceBounds{}, false
}

// sliceItems applies Python slice semantics (clamped bounds, negative
// indexes and steps); a zero step selects nothing.
func sliceItems(items []any, b sliceBounds) []any {
	n := len(items)
	step := 1
	if b.step != nil {
		step = *b.step
	}
	if step == 0 {
		return nil
	}
	clamp := func(p *int, def, lo, hi int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i = max(i+n, lo)
		} else {
			i = min(i, hi)
		}
		return i
	}
	out := []any{}
	if step > 0 {
		for i := clamp(b.start, 0, 0, n); i < clamp(b.stop, n, 0, n); i += step {
			out = append(out, items[i])
		}
		return out
	}
	for i := clamp(b.start, n-1, -1, n-1); i > clamp(b.stop, -1, -1, n-1); i += step {
		out = append(out, items[i])
	}
	return out
}

// trSort: the items sorted, by the value of the attr key when given.
func trSort(a callArgs, _ *evalCtx, v any) (any, error) {
	if !truthy(v) {
		return []any{}, nil
	}
	items, ok := iterate(v)
	if !ok {
		return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(v))
	}
	items = append([]any(nil), items...)
	keys := items
	if attr := a.get("attr", ""); attr != "" {
		keys = make([]any, len(items))
		for i, it := range items {
			k, err := valueAt(it, attr)
			if err != nil {
				return nil, err
			}
			keys[i] = k
		}
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	comparable := true
	sort.SliceStable(order, func(i, j int) bool {
		c, ok := pyCompare(keys[order[i]], keys[order[j]])
		comparable = comparable && ok
		return c < 0
	})
	if !comparable {
		return nil, errors.New("'<' not supported between these values")
	}
	out := make([]any, len(items))
	for i, j := range order {
		out[i] = items[j]
	}
	return out, nil
}

// trSplit: a string split at sep into a list.
func trSplit(a callArgs, _ *evalCtx, v any) (any, error) {
	sep := a.get("sep", "/")
	s, ok := v.(string)
	if !ok || s == "" || sep == "" {
		return a.get("undefined", ""), nil
	}
	parts := strings.Split(s, sep)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// trYesNo: yes (or the value itself) for a truthy value, no otherwise.
func trYesNo(a callArgs, _ *evalCtx, v any) (any, error) {
	if !truthy(v) {
		return a.get("no", "No"), nil
	}
	if yes, ok := a.lookup("yes"); ok {
		return yes, nil
	}
	return v, nil
}
