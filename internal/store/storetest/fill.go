package storetest

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// filled sets every field of m, recursively to a few levels, to a value that
// depends on seed, and returns m. Records built this way make a round trip
// that drops or alters any field fail proto.Equal, including fields that a
// later version of Google's protos adds, which a hand-written fixture would
// not know about.
func filled[T proto.Message](m T, seed int) T {
	f := filler{n: seed * 10_000}
	f.message(m.ProtoReflect(), 0)
	return m
}

// maxDepth bounds the recursion: some messages (Struct, Value) nest themselves.
const maxDepth = 4

type filler struct{ n int }

func (f *filler) next() int {
	f.n++
	return f.n
}

func (f *filler) message(m protoreflect.Message, depth int) {
	d := m.Descriptor()
	// Well-known types get valid values: a Timestamp's nanos must be below a
	// second for it to mean anything, and an Any should hold a message.
	switch d.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		n := f.next()
		m.Set(d.Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_700_000_000+int64(n)))
		m.Set(d.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(n*7919%1_000_000_000)))
		return
	case "google.protobuf.Any":
		n := f.next()
		v, err := proto.Marshal(wrapperspb.String(fmt.Sprintf("any-%d", n)))
		if err != nil {
			panic(err) // marshalling a StringValue cannot fail
		}
		m.Set(d.Fields().ByName("type_url"), protoreflect.ValueOfString("type.googleapis.com/google.protobuf.StringValue"))
		m.Set(d.Fields().ByName("value"), protoreflect.ValueOfBytes(v))
		return
	}
	fields := d.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		// Members of a oneof are set in turn; each clears the one before,
		// so the last settable member is what remains.
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil && depth+1 >= maxDepth {
				continue
			}
			mp := m.Mutable(fd).Map()
			for j := range 2 {
				k := f.mapKey(fd.MapKey(), j)
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					f.message(v.Message(), depth+1)
					mp.Set(k, v)
				} else {
					mp.Set(k, f.scalar(fd.MapValue()))
				}
			}
		case fd.IsList():
			if fd.Message() != nil && depth+1 >= maxDepth {
				continue
			}
			l := m.Mutable(fd).List()
			for range 2 {
				if fd.Message() != nil {
					v := l.NewElement()
					f.message(v.Message(), depth+1)
					l.Append(v)
				} else {
					l.Append(f.scalar(fd))
				}
			}
		case fd.Message() != nil:
			if depth+1 >= maxDepth {
				continue
			}
			f.message(m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	n := f.next()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		// The last value, which is not the zero default (unless it is the
		// only one) and so is actually encoded.
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(vals.Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(n) << 33) // beyond 32 bits, to catch truncation
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n) << 33)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.25)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.125)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", fd.Name(), n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{0x00, byte(n), 0xff, byte(n >> 8)})
	}
	panic(fmt.Sprintf("storetest: no value for field %s of kind %v", fd.FullName(), fd.Kind()))
}

func (f *filler) mapKey(fd protoreflect.FieldDescriptor, j int) protoreflect.MapKey {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(j == 1).MapKey()
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("key-%d-%d", j, f.next())).MapKey()
	}
	v := f.scalar(fd) // an integer kind; successive calls differ
	return v.MapKey()
}
