package gcloudfmt

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// getKey is gcloud's resource_property.Get(resource, key, None): lenient
// lookup where a missing key or a type mismatch yields None, "a.b" on a list
// of dicts is an implicit slice, camelCase/snake_case variants match, and
// [{"key": k, "value": v}] metadata lists can be indexed by k.
func getKey(resource any, key parsedKey) any {
	r := resource
	key = append(parsedKey(nil), key...)
	for len(key) > 0 {
		idx := key[0]
		key = key[1:]
		if r == nil {
			return nil
		}
		switch v := r.(type) {
		case map[string]any:
			if idx.kind == keySlice {
				if len(key) > 0 {
					out := make([]any, 0, len(v))
					for _, k := range sortedKeys(v) {
						out = append(out, getKey(v, append(parsedKey{nameElem(k)}, key...)))
					}
					return out
				}
				return v
			}
			if idx.kind == keyName {
				if name, ok := matchingIndex(idx.name, func(n string) bool { _, ok := v[n]; return ok }); ok {
					r = v[name]
					continue
				}
			}
			if items, ok := v["items"]; ok {
				deserialize := len(key) > 0
				if idx.kind != keyName {
					r = nil
					continue
				}
				r = matchingIndexValue(idx.name, func(n string) any {
					return metaDataValue(items, n, deserialize)
				})
				continue
			}
			return nil
		case string:
			switch idx.kind {
			case keySlice:
				chars := make([]any, 0, len(v))
				for _, ch := range v {
					chars = append(chars, string(ch))
				}
				if len(key) > 0 {
					out := make([]any, len(chars))
					for i := range chars {
						out[i] = getKey(v, append(parsedKey{{kind: keyIndex, index: i}}, key...))
					}
					return out
				}
				return v
			case keyIndex:
				n := utf8.RuneCountInString(v)
				i := idx.index
				if i < 0 {
					i += n
				}
				if i < 0 || i >= n {
					return nil
				}
				r = string([]rune(v)[i])
				continue
			}
			return nil
		case []any:
			switch idx.kind {
			case keySlice:
				if len(key) > 0 {
					out := make([]any, len(v))
					for i := range v {
						out[i] = getKey(v, append(parsedKey{{kind: keyIndex, index: i}}, key...))
					}
					return out
				}
				return v
			case keyIndex:
				i := idx.index
				if i < 0 {
					i += len(v)
				}
				if i < 0 || i >= len(v) {
					return nil
				}
				r = v[i]
				continue
			case keyName:
				if len(v) == 0 {
					return nil
				}
				first, ok := v[0].(map[string]any)
				if !ok {
					return nil
				}
				if len(key) > 0 {
					if m := metaDict(v, idx.name, elemValue(key[0])); m != nil {
						r = m
						key = key[1:]
						continue
					}
				} else if mv := metaDataValue(v, idx.name, false); mv != nil {
					return mv
				}
				if _, ok := first[idx.name]; ok {
					out := make([]any, len(v))
					for i := range v {
						out[i] = getKey(v, append(parsedKey{{kind: keyIndex, index: i}, idx}, key...))
					}
					return out
				}
				var out []any
				for _, e := range v {
					d, ok := e.(map[string]any)
					if !ok {
						return nil
					}
					if f := d[idx.name]; truthy(f) {
						out = append(out, f)
					}
				}
				if len(out) == 0 {
					return nil
				}
				return out
			}
			return nil
		default:
			return nil
		}
	}
	return r
}

// elemValue is the Python value of a key element (for metadata matches).
func elemValue(e keyElem) any {
	switch e.kind {
	case keyIndex:
		return int64(e.index)
	case keySlice:
		return nil
	}
	return e.name
}

// metaDict returns the dict in items with items[i][key] == value.
func metaDict(items any, key string, value any) map[string]any {
	l, ok := items.([]any)
	if !ok {
		return nil
	}
	for _, it := range l {
		d, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		if pyEqual(d[key], value) {
			return d
		}
	}
	return nil
}

