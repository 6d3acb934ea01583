package gcloudfmt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"regexp"
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

// transformDef is one transform function.
type transformDef struct {
	name string
	// kwargs: the Python function has default arguments, so name=value
	// arguments are split out as keyword arguments (gcloud's rule).
	kwargs bool
	fn     func(c *transformCall, ctx *evalCtx, r any) (any, error)
}

type transformCall struct {
	def        *transformDef
	activeNone bool // always(): active at every level
	active     int
	mapN       int
	args       []string
	kw         map[string]string
}

type transformChain struct {
	calls []*transformCall
}

func (t *transformChain) name() string {
	if len(t.calls) == 0 {
		return ""
	}
	return t.calls[len(t.calls)-1].def.name
}

// isActive is the transform's active level check: a transform parsed in an
// earlier (default) projection is inactive for structured printers.
func (t *transformChain) isActive(level int) bool {
	if len(t.calls) == 0 {
		return true
	}
	c := t.calls[0]
	return c.activeNone || c.active == level
}

// evalCtx carries what transforms need besides the value: the projection
// they were parsed in (for format()) and the original resource (for uri()).
type evalCtx struct {
	spec     *projSpec
	original any
	depth    int // format() nesting, bounded as Python's recursion is
}

const maxFormatDepth = 32

