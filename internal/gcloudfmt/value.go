package gcloudfmt

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Internally every value is one of: nil, bool, int64, float64, string,
// map[string]any and []any, mirroring the Python objects gcloud works on
// (None, bool, int, float, str, dict, list). normalize produces that form
// from whatever JSON-shaped value the caller hands in, always as a fresh
// deep copy so the pipeline may modify it in place.

// ToValue turns an API struct (for example *cloudscheduler.Job from
// google.golang.org/api) into the JSON-shaped value Print expects, through
// encoding/json. Numbers are kept as json.Number so that integers keep their
// exact digits. A value that already is JSON-shaped is returned unchanged.
func ToValue(x any) (any, error) {
	switch x.(type) {
	case nil, bool, string, float64, json.Number, map[string]any, []any:
		return x, nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("gcloudfmt: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("gcloudfmt: %w", err)
	}
	return v, nil
}

// normalize converts v to the internal representation (a deep copy).
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return t, nil
	case string:
		return t, nil
	case int64:
		return t, nil
	case float64:
		return normFloat(t), nil
	case float32:
		return normFloat(float64(t)), nil
	case int:
		return int64(t), nil
	case int8:
		return int64(t), nil
	case int16:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint:
		return normUint(uint64(t)), nil
	case uint8:
		return int64(t), nil
	case uint16:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint64:
		return normUint(t), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("gcloudfmt: bad number %q", string(t))
		}
		if !strings.ContainsAny(string(t), ".eE") {
			// An integer too large for int64: keep it as a float.
			return f, nil
		}
		return f, nil
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			m[k] = n
		}
		return m, nil
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			l[i] = n
		}
		return l, nil
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = e
		}
		return m, nil
	case []string:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = e
		}
		return l, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		l := make([]any, rv.Len())
		for i := range l {
			n, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			l[i] = n
		}
		return l, nil
	}
	j, err := ToValue(v)
	if err != nil {
		return nil, err
	}
	return normalize(j)
}

// normFloat turns an integral float (all JSON numbers decode to float64)
// into an int64, because the API's integer fields are Python ints in gcloud.
func normFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 && !(f == 0 && math.Signbit(f)) {
		return int64(f)
	}
	return f
}

func normUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return float64(u)
}

// deepCopy copies an internal value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// sortedKeys returns the keys of m in Python sorted() order (code points).
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// truthy is Python's bool(v).
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case map[string]any:
		return len(t) != 0
	case []any:
		return len(t) != 0
	}
	return true
}

// isNumber reports whether v is a Python int or float (bool included, as in
// Python, where bool is a subclass of int).
func isNumber(v any) bool {
	switch v.(type) {
	case bool, int64, float64:
		return true
	}
	return false
}

// numVal returns v as a float64 for numeric comparisons, and whether v is a
// number.
func numVal(v any) (float64, bool) {
	switch t := v.(type) {
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// pyStr is Python's str(v).
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil, bool, int64, float64, map[string]any, []any:
		return pyRepr(v)
	}
	return fmt.Sprint(v)
}

// pyRepr is Python's repr(v). Dict items come in sorted key order (Go maps
// keep no insertion order).
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(pyFloatRepr(t))
	case string:
		b.WriteString(pyStrRepr(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyStrRepr(k))
			b.WriteString(": ")
			writeRepr(b, t[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}

// pyStrRepr is repr() of a Python str.
func pyStrRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError:
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyFloatRepr is Python's repr(float): the shortest round-tripping digits,
// fixed notation for exponents in [-4, 16), always with a fraction.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	return e
}

// pyFormatGeneral is Python's format(f, ".<prec>") (no presentation type):
// 'g' with at least one digit after the decimal point, which CPython gets by
// switching to exponent notation one digit earlier than 'g' does.
func pyFormatGeneral(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if prec == 0 {
		prec = 1
	}
	e := strconv.FormatFloat(f, 'e', prec-1, 64)
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	decpt := exp + 1
	if decpt <= -4 || decpt > prec-1 {
		mant := e[:i]
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		return mant + e[i:]
	}
	s := strconv.FormatFloat(f, 'f', max(prec-decpt, 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// floatDigits renders f with prec significant digits as gcloud's float()
// transform does: Python's general format, except that exponents below 9
// are written out with one decimal.
func floatDigits(f float64, prec int) string {
	s := pyFormatGeneral(f, prec)
	if i := strings.Index(s, "e+"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+2:]); err == nil && exp < 9 {
			return strconv.FormatFloat(f, 'f', 1, 64)
		}
	}
	return s
}

// transformFloat is how every printer renders a float value: float() with
// its defaults.
func transformFloat(f float64) string { return floatDigits(f, 6) }

// pyIsSpace is Python's str.isspace() for one character.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func pyStrip(s string) string  { return strings.TrimFunc(s, pyIsSpace) }
func pyRStrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyInt is Python's int(s) for a string, and whether it succeeded.
func pyInt(s string) (int64, bool) {
	s = pyStrip(s)
	if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return 0, false
	}
	t := s
	if t[0] == '+' || t[0] == '-' {
		t = t[1:]
		if t == "" || t[0] == '_' {
			return 0, false
		}
	}
	for _, r := range t {
		if (r < '0' || r > '9') && r != '_' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		return 0, false
	}
	return i, true
}

// pyFloat is Python's float(s) for a string, and whether it succeeded.
func pyFloat(s string) (float64, bool) {
	s = pyStrip(s)
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if s == "" || strings.Contains(s, "__") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") {
		return 0, false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789+-.eE_", r) {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// convertToken reads an unquoted expression token as a value: an integer,
// else a float, else the string itself.
func convertToken(s string) any {
	if i, ok := pyInt(s); ok {
		return i
	}
	if f, ok := pyFloat(s); ok {
		return f
	}
	return s
}
