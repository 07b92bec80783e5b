package retention

import (
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// Rule is one rule of the backup bucket's lifecycle configuration.
type Rule struct {
	// ID names the rule in the bucket's configuration.
	ID string
	// Tier, when set, limits the rule to the objects tagged
	// recovery.TierTag=Tier; empty applies it to every object.
	Tier catalog.Tier
	// ExpireDays expires an object's current version this many days after
	// it was written (0: the rule expires nothing).
	ExpireDays int
	// NoncurrentDays removes a version this many days after it stopped
	// being the current one, by expiration or overwrite (0: never).
	NoncurrentDays int
	// AbortUploadDays aborts a multipart upload this many days after it
	// began, if it was not completed (0: never). S3 refuses it in a rule
	// with a tag filter.
	AbortUploadDays int
	// RemoveExpiredDeleteMarkers removes the delete markers that
	// expiration leaves, once no version is behind them. S3 refuses it in
	// a rule with a tag filter or with ExpireDays.
	RemoveExpiredDeleteMarkers bool
}

const (
	// NoncurrentDays is how long a version is kept after it stopped being
	// current: the bucket is versioned, so an expired object's data is gone
	// this long after its expiration (and an overwritten one's after the
	// overwrite). Nothing overwrites a backup object in normal operation
	// (writes are conditional on absence).
	NoncurrentDays = 1
	// AbortUploadDays removes the parts of multipart uploads a crashed
	// writer left.
	AbortUploadDays = 1
)

// Rule ids.
const (
	// AnyObjectID is the catch-all rule's id.
	AnyObjectID = "ExpireBackups-any"
	// DeleteMarkersID is the id of the rule that removes expired delete
	// markers.
	DeleteMarkersID = "RemoveExpiredDeleteMarkers"
)

// TierRuleID is the id of tier t's expiration rule.
func TierRuleID(t catalog.Tier) string { return "ExpireBackups-" + string(t) }

// BackupRules are the backup bucket's lifecycle rules, in a stable order:
//
//   - per tier (plan.Tiers order), the objects tagged with it expire after
//     the tier's BackupRetentionDays;
//   - every object expires after MaxDays: S3 honours the shortest of
//     overlapping expirations, so a tagged object expires by its tier's rule
//     and an object without a (known) tier tag still goes after the longest
//     retention, never later; this rule also aborts abandoned uploads;
//   - expired delete markers are removed.
//
// Every expiring rule removes noncurrent versions after NoncurrentDays.
// An object keeps the tier it was tagged with when it was written: after a
// tier change, older objects expire by their old tier's retention.
func BackupRules() []Rule {
	rules := make([]Rule, 0, len(plan.Tiers)+2)
	for _, t := range plan.Tiers {
		rules = append(rules, Rule{ID: TierRuleID(t), Tier: t, ExpireDays: Days(t), NoncurrentDays: NoncurrentDays})
	}
	return append(rules,
		Rule{ID: AnyObjectID, ExpireDays: MaxDays(), NoncurrentDays: NoncurrentDays, AbortUploadDays: AbortUploadDays},
		Rule{ID: DeleteMarkersID, RemoveExpiredDeleteMarkers: true},
	)
}

// Days is how many days tier t's backup objects are kept
// (plan.Limits.BackupRetentionDays), 0 for an unknown tier.
func Days(t catalog.Tier) int {
	l, _ := plan.For(t)
	return l.BackupRetentionDays
}

// MaxDays is the longest retention of any tier: what the catch-all rule
// keeps an object for.
func MaxDays() int {
	var longest int
	for _, t := range plan.Tiers {
		longest = max(longest, Days(t))
	}
	return longest
}
