package gcloudfmt

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyFormat is Python's str.format(fmt, *args) for positional fields:
// {} / {N}, [key] accessors, !r / !s conversions and format specs.
func pyFormat(format string, args []any) (string, error) {
	var b strings.Builder
	r := []rune(format)
	auto := 0
	manual, automatic := false, false
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c == '}' {
			if i+1 < len(r) && r[i+1] == '}' {
				b.WriteRune('}')
				i++
				continue
			}
			return "", fmt.Errorf("Single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteRune(c)
			continue
		}
		if i+1 < len(r) && r[i+1] == '{' {
			b.WriteRune('{')
			i++
			continue
		}
		// Find the matching '}' (format specs may nest one level).
		depth := 1
		j := i + 1
		for ; j < len(r) && depth > 0; j++ {
			switch r[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth != 0 {
			return "", fmt.Errorf("expected '}' before end of string")
		}
		field := string(r[i+1 : j-1])
		i = j - 1
		name, conv, spec := field, "", ""
		if k := strings.IndexAny(name, "!:"); k >= 0 {
			rest := name[k:]
			name = name[:k]
			if rest[0] == '!' {
				if len(rest) < 2 {
					return "", fmt.Errorf("end of string while looking for conversion specifier")
				}
				conv = rest[1:2]
				rest = rest[2:]
				if rest != "" && rest[0] != ':' {
					return "", fmt.Errorf("expected ':' after conversion specifier")
				}
			}
			if rest != "" {
				spec = rest[1:]
			}
		}
		if strings.Contains(spec, "{") {
			return "", fmt.Errorf("nested format fields are not supported")
		}
		first, accessors := name, ""
		if k := strings.IndexAny(name, ".["); k >= 0 {
			first, accessors = name[:k], name[k:]
		}
		var idx int
		if first == "" {
			if manual {
				return "", fmt.Errorf("cannot switch from manual field specification to automatic field numbering")
			}
			automatic = true
			idx = auto
			auto++
		} else {
			n, err := strconv.Atoi(first)
			if err != nil {
				return "", fmt.Errorf("KeyError: %s", pyStrRepr(first))
			}
			if automatic {
				return "", fmt.Errorf("cannot switch from automatic field numbering to manual field specification")
			}
			manual = true
			idx = n
		}
		if idx >= len(args) {
			return "", fmt.Errorf("Replacement index %d out of range for positional args tuple", idx)
		}
		v := args[idx]
		for accessors != "" {
			if accessors[0] == '.' {
				return "", fmt.Errorf("attribute access in format fields is not supported")
			}
			end := strings.IndexByte(accessors, ']')
			if end < 0 {
				return "", fmt.Errorf("Missing ']' in format string")
			}
			key := accessors[1:end]
			accessors = accessors[end+1:]
			switch t := v.(type) {
			case map[string]any:
				e, ok := t[key]
				if !ok {
					return "", fmt.Errorf("KeyError: %s", pyStrRepr(key))
				}
				v = e
			case []any:
				n, err := strconv.Atoi(key)
				if err != nil || n < 0 || n >= len(t) {
					return "", fmt.Errorf("IndexError: list index out of range")
				}
				v = t[n]
			default:
				return "", fmt.Errorf("TypeError: '%s' object is not subscriptable", pyTypeName(v))
			}
		}
		switch conv {
		case "":
		case "r", "a":
			v = pyRepr(v)
		case "s":
			v = pyStr(v)
		default:
			return "", fmt.Errorf("Unknown conversion specifier %s", conv)
		}
		s, err := pyFormatSpec(v, spec)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// maxPad bounds widths and precisions taken from expressions, so that a
// typo cannot ask for gigabytes of padding.
const maxPad = 1 << 14

type formatSpec struct {
	fill      rune
	align     rune
	sign      rune
	alt       bool
	zero      bool
	width     int
	grouping  rune
	precision int // -1: none
	typ       rune
}

func parseFormatSpec(spec string) (formatSpec, error) {
	fs := formatSpec{fill: ' ', precision: -1}
	r := []rune(spec)
	i := 0
	isAlign := func(c rune) bool { return c == '<' || c == '>' || c == '=' || c == '^' }
	if len(r) >= 2 && isAlign(r[1]) {
		fs.fill, fs.align = r[0], r[1]
		i = 2
	} else if len(r) >= 1 && isAlign(r[0]) {
		fs.align = r[0]
		i = 1
	}
	if i < len(r) && (r[i] == '+' || r[i] == '-' || r[i] == ' ') {
		fs.sign = r[i]
		i++
	}
	if i < len(r) && r[i] == 'z' {
		i++
	}
	if i < len(r) && r[i] == '#' {
		fs.alt = true
		i++
	}
	if i < len(r) && r[i] == '0' {
		fs.zero = true
		i++
	}
	start := i
	for i < len(r) && r[i] >= '0' && r[i] <= '9' {
		i++
	}
	if i > start {
		fs.width, _ = strconv.Atoi(string(r[start:i]))
		fs.width = min(fs.width, maxPad)
	}
	if i < len(r) && (r[i] == ',' || r[i] == '_') {
		fs.grouping = r[i]
		i++
	}
	if i < len(r) && r[i] == '.' {
		i++
		start = i
		for i < len(r) && r[i] >= '0' && r[i] <= '9' {
			i++
		}
		if i == start {
			return fs, fmt.Errorf("Format specifier missing precision")
		}
		fs.precision, _ = strconv.Atoi(string(r[start:i]))
		fs.precision = min(fs.precision, maxPad)
	}
	if i < len(r) {
		fs.typ = r[i]
		i++
	}
	if i != len(r) {
		return fs, fmt.Errorf("Invalid format specifier")
	}
	return fs, nil
}

// pyFormatSpec is Python's format(v, spec).
func pyFormatSpec(v any, spec string) (string, error) {
	if spec == "" {
		return pyStr(v), nil
	}
	fs, err := parseFormatSpec(spec)
	if err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		if fs.typ != 0 && fs.typ != 's' {
			return "", fmt.Errorf("Unknown format code '%c' for object of type 'str'", fs.typ)
		}
		if fs.sign != 0 || fs.align == '=' {
			return "", fmt.Errorf("Sign not allowed in string format specifier")
		}
		s := t
		if fs.precision >= 0 && utf8.RuneCountInString(s) > fs.precision {
			s = string([]rune(s)[:fs.precision])
		}
		align := fs.align
		if align == 0 {
			align = '<'
		}
		return padFormat(s, fs, align), nil
	case bool:
		if fs.typ == 0 && fs.precision < 0 && fs.sign == 0 && !fs.zero && fs.grouping == 0 {
			s := "False"
			if t {
				s = "True"
			}
			align := fs.align
			if align == 0 {
				align = '<'
			}
			return padFormat(s, fs, align), nil
		}
		n := int64(0)
		if t {
			n = 1
		}
		return formatInt(n, fs)
	case int64:
		return formatInt(t, fs)
	case float64:
		return formatFloat(t, fs)
	}
	return "", fmt.Errorf("unsupported format string passed to %s.__format__", pyTypeName(v))
}

func padFormat(s string, fs formatSpec, align rune) string {
	n := fs.width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	fill := string(fs.fill)
	switch align {
	case '>':
		return strings.Repeat(fill, n) + s
	case '^':
		return strings.Repeat(fill, n/2) + s + strings.Repeat(fill, n-n/2)
	case '=':
		sign := ""
		if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			sign, s = s[:1], s[1:]
		}
		return sign + strings.Repeat(fill, n) + s
	}
	return s + strings.Repeat(fill, n)
}

func group(digits string, sep rune, every int) string {
	if sep == 0 {
		return digits
	}
	var out []string
	for len(digits) > every {
		out = append([]string{digits[len(digits)-every:]}, out...)
		digits = digits[:len(digits)-every]
	}
	out = append([]string{digits}, out...)
	return strings.Join(out, string(sep))
}

func signed(neg bool, body string, fs formatSpec) string {
	switch {
	case neg:
		return "-" + body
	case fs.sign == '+':
		return "+" + body
	case fs.sign == ' ':
		return " " + body
	}
	return body
}

func finishNumber(s string, fs formatSpec) string {
	align := fs.align
	if fs.zero && align == 0 {
		fs.fill, align = '0', '='
	}
	if align == 0 {
		align = '>'
	}
	return padFormat(s, fs, align)
}

func formatInt(n int64, fs formatSpec) (string, error) {
	switch fs.typ {
	case 'e', 'E', 'f', 'F', 'g', 'G', '%':
		return formatFloat(float64(n), fs)
	}
	if fs.precision >= 0 {
		return "", fmt.Errorf("Precision not allowed in integer format specifier")
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	var body, prefix string
	every := 3
	switch fs.typ {
	case 0, 'd', 'n':
		body = strconv.FormatUint(u, 10)
	case 'b':
		body, prefix, every = strconv.FormatUint(u, 2), "0b", 4
	case 'o':
		body, prefix, every = strconv.FormatUint(u, 8), "0o", 4
	case 'x':
		body, prefix, every = strconv.FormatUint(u, 16), "0x", 4
	case 'X':
		body, prefix, every = strings.ToUpper(strconv.FormatUint(u, 16)), "0X", 4
	case 'c':
		return padFormat(string(rune(n)), fs, '<'), nil
	default:
		return "", fmt.Errorf("Unknown format code '%c' for object of type 'int'", fs.typ)
	}
	body = group(body, fs.grouping, every)
	if !fs.alt {
		prefix = ""
	}
	return finishNumber(signed(neg, prefix+body, fs), fs), nil
}

func formatFloat(f float64, fs formatSpec) (string, error) {
	neg := math.Signbit(f) && !math.IsNaN(f)
	a := math.Abs(f)
	prec := fs.precision
	var body string
	switch fs.typ {
	case 'f', 'F':
		if prec < 0 {
			prec = 6
		}
		body = strconv.FormatFloat(a, 'f', prec, 64)
	case 'e', 'E':
		if prec < 0 {
			prec = 6
		}
		body = strconv.FormatFloat(a, 'e', prec, 64)
	case 'g', 'G', 'n':
		if prec < 0 {
			prec = 6
		}
		if prec == 0 {
			prec = 1
		}
		body = strconv.FormatFloat(a, 'g', prec, 64)
		if fs.alt && !strings.Contains(body, ".") {
			body += "."
		}
	case '%':
		if prec < 0 {
			prec = 6
		}
		body = strconv.FormatFloat(a*100, 'f', prec, 64) + "%"
	case 0:
		if prec < 0 {
			body = pyFloatRepr(a)
		} else {
			body = pyFormatGeneral(a, prec)
		}
	default:
		return "", fmt.Errorf("Unknown format code '%c' for object of type 'float'", fs.typ)
	}
	switch {
	case math.IsInf(f, 0):
		body = "inf"
	case math.IsNaN(f):
		body = "nan"
	}
	if fs.typ == 'E' || fs.typ == 'G' || fs.typ == 'F' {
		body = strings.ToUpper(body)
	}
	if fs.grouping != 0 {
		intPart, rest := body, ""
		if k := strings.IndexAny(body, ".e%"); k >= 0 {
			intPart, rest = body[:k], body[k:]
		}
		body = group(intPart, fs.grouping, 3) + rest
	}
	return finishNumber(signed(neg, body, fs), fs), nil
}