// metaDataValue is the "value" of the {"key": name, "value": ...} item.
func metaDataValue(items any, name string, deserialize bool) any {
	d := metaDict(items, "key", name)
	if d == nil {
		return nil
	}
	v := d["value"]
	if deserialize {
		if s, ok := v.(string); ok {
			var j any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(&j); err == nil && !dec.More() {
				if n, err := normalize(j); err == nil {
					return n
				}
			}
		}
	}
	return v
}

// matchingIndex is GetMatchingIndex: name, its camelCase or its snake_case
// form, whichever satisfies ok.
func matchingIndex(name string, ok func(string) bool) (string, bool) {
	if name != "" && ok(name) {
		return name, true
	}
	for _, conv := range []func(string) string{toCamelCase, toSnakeCase} {
		if n := conv(name); n != "" && ok(n) {
			return n, true
		}
	}
	return "", false
}

func matchingIndexValue(name string, f func(string) any) any {
	if v := f(name); truthy(v) {
		return v
	}
	for _, conv := range []func(string) string{toCamelCase, toSnakeCase} {
		if v := f(conv(name)); truthy(v) {
			return v
		}
	}
	return nil
}

// toCamelCase is resource_property.ConvertToCamelCase.
func toCamelCase(name string) string {
	parts := strings.Split(name, "_")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		b.WriteString(pyTitle(p))
	}
	return b.String()
}

// pyTitle is Python's str.title().
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prevCased {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			prevCased = true
			continue
		}
		prevCased = false
		b.WriteRune(r)
	}
	return b.String()
}

// toSnakeCase is resource_property.ConvertToSnakeCase:
// ((?<=[a-z0-9])[A-Z]+(?=[A-Z][a-z]|$)|(?!^)[A-Z](?=[a-z])) -> _\1, lower.
func toSnakeCase(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i := 0; i < len(r); {
		if i > 0 && isUpperASCII(r[i]) && (isLowerASCII(r[i-1]) || isDigitASCII(r[i-1])) {
			j := i
			for j < len(r) && isUpperASCII(r[j]) {
				j++
			}
			end := -1
			switch {
			case j == len(r):
				end = j
			case isLowerASCII(r[j]) && j-i >= 2:
				end = j - 1
			}
			if end > i {
				b.WriteByte('_')
				b.WriteString(string(r[i:end]))
				i = end
				continue
			}
		}
		if i > 0 && isUpperASCII(r[i]) && i+1 < len(r) && isLowerASCII(r[i+1]) {
			b.WriteByte('_')
		}
		b.WriteRune(r[i])
		i++
	}
	return strings.ToLower(b.String())
}

// pyEqual is Python's == on resource values.
func pyEqual(a, b any) bool {
	if x, ok := numVal(a); ok {
		if y, ok := numVal(b); ok {
			return x == y
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !pyEqual(v, w) {
				return false
			}
		}
		return true
	case pyTime:
		y, ok := b.(pyTime)
		if !ok {
			return false
		}
		c, ok := x.compare(y)
		return ok && c == 0
	}
	return false
}

// pyCompare is Python's ordering of two values; ok is false where Python
// raises TypeError.
func pyCompare(a, b any) (int, bool) {
	if x, ok := numVal(a); ok {
		if y, ok := numVal(b); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case []any:
		y, ok := b.([]any)
		if !ok {
			return 0, false
		}
		for i := 0; i < len(x) && i < len(y); i++ {
			if pyEqual(x[i], y[i]) {
				continue
			}
			return pyCompare(x[i], y[i])
		}
		switch {
		case len(x) < len(y):
			return -1, true
		case len(x) > len(y):
			return 1, true
		}
		return 0, true
	case pyTime:
		y, ok := b.(pyTime)
		if !ok {
			return 0, false
		}
		return x.compare(y)
	}
	return 0, false
}
