package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// decodeBody decodes a JSON request body into msg: the whole message when
// bodyField is nil (body "*"), else into that top-level field (body "job").
// protojson does the decoding (enum names or numbers, lowerCamelCase or
// proto names, the well-known types); a walk over the JSON beforehand turns
// unknown names into Google's message, which names the field and where it
// is, and a second walk after a failed decode finds the value at fault.
func decodeBody(msg protoreflect.Message, bodyField protoreflect.FieldDescriptor, data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		// Google accepts an empty body as an empty message; the iam/v1
		// client sends none at all for POST ...:getIamPolicy.
		return nil
	}
	// A body bound to one field is decoded as {"<field>": body} into a
	// fresh message of the request type: one code path for message,
	// repeated and scalar body fields, and error paths start at the field
	// name ("at 'job'") as Google's do.
	target := msg
	doc := data
	if bodyField != nil {
		target = msg.New()
		doc = append(append([]byte(`{`+jsonString(bodyField.JSONName())+`:`), data...), '}')
	}
	// Validation first: its errors say where the syntax breaks, and it
	// rejects trailing data a streaming decode would leave unread.
	var probe json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return newFieldError("", "Invalid JSON payload received. "+syntaxMessage(err))
	}
	tree, err := parseJSON(doc)
	if err != nil {
		return newFieldError("", "Invalid JSON payload received. "+syntaxMessage(err))
	}
	c := &jsonChecker{}
	c.message(target.Descriptor(), tree, "")
	if len(c.violations) > 0 {
		return newViolationsError(c.violations)
	}
	if err := protojson.Unmarshal(doc, target.Interface()); err != nil {
		c := &jsonChecker{checkValues: true}
		c.message(target.Descriptor(), tree, "")
		if len(c.violations) > 0 {
			return newViolationsError(c.violations)
		}
		return newFieldError("", "Invalid JSON payload received. "+protoErrorText(err))
	}
	if bodyField != nil && target.Has(bodyField) {
		msg.Set(bodyField, target.Get(bodyField))
	}
	return nil
}

// syntaxMessage words an encoding/json syntax error with its offset.
func syntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Unexpected token at offset %d: %s.", se.Offset, se.Error())
	}
	return err.Error() + "."
}

// protoErrorText strips protobuf-go's "proto:" prefix, whose following
// space the library randomises on purpose; what remains names the problem.
func protoErrorText(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return s
}

// leafWKT are well-known message types protojson encodes in a special JSON
// form; the walk treats them as values and leaves them to protojson.
var leafWKT = map[protoreflect.FullName]bool{
	"google.protobuf.Any":       true,
	"google.protobuf.Struct":    true,
	"google.protobuf.Value":     true,
	"google.protobuf.ListValue": true,
}

func isLeafMessage(md protoreflect.MessageDescriptor) bool {
	return leafWKT[md.FullName()] || scalarWKT[md.FullName()]
}

type violation struct{ field, desc string }

// jsonChecker walks a JSON document, parsed once (so the walk is linear in
// its size however deep it nests), along a message descriptor. Object keys
// are visited in sorted order so that messages are deterministic.
type jsonChecker struct {
	// checkValues also tries each leaf value with protojson, to find the
	// one a failed decode choked on.
	checkValues bool
	violations  []violation
}

// parseJSON parses doc keeping numbers as written.
func parseJSON(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// encodeJSON re-encodes a parsed value; numbers keep their digits and, as
// in Google's messages, <, > and & are not escaped.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func (c *jsonChecker) unknown(name, path string) {
	at := ""
	if path != "" {
		at = fmt.Sprintf(" at '%s'", path)
	}
	c.violations = append(c.violations, violation{field: path,
		desc: fmt.Sprintf("Invalid JSON payload received. Unknown name %s%s: Cannot find field.", jsonString(name), at)})
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path string, name protoreflect.Name) string {
	if path == "" {
		return string(name)
	}
	return path + "." + string(name)
}

// message checks v, a JSON object for md, at path ("" at the top). A
// non-object is not reported here: the caller knows the field to blame.
func (c *jsonChecker) message(md protoreflect.MessageDescriptor, v any, path string) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, k := range sortedKeys(obj) {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k))
		}
		if fd == nil {
			c.unknown(k, path)
			continue
		}
		c.field(md, fd, obj[k], join(path, fd.Name()))
	}
	return true
}

// field checks the value of fd (a field of parent) at path.
func (c *jsonChecker) field(parent protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, v any, path string) {
	if v == nil {
		return // protojson: null leaves a field unset
	}
	nested := fd.Message() != nil && !isLeafMessage(fd.Message())
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			c.leaf(parent, fd, fd, v, v, path)
			return
		}
		vfd := fd.MapValue()
		for _, k := range sortedKeys(obj) {
			p := path + "[" + strconv.Quote(k) + "]"
			if vfd.Message() != nil && !isLeafMessage(vfd.Message()) && c.message(vfd.Message(), obj[k], p) {
				continue
			}
			c.leaf(parent, fd, vfd, map[string]any{k: obj[k]}, obj[k], p)
		}
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			c.leaf(parent, fd, fd, v, v, path)
			return
		}
		for i, e := range arr {
			p := fmt.Sprintf("%s[%d]", path, i)
			if nested && c.message(fd.Message(), e, p) {
				continue
			}
			c.leaf(parent, fd, fd, []any{e}, e, p)
		}
	case nested:
		if !c.message(fd.Message(), v, path) {
			c.leaf(parent, fd, fd, v, v, path)
		}
	default:
		c.leaf(parent, fd, fd, v, v, path)
	}
}

// leaf tries {"<fd>": fieldValue} with protojson and reports shown (the
// value as the client wrote it) as a bad value of typeFd (fd, or a map's
// value field) when it fails.
func (c *jsonChecker) leaf(parent protoreflect.MessageDescriptor, fd, typeFd protoreflect.FieldDescriptor, fieldValue, shown any, path string) {
	if !c.checkValues {
		return
	}
	doc := encodeJSON(map[string]any{fd.JSONName(): fieldValue})
	if err := protojson.Unmarshal(doc, dynamicpb.NewMessage(parent)); err != nil {
		c.violations = append(c.violations, violation{field: path, desc: invalidValue(path, typeFd, string(encodeJSON(shown)))})
	}
}

// extractField returns the value of key in the JSON object doc.
func extractField(doc []byte, key string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(doc, &obj); err != nil {
		return nil, err
	}
	v, ok := obj[key]
	if !ok {
		return nil, fmt.Errorf("field %q missing from the encoded response", key)
	}
	return v, nil
}
