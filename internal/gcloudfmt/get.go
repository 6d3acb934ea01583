package gcloudfmt

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// getKey looks key up in a resource, leniently: a missing key or a type
// mismatch gives nil. Beyond plain dict keys and list indexes it knows:
//
//   - a[] on a dict or list applies the rest of the key to every item (to
//     every character of a string) and gives the list of results;
//   - name on a list of dicts is such a slice too (bindings.role);
//   - names also match in their camelCase and snake_case spellings;
//   - lists of {"key": K, "value": V} items (metadata) are indexed by K,
//     directly (metadata.items.K) or through the dict holding the list.
func getKey(resource any, key parsedKey) any {
	if len(key) == 0 || resource == nil {
		return resource
	}
	switch v := resource.(type) {
	case map[string]any:
		return dictLookup(v, key[0], key[1:])
	case []any:
		return listLookup(v, key[0], key[1:])
	case string:
		return stringLookup(v, key[0], key[1:])
	}
	return nil
}

// eachItem applies rest to items 0..n-1 of v.
func eachItem(v any, n int, rest parsedKey) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = getKey(v, append(parsedKey{{kind: keyIndex, index: i}}, rest...))
	}
	return out
}

// inRange normalizes a possibly negative index; ok is false out of range.
func inRange(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

func dictLookup(d map[string]any, head keyElem, rest parsedKey) any {
	switch head.kind {
	case keySlice:
		if len(rest) == 0 {
			return d
		}
		out := make([]any, 0, len(d))
		for _, k := range sortedKeys(d) {
			out = append(out, getKey(d, append(parsedKey{nameElem(k)}, rest...)))
		}
		return out
	case keyName:
		for _, n := range nameSpellings(head.name) {
			if v, ok := d[n]; ok && n != "" {
				return getKey(v, rest)
			}
		}
	}
	items, ok := d["items"]
	if !ok || head.kind != keyName {
		return nil
	}
	for _, n := range nameSpellings(head.name) {
		if v := metadataValue(items, n, len(rest) > 0); truthy(v) {
			return getKey(v, rest)
		}
	}
	return nil
}

func stringLookup(s string, head keyElem, rest parsedKey) any {
	switch head.kind {
	case keySlice:
		if len(rest) == 0 {
			return s
		}
		return eachItem(s, utf8.RuneCountInString(s), rest)
	case keyIndex:
		r := []rune(s)
		if i, ok := inRange(head.index, len(r)); ok {
			return getKey(string(r[i]), rest)
		}
	}
	return nil
}

func listLookup(l []any, head keyElem, rest parsedKey) any {
	switch head.kind {
	case keySlice:
		if len(rest) == 0 {
			return l
		}
		return eachItem(l, len(l), rest)
	case keyIndex:
		if i, ok := inRange(head.index, len(l)); ok {
			return getKey(l[i], rest)
		}
		return nil
	case keyName:
		return fieldOfDicts(l, head.name, rest)
	}
	return nil
}

// fieldOfDicts looks a name up in a list of dicts: as a metadata key, else
// as a field of every item.
func fieldOfDicts(l []any, name string, rest parsedKey) any {
	if len(l) == 0 {
		return nil
	}
	first, ok := l[0].(map[string]any)
	if !ok {
		return nil
	}
	if len(rest) > 0 {
		// list.K.V: the item whose K field is V.
		if d := itemWhere(l, name, keyValue(rest[0])); d != nil {
			return getKey(d, rest[1:])
		}
	} else if v := metadataValue(l, name, false); v != nil {
		return v
	}
	if _, ok := first[name]; ok {
		return eachItem(l, len(l), append(parsedKey{nameElem(name)}, rest...))
	}
	// Not in the first item: the non-empty values of the items that have it.
	var out []any
	for _, it := range l {
		d, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		if f := d[name]; truthy(f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// keyValue is the value a key element stands for when compared with data.
func keyValue(e keyElem) any {
	switch e.kind {
	case keyIndex:
		return int64(e.index)
	case keySlice:
		return nil
	}
	return e.name
}

// itemWhere returns the first dict in items whose field equals value; nil
// when there is none or items is not a list of dicts.
func itemWhere(items any, field string, value any) map[string]any {
	l, ok := items.([]any)
	if !ok {
		return nil
	}
	for _, it := range l {
		d, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		if pyEqual(d[field], value) {
			return d
		}
	}
	return nil
}

// metadataValue is the "value" of the {"key": name, "value": ...} item of
// items; with parse, a JSON string value is decoded.
func metadataValue(items any, name string, parse bool) any {
	d := itemWhere(items, "key", name)
	if d == nil {
		return nil
	}
	v := d["value"]
	if s, ok := v.(string); ok && parse {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var j any
		if dec.Decode(&j) == nil && !dec.More() {
			if n, err := normalize(j); err == nil {
				return n
			}
		}
	}
	return v
}

// nameSpellings are the names a key name matches: itself, its camelCase
// and its snake_case forms.
func nameSpellings(name string) []string {
	return []string{name, toCamelCase(name), toSnakeCase(name)}
}

// toCamelCase turns snake_case into camelCase (each part after an
// underscore title-cased).
func toCamelCase(name string) string {
	parts := strings.Split(name, "_")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		b.WriteString(titleCase(p))
	}
	return b.String()
}

// titleCase upper-cases the first letter of each run of letters and
// lower-cases the others.
func titleCase(s string) string {
	var b strings.Builder
	inWord := false
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r):
			b.WriteRune(r)
			inWord = false
		case inWord:
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(unicode.ToTitle(r))
			inWord = true
		}
	}
	return b.String()
}

// toSnakeCase turns camelCase into snake_case: '_' before a capital that
// starts a word, and before a run of capitals after a lower-case letter or
// digit when the run ends the name or is followed by a word
// ("userID" -> "user_id", "HTTPTarget" -> "http_target").
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