func (t *transformChain) evaluate(obj any, ctx *evalCtx) (any, error) {
	var err error
	for _, c := range t.calls {
		if c.def.name == "uri" && ctx != nil && ctx.original != nil {
			obj = ctx.original
		}
		if l, ok := obj.([]any); ok && c.mapN > 0 {
			items := l
			for i := 0; i < c.mapN-1 && len(items) > 0; i++ {
				var nested []any
				stop := false
				for _, it := range items {
					switch v := it.(type) {
					case []any:
						nested = append(nested, v...)
					case string:
						for _, r := range v {
							nested = append(nested, string(r))
						}
					case map[string]any:
						for _, k := range sortedKeys(v) {
							nested = append(nested, k)
						}
					default:
						stop = true
					}
					if stop {
						break
					}
				}
				if stop {
					break
				}
				items = nested
			}
			out := make([]any, 0, len(items))
			for _, it := range items {
				v, err := c.def.fn(c, ctx, it)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			obj = out
		} else if truthy(obj) || c.mapN == 0 {
			obj, err = c.def.fn(c, ctx, obj)
			if err != nil {
				return nil, err
			}
		}
	}
	return obj, nil
}

// transform parses one or more chained transform calls; the '(' after the
// first function name has been consumed.
func (l *lexer) transform(funcName string, active int) (*transformChain, error) {
	here := l.pos
	chain := &transformChain{}
	mapN := 0
	activeNone := false
	for {
		c, err := l.parseTransformCall(funcName, active, activeNone, mapN)
		if err != nil {
			return nil, err
		}
		switch c.def.name {
		case "always":
			activeNone = true
		case "map":
			mapN = 1
			if len(c.args) > 0 {
				n, ok := pyInt(c.args[0])
				if !ok {
					return nil, syntaxErrorf("Integer map() level expected [%s].", l.annotate(here))
				}
				mapN = int(n)
			}
		case "if", "synthesize":
			return nil, syntaxErrorf("The %s() transform is not supported [%s].", c.def.name, l.annotate(here))
		default:
			mapN = 0
			chain.calls = append(chain.calls, c)
		}
		if !l.is(".") {
			break
		}
		call, err := l.key()
		if err != nil {
			return nil, err
		}
		here = l.pos
		if !l.is("(") {
			return nil, syntaxErrorf("Transform function expected [%s].", l.annotate(here))
		}
		if len(call) != 1 || call[0].kind != keyName {
			return nil, syntaxErrorf("Unknown transform function %s [%s].", call.String(), l.annotate(here))
		}
		funcName = call[0].name
	}
	return chain, nil
}

func (l *lexer) parseTransformCall(name string, active int, activeNone bool, mapN int) (*transformCall, error) {
	here := l.pos
	var def *transformDef
	if l.spec != nil {
		def = l.spec.symbols[name]
	}
	if def == nil {
		def = builtinTransforms[name]
	}
	if def == nil {
		return nil, syntaxErrorf("Unknown transform function %s [%s].", name, l.annotate(here))
	}
	toks, err := l.args(",")
	if err != nil {
		return nil, err
	}
	c := &transformCall{def: def, active: active, activeNone: activeNone, mapN: mapN, kw: map[string]string{}}
	for _, t := range toks {
		if def.kwargs {
			if i := strings.IndexByte(t.s, '='); i >= 0 {
				c.kw[t.s[:i]] = t.s[i+1:]
				continue
			}
		}
		c.args = append(c.args, t.s)
	}
	return c, nil
}

// param binds a Python parameter: the positional argument at index i, else
// the keyword argument name, else the default.
func (c *transformCall) param(i int, name, def string) (string, bool) {
	if i < len(c.args) {
		return c.args[i], true
	}
	if v, ok := c.kw[name]; ok {
		return v, true
	}
	return def, false
}

// check rejects arguments the Python function would not accept.
func (c *transformCall) check(params ...string) error {
	if len(c.args) > len(params) {
		return fmt.Errorf("%s() takes at most %d arguments (%d given)", c.def.name, len(params), len(c.args))
	}
	for k := range c.kw {
		found := false
		for i, p := range params {
			if p == k {
				if i < len(c.args) {
					return fmt.Errorf("%s() got multiple values for argument '%s'", c.def.name, k)
				}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s() got an unexpected keyword argument '%s'", c.def.name, k)
		}
	}
	return nil
}

func customTransform(name string, f TransformFunc) *transformDef {
	return &transformDef{name: name, kwargs: true, fn: func(c *transformCall, _ *evalCtx, r any) (any, error) {
		args := append([]string(nil), c.args...)
		kw := make(map[string]string, len(c.kw))
		for k, v := range c.kw {
			kw[k] = v
		}
		v, err := f(r, args, kw)
		if err != nil {
			return nil, err
		}
		return normalize(v)
	}}
}

var builtinTransforms map[string]*transformDef

func init() {
	defs := []*transformDef{
		{name: "always", kwargs: false, fn: func(c *transformCall, _ *evalCtx, r any) (any, error) { return r, nil }},
		{name: "map", kwargs: false, fn: func(c *transformCall, _ *evalCtx, r any) (any, error) { return r, nil }},
		{name: "if", kwargs: false, fn: func(c *transformCall, _ *evalCtx, r any) (any, error) { return r, nil }},
		{name: "synthesize", kwargs: false, fn: func(c *transformCall, _ *evalCtx, r any) (any, error) { return r, nil }},
		{name: "basename", kwargs: true, fn: tBasename},
		{name: "collection", kwargs: true, fn: tCollection},
		{name: "color", kwargs: true, fn: tColor},
		{name: "count", fn: tCount},
		{name: "date", kwargs: true, fn: tDate},
		{name: "decode", kwargs: true, fn: tDecode},
		{name: "duration", kwargs: true, fn: tDuration},
		{name: "encode", kwargs: true, fn: tEncode},
		{name: "enum", kwargs: true, fn: tEnum},
		{name: "error", kwargs: true, fn: tError},
		{name: "extract", fn: tExtract},
		{name: "fatal", kwargs: true, fn: tError},
		{name: "filter", fn: tFilter},
		{name: "firstof", fn: tFirstOf},
		{name: "flatten", kwargs: true, fn: tFlatten},
		{name: "float", kwargs: true, fn: tFloat},
		{name: "format", fn: tFormat},
		{name: "group", fn: tGroup},
		{name: "iso", kwargs: true, fn: tIso},
		{name: "join", kwargs: true, fn: tJoin},
		{name: "len", fn: tLen},
		{name: "list", kwargs: true, fn: tList},
		{name: "lower", fn: tLower},
		{name: "notnull", fn: tNotNull},
		{name: "regex", kwargs: true, fn: tRegex},
		{name: "resolution", kwargs: true, fn: tResolution},
		{name: "scope", fn: tScope},
		{name: "segment", kwargs: true, fn: tSegment},
		{name: "size", kwargs: true, fn: tSize},
		{name: "slice", kwargs: true, fn: tSlice},
		{name: "sort", kwargs: true, fn: tSort},
		{name: "split", kwargs: true, fn: tSplit},
		{name: "sub", kwargs: true, fn: tSub},
		{name: "trailoff", kwargs: true, fn: tTrailOff},
		{name: "upper", fn: tUpper},
		{name: "uri", kwargs: true, fn: tURI},
		{name: "yesno", kwargs: true, fn: tYesNo},
	}
	builtinTransforms = make(map[string]*transformDef, len(defs))
	for _, d := range defs {
		builtinTransforms[d.name] = d
	}
}

func tBasename(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("undefined"); err != nil {
		return nil, err
	}
	undefined, _ := c.param(0, "undefined", "")
	return basename(r, undefined), nil
}

func basename(r any, undefined string) any {
	if !truthy(r) {
		return undefined
	}
	if l, ok := r.([]any); ok {
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = basename(e, "")
		}
		return out
	}
	s := pyStr(r)
	for _, sep := range []string{"/", `\`} {
		if i := strings.LastIndex(s, sep); i >= 0 {
			return s[i+1:]
		}
	}
	if s == "" {
		return undefined
	}
	return s
}

func tCollection(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("undefined"); err != nil {
		return nil, err
	}
	undefined, _ := c.param(0, "undefined", "")
	return undefined, nil
}

func tColor(c *transformCall, _ *evalCtx, r any) (any, error) {
	// Colors are only rendered on terminals; printed output is the string.
	return pyStr(r), nil
}

func tCount(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	out := map[string]any{}
	if !truthy(r) {
		return out, nil
	}
	add := func(k string) {
		n, _ := out[k].(int64)
		out[k] = n + 1
	}
	switch v := r.(type) {
	case []any:
		for _, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				return map[string]any{}, nil
			}
			add(pyStr(e))
		}
	case string:
		for _, ch := range v {
			add(string(ch))
		}
	case map[string]any:
		for k := range v {
			add(k)
		}
	}
	return out, nil
}

func tDecode(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("encoding", "undefined"); err != nil {
		return nil, err
	}
	enc, ok := c.param(0, "encoding", "")
	if !ok {
		return nil, errors.New("decode() missing 1 required positional argument: 'encoding'")
	}
	undefined, _ := c.param(1, "undefined", "")
	if enc == "base64" {
		s := pyStr(r)
		s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return string(b), nil
		}
		if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
			return string(b), nil
		}
	}
	return undefined, nil
}

func tEncode(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("encoding", "undefined"); err != nil {
		return nil, err
	}
	enc, ok := c.param(0, "encoding", "")
	if !ok {
		return nil, errors.New("encode() missing 1 required positional argument: 'encoding'")
	}
	if enc == "base64" {
		s := ""
		if r != nil {
			s = pyStr(r)
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	}
	return pyStr(r), nil
}

func tEnum(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("enums", "inverse", "undefined"); err != nil {
		return nil, err
	}
	undefined, _ := c.param(2, "undefined", "")
	return undefined, nil
}

func tError(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("message"); err != nil {
		return nil, err
	}
	msg, ok := c.param(0, "message", "")
	if !ok {
		msg = pyStr(r)
	}
	return nil, errors.New(msg)
}

func keyValue(r any, key string) (any, error) {
	k, err := newLexer(key, nil).key()
	if err != nil {
		return nil, err
	}
	return getKey(r, k), nil
}

func tExtract(c *transformCall, _ *evalCtx, r any) (any, error) {
	out := []any{}
	for _, k := range c.args {
		v, err := keyValue(r, k)
		if err != nil {
			return nil, err
		}
		if truthy(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func tFilter(c *transformCall, ctx *evalCtx, r any) (any, error) {
	if len(c.args) != 1 {
		return nil, errors.New("filter() takes exactly one argument")
	}
	if !truthy(r) {
		return r, nil
	}
	f, err := compileFilter(c.args[0], nil)
	if err != nil {
		return nil, err
	}
	l, ok := r.([]any)
	if !ok {
		m, err := f.match(r)
		if err != nil {
			return nil, err
		}
		if m {
			return r, nil
		}
		return "", nil
	}
	out := []any{}
	for _, e := range l {
		m, err := f.match(e)
		if err != nil {
			return nil, err
		}
		if m {
			out = append(out, e)
		}
	}
	return out, nil
}

func tFirstOf(c *transformCall, _ *evalCtx, r any) (any, error) {
	for _, k := range c.args {
		v, err := keyValue(r, k)
		if err != nil {
			return nil, err
		}
		if v != nil {
			return v, nil
		}
	}
	return "", nil
}

func tFlatten(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("show", "undefined", "separator"); err != nil {
		return nil, err
	}
	show, _ := c.param(0, "show", "")
	undefined, _ := c.param(1, "undefined", "")
	sep, _ := c.param(2, "separator", ",")
	var flat func(x any) any
	flat = func(x any) any {
		if m, ok := x.(map[string]any); ok {
			var parts []string
			for _, k := range sortedKeys(m) {
				switch show {
				case "keys":
					parts = append(parts, k)
				case "values":
					parts = append(parts, pyStr(flat(m[k])))
				default:
					parts = append(parts, k+"="+pyStr(flat(m[k])))
				}
			}
			x = strings.Join(parts, sep)
		}
		if l, ok := x.([]any); ok && len(l) > 0 {
			switch l[0].(type) {
			case map[string]any, []any:
				nl := make([]any, len(l))
				for i, e := range l {
					nl[i] = flat(e)
				}
				l = nl
			}
			parts := make([]string, len(l))
			for i, e := range l {
				parts[i] = pyStr(e)
			}
			return strings.Join(parts, sep)
		}
		if truthy(x) {
			return x
		}
		return undefined
	}
	return flat(r), nil
}

func tFloat(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("precision", "spec", "undefined"); err != nil {
		return nil, err
	}
	precS, _ := c.param(0, "precision", "6")
	spec, hasSpec := c.param(1, "spec", "")
	undefined, _ := c.param(2, "undefined", "")
	f, ok := toFloat(r)
	if !ok {
		return undefined, nil
	}
	prec, ok := pyInt(precS)
	if !ok {
		return nil, fmt.Errorf("invalid precision [%s]", precS)
	}
	prec = max(min(prec, maxPad), 0)
	if hasSpec {
		return pyFormatSpec(f, "."+strconv.FormatInt(prec, 10)+spec)
	}
	s := pyFormatGeneral(f, int(prec))
	if i := strings.Index(s, "e+"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+2:]); err == nil && exp < 9 {
			return strconv.FormatFloat(f, 'f', 1, 64), nil
		}
	}
	return s, nil
}

// toFloat is Python's float(r) for a resource value.
func toFloat(r any) (float64, bool) {
	switch v := r.(type) {
	case bool, int64, float64:
		return numVal(v)
	case string:
		return pyFloat(v)
	}
	return 0, false
}

func tFormat(c *transformCall, ctx *evalCtx, r any) (any, error) {
	if len(c.args) == 0 {
		return nil, errors.New("format() missing 1 required positional argument: 'fmt'")
	}
	format := c.args[0]
	var cols []any
	switch {
	case len(c.args) > 1:
		var parent *projSpec
		depth := 0
		if ctx != nil {
			parent, depth = ctx.spec, ctx.depth
		}
		if depth >= maxFormatDepth {
			return nil, errors.New("RecursionError: maximum recursion depth exceeded in format()")
		}
		sub, err := compileSubProjection("("+strings.Join(c.args[1:], ",")+")", parent)
		if err != nil {
			return nil, err
		}
		row, err := sub.evalColumns(r, depth+1)
		if err != nil {
			return nil, err
		}
		cols = row
	default:
		if l, ok := r.([]any); ok {
			cols = l
		} else if truthy(r) {
			cols = []any{r}
		} else {
			cols = []any{""}
		}
	}
	return pyFormat(format, cols)
}

func tGroup(c *transformCall, _ *evalCtx, r any) (any, error) {
	if !truthy(r) {
		return "[]", nil
	}
	var keys []parsedKey
	for _, k := range c.args {
		pk, err := newLexer(k, nil).key()
		if err != nil {
			return nil, err
		}
		keys = append(keys, pk)
	}
	var items []any
	switch v := r.(type) {
	case []any:
		items = v
	case string:
		for _, ch := range v {
			items = append(items, string(ch))
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			items = append(items, k)
		}
	default:
		return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(r))
	}
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(keys) == 0 {
			b.WriteString("[" + pyStr(it) + "]")
			continue
		}
		b.WriteByte('[')
		for j, k := range keys {
			if j == 1 {
				b.WriteString(": ")
			} else if j > 1 {
				b.WriteString(", ")
			}
			if v := getKey(it, k); v != nil {
				b.WriteString(pyStr(v))
			}
		}
		b.WriteByte(']')
	}
	return b.String(), nil
}

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

func tJoin(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("sep", "undefined"); err != nil {
		return nil, err
	}
	sep, _ := c.param(0, "sep", "/")
	undefined, _ := c.param(1, "undefined", "")
	var parts []string
	switch v := r.(type) {
	case []any:
		for _, e := range v {
			parts = append(parts, pyStr(e))
		}
	case string:
		for _, ch := range v {
			parts = append(parts, string(ch))
		}
	case map[string]any:
		parts = sortedKeys(v)
	default:
		return undefined, nil
	}
	s := strings.Join(parts, sep)
	if s == "" {
		return undefined, nil
	}
	return s, nil
}

func tLen(c *transformCall, _ *evalCtx, r any) (any, error) {
	switch v := r.(type) {
	case string:
		return int64(utf8.RuneCountInString(v)), nil
	case []any:
		return int64(len(v)), nil
	case map[string]any:
		return int64(len(v)), nil
	}
	return int64(0), nil
}

func tList(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("show", "undefined", "separator"); err != nil {
		return nil, err
	}
	show, _ := c.param(0, "show", "")
	undefined, _ := c.param(1, "undefined", "")
	sep, _ := c.param(2, "separator", ",")
	switch v := r.(type) {
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(v) {
			switch show {
			case "keys":
				parts = append(parts, k)
			case "values":
				parts = append(parts, pyStr(v[k]))
			default:
				parts = append(parts, k+"="+pyStr(v[k]))
			}
		}
		return strings.Join(parts, sep), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = pyStr(e)
		}
		return strings.Join(parts, sep), nil
	}
	if truthy(r) {
		return r, nil
	}
	return undefined, nil
}

func tLower(c *transformCall, _ *evalCtx, r any) (any, error) {
	if s, ok := r.(string); ok && s != "" {
		return strings.ToLower(s), nil
	}
	return r, nil
}

func tUpper(c *transformCall, _ *evalCtx, r any) (any, error) {
	if s, ok := r.(string); ok && s != "" {
		return strings.ToUpper(s), nil
	}
	return r, nil
}

func tNotNull(c *transformCall, _ *evalCtx, r any) (any, error) {
	out := []any{}
	switch v := r.(type) {
	case []any:
		for _, e := range v {
			if e != nil {
				out = append(out, e)
			}
		}
	case string:
		for _, ch := range v {
			out = append(out, string(ch))
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			out = append(out, k)
		}
	}
	return out, nil
}

func tRegex(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("expression", "does_match", "nomatch"); err != nil {
		return nil, err
	}
	expr, _ := c.param(0, "expression", "")
	doesMatch, hasMatch := c.param(1, "does_match", "")
	nomatch, _ := c.param(2, "nomatch", "")
	if !truthy(r) {
		return nomatch, nil
	}
	s, ok := r.(string)
	if !ok || expr == "" {
		return nomatch, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)`)
	if err != nil {
		return nomatch, nil
	}
	if re.MatchString(s) {
		if hasMatch && doesMatch != "" {
			return doesMatch, nil
		}
		return r, nil
	}
	return nomatch, nil
}

func tResolution(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("undefined", "transpose"); err != nil {
		return nil, err
	}
	undefined, _ := c.param(0, "undefined", "")
	transpose, _ := c.param(1, "transpose", "")
	m, ok := r.(map[string]any)
	if !ok {
		return undefined, nil
	}
	mem := map[string]string{}
	var lower []string
	for _, k := range sortedKeys(m) {
		if !strings.HasPrefix(k, "__") && !strings.HasSuffix(k, "__") {
			mem[strings.ToLower(k)] = k
			lower = append(lower, strings.ToLower(k))
		}
	}
	dim := func(d string) any {
		for _, k := range lower {
			if strings.Contains(k, d) {
				if orig, ok := mem[d]; ok {
					return m[orig]
				}
				return nil
			}
		}
		return nil
	}
	for _, p := range [][2]string{{"width", "height"}, {"screenx", "screeny"}, {"col", "row"}, {"col", "line"}, {"x", "y"}} {
		x := dim(p[0])
		if x == nil {
			continue
		}
		y := dim(p[1])
		if y == nil {
			continue
		}
		if boolArg(transpose) {
			return pyStr(y) + " x " + pyStr(x), nil
		}
		return pyStr(x) + " x " + pyStr(y), nil
	}
	return undefined, nil
}

// boolArg is GetBooleanArgValue for a string argument.
func boolArg(s string) bool {
	if s == "" || strings.ToLower(s) == "false" {
		return false
	}
	if f, ok := pyFloat(s); ok {
		return f != 0
	}
	return true
}

// pyUnquote is urllib.parse.unquote.
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b = append(b, byte(v))
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

func tScope(c *transformCall, _ *evalCtx, r any) (any, error) {
	if !truthy(r) {
		return "", nil
	}
	s := pyUnquote(pyStr(r))
	if !strings.Contains(s, "/") {
		return s, nil
	}
	scopes := c.args
	if len(scopes) == 0 {
		scopes = []string{"regions", "zones"}
	}
	for _, sc := range scopes {
		seg := "/" + sc + "/"
		if strings.Contains(s, seg) {
			parts := strings.Split(s, seg)
			return parts[len(parts)-1], nil
		}
	}
	if strings.HasPrefix(s, "https://") {
		parts := strings.Split(s, "/")
		return parts[len(parts)-1], nil
	}
	return s, nil
}

func tSegment(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("index", "undefined"); err != nil {
		return nil, err
	}
	idxS, _ := c.param(0, "index", "-1")
	undefined, _ := c.param(1, "undefined", "")
	if !truthy(r) {
		return undefined, nil
	}
	idx, ok := pyInt(idxS)
	if !ok {
		return nil, fmt.Errorf("invalid literal for int() with base 10: %s", pyStrRepr(idxS))
	}
	segs := strings.Split(pyUnquote(pyStr(r)), "/")
	i := int(idx)
	if i < 0 {
		i += len(segs)
	}
	if i < 0 || i >= len(segs) || segs[i] == "" {
		return undefined, nil
	}
	return segs[i], nil
}

func tSize(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("zero", "precision", "units_in", "units_out", "min"); err != nil {
		return nil, err
	}
	zero, _ := c.param(0, "zero", "0")
	precS, _ := c.param(1, "precision", "1")
	unitsIn, _ := c.param(2, "units_in", "")
	unitsOut, _ := c.param(3, "units_out", "")
	minS, _ := c.param(4, "min", "0")
	if !truthy(r) {
		return zero, nil
	}
	size, ok := toFloat(r)
	if !ok {
		size = 0
	}
	minSize, ok := pyFloat(minS)
	if !ok {
		return nil, fmt.Errorf("could not convert string to float: %s", pyStrRepr(minS))
	}
	prec, ok := pyInt(precS)
	if !ok {
		return nil, fmt.Errorf("invalid precision %s", pyStrRepr(precS))
	}
	prec = max(min(prec, maxPad), 0)
	prefix := ""
	if size < minSize {
		size = minSize
		prefix = "< "
	}
	unit := func(u string) (string, float64) {
		if f, ok := pyFloat(u); ok {
			if f == 0 {
				f = 1
			}
			return "", f
		}
		if u == "" {
			return "", 1
		}
		sizes := map[string]float64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
		s := strings.ToUpper(u[:1])
		if v, ok := sizes[s]; ok {
			return s, v
		}
		return "", 1
	}
	_, in := unit(unitsIn)
	size *= in
	if suffix, out := unit(unitsOut); suffix != "" {
		return strconv.FormatFloat(size/out, 'f', int(prec), 64), nil
	}
	theUnit := "PiB"
	for _, u := range []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"} {
		if size < 1024 {
			theUnit = u
			break
		}
		size /= 1024
	}
	if size == math.Trunc(size) {
		return prefix + strconv.FormatInt(int64(size), 10) + " " + theUnit, nil
	}
	return prefix + strconv.FormatFloat(size, 'f', int(prec), 64) + " " + theUnit, nil
}

