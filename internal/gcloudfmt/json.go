package gcloudfmt

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jsonDump is Python's json.dumps(v, ensure_ascii=False, indent=2,
// separators=(',', ': '), sort_keys=True).
func jsonDump(v any) string {
	var b strings.Builder
	writeJSON(&b, v, 0)
	return b.String()
}

func writeJSON(b *strings.Builder, v any, level int) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		switch {
		case math.IsNaN(t):
			b.WriteString("NaN")
		case math.IsInf(t, 1):
			b.WriteString("Infinity")
		case math.IsInf(t, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloatRepr(t))
		}
	case string:
		writeJSONString(b, t)
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[")
		for i, e := range t {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n")
			b.WriteString(strings.Repeat("  ", level+1))
			writeJSON(b, e, level+1)
		}
		b.WriteString("\n")
		b.WriteString(strings.Repeat("  ", level))
		b.WriteString("]")
	case map[string]any:
		if len(t) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{")
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n")
			b.WriteString(strings.Repeat("  ", level+1))
			writeJSONString(b, k)
			b.WriteString(": ")
			writeJSON(b, t[k], level+1)
		}
		b.WriteString("\n")
		b.WriteString(strings.Repeat("  ", level))
		b.WriteString("}")
	default:
		writeJSONString(b, pyStr(v))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
