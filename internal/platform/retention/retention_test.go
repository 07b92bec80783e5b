package retention_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/retention"
)

// TestBackupRules checks the rules against the plans: one per tier with
// the tier's retention and a 1-day noncurrent expiry, a catch-all at the
// longest retention (35 days), and the delete-marker rule, with unique ids
// and nothing S3 refuses (no upload abort or delete-marker removal with a
// tag filter, no delete-marker removal with an expiration).
func TestBackupRules(t *testing.T) {
	rules := retention.BackupRules()
	byTier := map[catalog.Tier]retention.Rule{}
	ids := map[string]bool{}
	var anyObject, markers []retention.Rule
	for _, r := range rules {
		if ids[r.ID] {
			t.Errorf("rule id %s twice", r.ID)
		}
		ids[r.ID] = true
		switch {
		case r.Tier != "":
			if _, dup := byTier[r.Tier]; dup {
				t.Errorf("two rules for tier %s", r.Tier)
			}
			byTier[r.Tier] = r
			if r.AbortUploadDays != 0 || r.RemoveExpiredDeleteMarkers {
				t.Errorf("%s: a tag-filtered rule with an upload abort or delete-marker removal: %+v", r.ID, r)
			}
		case r.RemoveExpiredDeleteMarkers:
			markers = append(markers, r)
		default:
			anyObject = append(anyObject, r)
		}
	}
	if len(byTier) != len(plan.Tiers) {
		t.Errorf("%d tier rules, want one per tier (%v)", len(byTier), plan.Tiers)
	}
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		r, ok := byTier[tier]
		switch {
		case !ok:
			t.Errorf("no rule for tier %s", tier)
		case l.BackupRetentionDays <= 0:
			t.Errorf("plan %s: BackupRetentionDays = %d", tier, l.BackupRetentionDays)
		case r.ExpireDays != l.BackupRetentionDays || r.NoncurrentDays != 1 || r.ID != retention.TierRuleID(tier):
			t.Errorf("tier %s: %+v, want %s expiring after %d days, noncurrent versions after 1", tier, r, retention.TierRuleID(tier), l.BackupRetentionDays)
		}
	}
	if len(anyObject) != 1 {
		t.Fatalf("catch-all rules: %+v, want one", anyObject)
	}
	if a := anyObject[0]; a.ExpireDays != 35 || a.ExpireDays != retention.MaxDays() || a.NoncurrentDays != 1 || a.AbortUploadDays != 1 || a.ID != retention.AnyObjectID {
		t.Errorf("catch-all rule %+v, want %s expiring every object after 35 days (the longest plan's), noncurrent after 1, uploads aborted after 1", a, retention.AnyObjectID)
	}
	if len(markers) != 1 || markers[0].ExpireDays != 0 || markers[0].NoncurrentDays != 0 || markers[0].ID != retention.DeleteMarkersID {
		t.Errorf("delete-marker rules: %+v, want one with nothing else", markers)
	}
	if retention.Days("gold") != 0 {
		t.Errorf("Days of an unknown tier = %d, want 0", retention.Days("gold"))
	}
}