func tSlice(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("op", "undefined"); err != nil {
		return nil, err
	}
	op, _ := c.param(0, "op", ":")
	undefined, _ := c.param(1, "undefined", "")
	op = pyStrip(op)
	if op == "" {
		return undefined, nil
	}
	var ops []*int
	for _, p := range strings.Split(op, ":") {
		p = pyStrip(p)
		if p == "" {
			ops = append(ops, nil)
			continue
		}
		n, ok := pyInt(p)
		if !ok {
			return undefined, nil
		}
		v := int(n)
		ops = append(ops, &v)
	}
	if len(ops) == 1 {
		if ops[0] == nil {
			return undefined, nil
		}
		e := *ops[0] + 1
		if e == 0 {
			ops = append(ops, nil)
		} else {
			ops = append(ops, &e)
		}
	}
	if len(ops) > 3 {
		return undefined, nil
	}
	var items []any
	switch v := r.(type) {
	case []any:
		items = v
	case string:
		for _, ch := range v {
			items = append(items, string(ch))
		}
	default:
		return undefined, nil
	}
	var start, stop, step *int
	start, stop = ops[0], ops[1]
	if len(ops) == 3 {
		step = ops[2]
	}
	out := pySlice(items, start, stop, step)
	if out == nil {
		return undefined, nil
	}
	if len(out) == 0 {
		return undefined, nil
	}
	return out, nil
}

