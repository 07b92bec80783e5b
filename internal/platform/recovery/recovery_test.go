package recovery_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

func TestIDs(t *testing.T) {
	job, snap := recovery.NewJobID(), recovery.NewSnapshotID()
	for _, tc := range []struct {
		id        string
		job, snap bool
	}{
		{job, true, false},
		{snap, false, true},
		{"j-" + job[2:12], false, false},
		{"J" + job[1:], false, false},
		{job[:27] + "Z", false, false},
		{job[:27] + "/", false, false},
		{"", false, false},
	} {
		if recovery.ValidJobID(tc.id) != tc.job || recovery.ValidSnapshotID(tc.id) != tc.snap {
			t.Errorf("%q: job %v snapshot %v, want %v %v", tc.id, recovery.ValidJobID(tc.id), recovery.ValidSnapshotID(tc.id), tc.job, tc.snap)
		}
	}
	if recovery.ManifestKey("t-1", snap) != "t-1/snapshots/"+snap+"/manifest.json" || recovery.PartKey("t-1", snap, 3) != "t-1/snapshots/"+snap+"/part-00003.jsonl" {
		t.Error("object layout changed")
	}
}
