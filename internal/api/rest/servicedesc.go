package rest

import (
	"context"
	"fmt"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

var (
	ctxType   = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType = reflect.TypeOf((*error)(nil)).Elem()
)

// ServiceDescByName builds the grpc.ServiceDesc of a service from its
// registered proto descriptor, with handlers that call impl's methods the
// way generated handlers do (decode, then the interceptor with the same
// UnaryServerInfo, then the method). It exists for generated packages that
// keep their ServiceDesc unexported: cloud.google.com/go/iam/admin/apiv1/
// adminpb only offers RegisterIAMServer(*grpc.Server, ...), so
//
//	desc, err := rest.ServiceDescByName("google.iam.admin.v1.IAM", impl)
//	err = t.RegisterService(desc, impl)
//
// The handlers call impl itself, whatever srv they are handed. Streaming
// methods are left out. Every unary method must exist on impl
// with the signature func(context.Context, *Req) (*Resp, error); embedding
// the generated Unimplemented server provides them all.
func ServiceDescByName(serviceName string, impl any) (*grpc.ServiceDesc, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(serviceName))
	if err != nil {
		return nil, fmt.Errorf("rest: service %s: %w", serviceName, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("rest: %s is not a service", serviceName)
	}
	if impl == nil {
		return nil, fmt.Errorf("rest: nil implementation of %s", serviceName)
	}
	iv := reflect.ValueOf(impl)
	desc := &grpc.ServiceDesc{ServiceName: serviceName, Metadata: sd.ParentFile().Path()}
	for i := 0; i < sd.Methods().Len(); i++ {
		pm := sd.Methods().Get(i)
		if pm.IsStreamingClient() || pm.IsStreamingServer() {
			continue
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(pm.Input().FullName())
		if err != nil {
			return nil, fmt.Errorf("rest: %s/%s input: %w", serviceName, pm.Name(), err)
		}
		fn := iv.MethodByName(string(pm.Name()))
		if !fn.IsValid() {
			return nil, fmt.Errorf("rest: %T has no method %s", impl, pm.Name())
		}
		ft := fn.Type()
		inType := reflect.TypeOf(mt.Zero().Interface())
		if ft.NumIn() != 2 || ft.In(0) != ctxType || ft.In(1) != inType ||
			ft.NumOut() != 2 || !ft.Out(0).Implements(reflect.TypeOf((*proto.Message)(nil)).Elem()) || ft.Out(1) != errorType {
			return nil, fmt.Errorf("rest: %T.%s has signature %v, want func(context.Context, %v) (proto.Message, error)", impl, pm.Name(), ft, inType)
		}
		fullMethod := "/" + serviceName + "/" + string(pm.Name())
		call := func(ctx context.Context, req any) (any, error) {
			out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(req)})
			err, _ := out[1].Interface().(error)
			return out[0].Interface(), err
		}
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: string(pm.Name()),
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := mt.New().Interface()
				if err := dec(in); err != nil {
					return nil, err
				}
				if interceptor == nil {
					return call(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, call)
			},
		})
	}
	return desc, nil
}