// pySlice is items[start:stop:step]; nil for a zero step (ValueError).
func pySlice(items []any, start, stop, step *int) []any {
	n := len(items)
	st := 1
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil
	}
	adj := func(p *int, def int, lo, hi int) int {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += n
			if v < lo {
				v = lo
			}
		} else if v > hi {
			v = hi
		}
		return v
	}
	out := []any{}
	if st > 0 {
		b := adj(start, 0, 0, n)
		e := adj(stop, n, 0, n)
		for i := b; i < e; i += st {
			out = append(out, items[i])
		}
	} else {
		b := adj(start, n-1, -1, n-1)
		e := adj(stop, -1, -1, n-1)
		for i := b; i > e; i += st {
			out = append(out, items[i])
		}
	}
	return out
}

func tSort(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("attr"); err != nil {
		return nil, err
	}
	attr, _ := c.param(0, "attr", "")
	if !truthy(r) {
		return []any{}, nil
	}
	var items []any
	switch v := r.(type) {
	case []any:
		items = append(items, v...)
	case string:
		for _, ch := range v {
			items = append(items, string(ch))
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			items = append(items, k)
		}
	default:
		return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(r))
	}
	keys := make([]any, len(items))
	for i, it := range items {
		keys[i] = it
		if attr != "" {
			v, err := keyValue(it, attr)
			if err != nil {
				return nil, err
			}
			keys[i] = v
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var cmpErr error
	sort.SliceStable(idx, func(a, b int) bool {
		c, ok := pyCompare(keys[idx[a]], keys[idx[b]])
		if !ok {
			cmpErr = errors.New("'<' not supported between these values")
		}
		return c < 0
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	out := make([]any, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, nil
}

func tSplit(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("sep", "undefined"); err != nil {
		return nil, err
	}
	sep, _ := c.param(0, "sep", "/")
	undefined, _ := c.param(1, "undefined", "")
	if !truthy(r) {
		return undefined, nil
	}
	s, ok := r.(string)
	if !ok || sep == "" {
		return undefined, nil
	}
	parts := strings.Split(s, sep)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func tSub(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("pattern", "replacement", "count", "ignorecase"); err != nil {
		return nil, err
	}
	pattern, ok1 := c.param(0, "pattern", "")
	repl, ok2 := c.param(1, "replacement", "")
	if !ok1 || !ok2 {
		return nil, errors.New("sub() missing required positional arguments: 'pattern' and 'replacement'")
	}
	countS, _ := c.param(2, "count", "0")
	ic, _ := c.param(3, "ignorecase", "true")
	if r == nil {
		return nil, nil
	}
	s, ok := r.(string)
	if !ok {
		return r, nil
	}
	count, ok := pyInt(countS)
	if !ok {
		return r, nil
	}
	flags := "(?ms"
	if boolArg(ic) {
		flags += "i"
	}
	re, err := regexp.Compile(flags + ")" + pattern)
	if err != nil {
		return r, nil
	}
	n := 0
	repl = pyReplToGo(repl)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if count > 0 && int64(n) >= count {
			return m
		}
		n++
		return re.ReplaceAllString(m, repl)
	}), nil
}

// pyReplToGo converts \1 group references to Go's ${1}.
func pyReplToGo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			b.WriteString("$$")
			continue
		}
		if s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func tTrailOff(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("character_limit", "undefined"); err != nil {
		return nil, err
	}
	limS, _ := c.param(0, "character_limit", "")
	undefined, _ := c.param(1, "undefined", "")
	lim, ok := pyInt(limS)
	if !ok || lim <= 3 {
		return undefined, nil
	}
	s := []rune(pyStr(r))
	if int64(len(s)) < lim {
		return r, nil
	}
	return string(s[:lim-3]) + "...", nil
}

func tURI(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("undefined"); err != nil {
		return nil, err
	}
	undefined, _ := c.param(0, "undefined", ".")
	switch v := r.(type) {
	case string:
		if strings.HasPrefix(v, "https://") {
			return v, nil
		}
	case map[string]any:
		for _, n := range []string{"selfLink", "SelfLink"} {
			if s, ok := v[n].(string); ok && s != "" {
				return s, nil
			}
		}
	}
	return undefined, nil
}

func tYesNo(c *transformCall, _ *evalCtx, r any) (any, error) {
	if err := c.check("yes", "no"); err != nil {
		return nil, err
	}
	yes, hasYes := c.param(0, "yes", "")
	no, _ := c.param(1, "no", "No")
	if truthy(r) {
		if hasYes {
			return yes, nil
		}
		return r, nil
	}
	return no, nil
}
