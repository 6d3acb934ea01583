package rest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// This file binds path variables and query parameters (strings) to fields of
// the request message, the way Google's HTTP/JSON transcoding does: a dotted
// field path of singular message fields ending in a scalar, an enum, a
// repeated scalar or enum, or one of the well-known types whose JSON form is
// a scalar (Timestamp, Duration, FieldMask, the wrappers).

// fieldPathError says why a dotted name does not lead to a bindable field.
type fieldPathError struct {
	notFound bool   // no such field
	at       string // the name (as given) of the offending prefix
	why      string // for found-but-unbindable fields
}

func (e *fieldPathError) Error() string {
	if e.notFound {
		return fmt.Sprintf("field %q not found", e.at)
	}
	return fmt.Sprintf("field %q: %s", e.at, e.why)
}

// resolveFieldPath resolves names (proto or lowerCamelCase JSON names, as
// protojson accepts both) from md down to a bindable leaf.
func resolveFieldPath(md protoreflect.MessageDescriptor, names []string) ([]protoreflect.FieldDescriptor, error) {
	fds := make([]protoreflect.FieldDescriptor, 0, len(names))
	for i, n := range names {
		at := strings.Join(names[:i+1], ".")
		if md == nil {
			return nil, &fieldPathError{notFound: true, at: at}
		}
		fd := md.Fields().ByName(protoreflect.Name(n))
		if fd == nil {
			fd = md.Fields().ByJSONName(n)
		}
		if fd == nil {
			return nil, &fieldPathError{notFound: true, at: at}
		}
		fds = append(fds, fd)
		if i == len(names)-1 {
			if fd.IsMap() {
				return nil, &fieldPathError{at: at, why: "is a map field"}
			}
			if fd.Message() != nil && !scalarWKT[fd.Message().FullName()] {
				return nil, &fieldPathError{at: at, why: "is a message type"}
			}
			return fds, nil
		}
		if fd.Message() == nil {
			// A scalar with more names after it: the rest cannot exist.
			return nil, &fieldPathError{notFound: true, at: strings.Join(names[:i+2], ".")}
		}
		if fd.IsList() || fd.IsMap() {
			return nil, &fieldPathError{at: at, why: "is a repeated field"}
		}
		md = fd.Message()
	}
	return nil, &fieldPathError{notFound: true}
}

// scalarWKT are the message types whose JSON form is a single scalar, so a
// query parameter or path segment can carry one.
var scalarWKT = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp":   true,
	"google.protobuf.Duration":    true,
	"google.protobuf.FieldMask":   true,
	"google.protobuf.DoubleValue": true,
	"google.protobuf.FloatValue":  true,
	"google.protobuf.Int64Value":  true,
	"google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value":  true,
	"google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue":   true,
	"google.protobuf.StringValue": true,
	"google.protobuf.BytesValue":  true,
}

// protoPath is the field path in proto names, Google's spelling in "Invalid
// value at 'x.y'" messages.
func protoPath(fds []protoreflect.FieldDescriptor) string {
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = string(fd.Name())
	}
	return strings.Join(names, ".")
}

// typeName is how Google names a field's type in "Invalid value" messages:
// TYPE_INT32 for scalars, the type URL for enums and messages.
func typeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.Enum() != nil:
		return "type.googleapis.com/" + string(fd.Enum().FullName())
	case fd.Message() != nil:
		return "type.googleapis.com/" + string(fd.Message().FullName())
	}
	return descriptorpb.FieldDescriptorProto_Type(fd.Kind()).String()
}

// invalidValue is Google's message for a value that does not parse as its
// field's type; raw is the value as JSON.
func invalidValue(path string, fd protoreflect.FieldDescriptor, raw string) string {
	return fmt.Sprintf("Invalid value at '%s' (%s), %s", path, typeName(fd), raw)
}

// setFromStrings sets the field at fds under root from values. More than one
// value is an error for a singular field, except a FieldMask, whose paths
// are joined as if sent comma-separated.
func setFromStrings(root protoreflect.Message, fds []protoreflect.FieldDescriptor, values []string) error {
	m := root
	for _, fd := range fds[:len(fds)-1] {
		m = m.Mutable(fd).Message()
	}
	fd := fds[len(fds)-1]
	path := protoPath(fds)
	if fd.IsList() {
		l := m.Mutable(fd).List()
		for _, s := range values {
			v, err := scalarValue(fd, l.NewElement, s)
			if err != nil {
				return newFieldError(path, invalidValue(path, fd, jsonString(s)))
			}
			l.Append(v)
		}
		return nil
	}
	s := values[len(values)-1]
	if len(values) > 1 {
		if fd.Message() == nil || fd.Message().FullName() != "google.protobuf.FieldMask" {
			return newFieldError(path, fmt.Sprintf("Invalid value at '%s' (%s): the parameter is repeated but the field is not", path, typeName(fd)))
		}
		s = strings.Join(values, ",")
	}
	v, err := scalarValue(fd, func() protoreflect.Value { return m.NewField(fd) }, s)
	if err != nil {
		return newFieldError(path, invalidValue(path, fd, jsonString(s)))
	}
	m.Set(fd, v)
	return nil
}

// scalarValue converts s to a value of fd's (element) type. newElem returns
// a fresh value of the field's type, so message values have the concrete
// (generated or dynamic) type the parent expects.
func scalarValue(fd protoreflect.FieldDescriptor, newElem func() protoreflect.Value, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, fmt.Errorf("invalid UTF-8")
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		b, err := decodeBase64(s)
		return protoreflect.ValueOfBytes(b), err
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.EnumKind:
		// By name, or by number as the gapic clients send them.
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
	case protoreflect.MessageKind, protoreflect.GroupKind:
		v := newElem()
		m := v.Message()
		switch m.Descriptor().FullName() {
		case "google.protobuf.FieldMask":
			return v, setFieldMask(m, s)
		case "google.protobuf.Timestamp", "google.protobuf.Duration":
			return v, protojson.Unmarshal([]byte(jsonString(s)), m.Interface())
		}
		// The wrappers: their JSON form is that of their "value" field.
		vf := m.Descriptor().Fields().ByName("value")
		if vf == nil {
			return v, fmt.Errorf("unsupported message %s", m.Descriptor().FullName())
		}
		inner, err := scalarValue(vf, nil, s)
		if err != nil {
			return v, err
		}
		m.Set(vf, inner)
		return v, nil
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported kind %v", fd.Kind())
}

// setFieldMask parses a comma-separated FieldMask in its JSON form
// (lowerCamelCase paths) into snake_case paths, converting exactly as
// protojson does. snake_case input is accepted unchanged, since converting it
// is the identity; "*" is accepted as a path component for the "replace
// everything" masks some APIs take.
func setFieldMask(m protoreflect.Message, s string) error {
	fd := m.Descriptor().Fields().ByName("paths")
	l := m.Mutable(fd).List()
	if s == "" {
		return nil
	}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		snake := jsonSnakeCase(p)
		for _, c := range strings.Split(snake, ".") {
			if c != "*" && !protoreflect.Name(c).IsValid() {
				return fmt.Errorf("invalid field mask path %q", p)
			}
		}
		l.Append(protoreflect.ValueOfString(snake))
	}
	return nil
}

// jsonSnakeCase is protojson's FieldMask path conversion: every ASCII upper
// case letter becomes "_" and its lower case.
func jsonSnakeCase(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			b = append(b, '_')
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// decodeBase64 accepts the URL-safe alphabet Google uses in query strings
// and the standard one, padded or not.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("invalid base64")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
