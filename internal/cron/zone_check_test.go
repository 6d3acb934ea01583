package cron

import (
	"os"
	"testing"
	"time"
)

// Cloud Scheduler's time_zone is a tz database name (gcp-behaviour.md 2.3);
// anything else is "Schedule or time zone is invalid.". time.LoadLocation
// also opens files and paths under
// the host's zoneinfo directory: "localtime" is the host's /etc/localtime
// (the dependence on the host that refusing "Local" is meant to prevent),
// "right/..." is a leap-second table whose transitions are 27 s late, and
// "./UTC" or "Europe//Berlin" are paths, not names. On a host without
// /usr/share/zoneinfo (embedded tzdata only) these fail anyway; on a
// Debian host such as the project's machines CheckZone must refuse them.
func TestCheckZoneRefusesHostFilesAndPaths(t *testing.T) {
	for _, name := range []string{"localtime", "right/Europe/Berlin", "posix/Europe/Berlin", "./UTC", "Europe//Berlin"} {
		if loc, err := CheckZone(name); err == nil {
			t.Errorf("CheckZone(%q) = %v, want an error: not a tz database name", name, loc)
		}
	}
}

// The visible consequence of "right/Europe/Berlin": a wall-clock schedule
// fires at a time that is not a whole minute, 27 s after the real change
// to CEST (Europe/Berlin gives 2025-03-30T01:00:00Z).
func TestLeapSecondZoneFiresOffTheMinute(t *testing.T) {
	loc, err := CheckZone("right/Europe/Berlin")
	if err != nil {
		return // refused, as it should be
	}
	s := mustParse(t, "30 2 * * *", loc)
	got := s.Next(time.Date(2025, 3, 29, 12, 0, 0, 0, time.UTC))
	if want := mustTime(t, "2025-03-30T01:00:00Z"); !got.Equal(want) {
		t.Errorf("Next = %v, want %v (or the zone refused)", got.Format(time.RFC3339), want.Format(time.RFC3339))
	}
}

// Real names keep loading, the unusual shapes among them too.
func TestCheckZoneTakesTzDatabaseNames(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/Argentina/Buenos_Aires", "America/Port-au-Prince",
		"Etc/GMT+5", "Etc/GMT-14", "EST5EDT", "UTC", "Etc/UTC", "Asia/Kathmandu", "America/North_Dakota/New_Salem"} {
		if _, err := CheckZone(name); err != nil {
			t.Errorf("CheckZone(%q): %v", name, err)
		}
	}
}

// A job stored with such a name before CheckZone existed keeps loading
// (and firing) where the host has the file: LoadZone does not apply the
// rule.
func TestLoadZoneKeepsStoredNames(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/posix/Europe/Berlin"); err != nil {
		t.Skip("this host has no posix/ zoneinfo copies")
	}
	if _, err := LoadZone("posix/Europe/Berlin"); err != nil {
		t.Fatalf("LoadZone(posix/Europe/Berlin): %v", err)
	}
}
