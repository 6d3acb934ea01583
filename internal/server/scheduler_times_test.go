package server_test

import (
	"regexp"
	"testing"
	"time"

	cloudscheduler "google.golang.org/api/cloudscheduler/v1"

	"github.com/oidcron/oidcron/internal/clock"
)

// userUpdateTime is shown with at most microseconds, as Google's are.
func TestJobUserUpdateTimeMicroseconds(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 20, 9, 13, 36, 614601789, time.UTC))
	e := start(t, withFakeClock(clk))
	svc, err := cloudscheduler.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	j, err := svc.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{Name: parent + "/jobs/t", Schedule: "0 9 * * 1",
		HttpTarget: &cloudscheduler.HttpTarget{Uri: "https://example.com/hook"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if j.UserUpdateTime != "2026-03-20T09:13:36.614601Z" {
		t.Errorf("create: userUpdateTime %q", j.UserUpdateTime)
	}
	clk.Advance(1500 * time.Nanosecond)
	j, err = svc.Projects.Locations.Jobs.Patch(j.Name, &cloudscheduler.Job{Description: "d"}).UpdateMask("description").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\.\d{6}Z$`).MatchString(j.UserUpdateTime) || j.UserUpdateTime != "2026-03-20T09:13:36.614603Z" {
		t.Errorf("update: userUpdateTime %q", j.UserUpdateTime)
	}
}
