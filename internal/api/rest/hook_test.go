package rest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type hookNote struct{}

// nullToHooked is a body hook in the manner of the null map values it is
// for: it rewrites a JSON value protojson refuses ("schedule": null is
// fine, so a marker stands in) and passes what it saw on in the context.
func nullToHooked(ctx context.Context, body []byte) (context.Context, []byte, error) {
	if bytes.Contains(body, []byte(`"refuse"`)) {
		return ctx, nil, status.Error(codes.FailedPrecondition, "the hook refuses.")
	}
	out := bytes.Replace(body, []byte(`"schedule":"@marker"`), []byte(`"schedule":"hooked"`), 1)
	return context.WithValue(ctx, hookNote{}, string(body)), out, nil
}

// hookedSched is memSched with a body hook for UpdateJob, installed through
// the BodyHooks interface.
type hookedSched struct{ *memSched }

func (hookedSched) RESTBodyHooks() map[string]BodyHook {
	return map[string]BodyHook{"UpdateJob": nullToHooked}
}

// hookServer serves the scheduler fixture through a transcoder whose
// interceptor records what the hook left in the context.
func hookServer(t *testing.T, impl schedulerpb.CloudSchedulerServer, setHook bool) (*cloudscheduler.ProjectsLocationsJobsService, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var notes []string
	tr := New(Options{Interceptor: func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if n, ok := ctx.Value(hookNote{}).(string); ok {
			mu.Lock()
			notes = append(notes, n)
			mu.Unlock()
		}
		return h(ctx, req)
	}})
	must(t, tr.RegisterService(&schedulerpb.CloudScheduler_ServiceDesc, impl))
	if setHook {
		must(t, tr.SetBodyHook("/google.cloud.scheduler.v1.CloudScheduler/UpdateJob", nullToHooked))
	}
	ts := httptest.NewServer(tr)
	t.Cleanup(ts.Close)
	svc, err := cloudscheduler.NewService(context.Background(), option.WithEndpoint(ts.URL+"/"), option.WithoutAuthentication())
	must(t, err)
	return svc.Projects.Locations.Jobs, &notes
}

func TestBodyHook(t *testing.T) {
	for _, c := range []struct {
		name    string
		impl    func(*memSched) schedulerpb.CloudSchedulerServer
		setHook bool
	}{
		{"SetBodyHook", func(m *memSched) schedulerpb.CloudSchedulerServer { return m }, true},
		{"BodyHooks", func(m *memSched) schedulerpb.CloudSchedulerServer { return hookedSched{m} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMemSched()
			jobs, notes := hookServer(t, c.impl(m), c.setHook)
			name := parent + "/jobs/j"
			if _, err := jobs.Create(parent, &cloudscheduler.Job{Name: name, Schedule: "* * * * *",
				HttpTarget: &cloudscheduler.HttpTarget{Uri: "http://x/"}}).Do(); err != nil {
				t.Fatal(err)
			}
			got, err := jobs.Patch(name, &cloudscheduler.Job{Schedule: "@marker"}).UpdateMask("schedule").Do()
			if err != nil {
				t.Fatal(err)
			}
			if got.Schedule != "hooked" {
				t.Fatalf("the handler got schedule %q, want the hook's", got.Schedule)
			}
			if len(*notes) != 1 || !strings.Contains((*notes)[0], `"@marker"`) {
				t.Fatalf("context notes %q, want the body as sent", *notes)
			}
			// Only the hooked method's bodies go through the hook.
			if _, err := jobs.Create(parent, &cloudscheduler.Job{Name: parent + "/jobs/k", Schedule: "@marker"}).Do(); err != nil {
				t.Fatal(err)
			}
			if len(*notes) != 1 {
				t.Fatalf("CreateJob went through UpdateJob's hook: %q", *notes)
			}
			// A hook's error answers the request with its code.
			_, err = jobs.Patch(name, &cloudscheduler.Job{Schedule: "refuse"}).UpdateMask("schedule").Do()
			if ge := googleErr(t, err); ge.Code != http.StatusBadRequest || ge.Message != "the hook refuses." {
				t.Fatalf("refused: %d %q", ge.Code, ge.Message)
			}
		})
	}
}

func TestBodyHookRegistrationErrors(t *testing.T) {
	tr := New(Options{})
	if err := tr.SetBodyHook("/google.cloud.scheduler.v1.CloudScheduler/UpdateJob", nullToHooked); err == nil {
		t.Error("SetBodyHook on an unregistered service succeeded")
	}
	if err := tr.RegisterService(&schedulerpb.CloudScheduler_ServiceDesc, badHooksImpl{hookedSched{newMemSched()}}); err == nil ||
		!strings.Contains(err.Error(), "NoSuchMethod") {
		t.Errorf("a hook for a method the service lacks: %v", err)
	}
}

type badHooksImpl struct{ hookedSched }

func (badHooksImpl) RESTBodyHooks() map[string]BodyHook {
	return map[string]BodyHook{"NoSuchMethod": nullToHooked}
}
