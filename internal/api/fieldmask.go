package api

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// applyMask copies the fields named by paths (snake_case, dotted) from src
// to dst, as an UpdateX with an update_mask does: a path whose value is
// unset in src clears it in dst. Every path is checked before anything is
// copied; the first one that names no field is returned and dst is left
// untouched.
func applyMask(dst, src proto.Message, paths []string) (badPath string) {
	for _, p := range paths {
		if !validPath(dst.ProtoReflect().Descriptor(), strings.Split(p, ".")) {
			return p
		}
	}
	for _, p := range paths {
		copyPath(dst.ProtoReflect(), src.ProtoReflect(), strings.Split(p, "."))
	}
	return ""
}

func validPath(md protoreflect.MessageDescriptor, path []string) bool {
	fd := md.Fields().ByName(protoreflect.Name(path[0]))
	if fd == nil {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
		return false
	}
	return validPath(fd.Message(), path[1:])
}

func copyPath(dst, src protoreflect.Message, path []string) {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if len(path) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return
	}
	// An unset message in src reads as an empty one: its fields are unset.
	copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:])
}
