package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Source is the EventBridge source of every control-plane event.
const Source = "tessera.control-plane"

// SchemaVersion is the version of Detail this code writes and reads.
const SchemaVersion = 1

// DetailType names a control-plane event.
type DetailType string

// The control-plane events.
const (
	TenantOnboardingRequested DetailType = "TenantOnboardingRequested"
	TenantProvisioned         DetailType = "TenantProvisioned"
	TenantProvisioningFailed  DetailType = "TenantProvisioningFailed"
	// TenantProvisioningCheck is the follow-up re-check of a premium stack
	// still being created, sent by the provisioner to its own queue with a
	// delay.
	TenantProvisioningCheck    DetailType = "TenantProvisioningCheck"
	TenantSuspended            DetailType = "TenantSuspended"
	TenantResumed              DetailType = "TenantResumed"
	TenantTierChanged          DetailType = "TenantTierChanged"
	TenantOffboardingRequested DetailType = "TenantOffboardingRequested"
	TenantOffboarded           DetailType = "TenantOffboarded"
	// TenantOffboardingFailed: offboarding gave up; the catalog holds the
	// tenant as OFFBOARD_FAILED with the reason.
	TenantOffboardingFailed DetailType = "TenantOffboardingFailed"
	// TenantBackupRequested starts a backup job (jobId) of the tenant.
	TenantBackupRequested DetailType = "TenantBackupRequested"
	// TenantRestoreRequested starts a restore job (jobId) of the tenant.
	TenantRestoreRequested DetailType = "TenantRestoreRequested"
	// TenantRestored: a restore job (jobId) ended with the tenant's items
	// as they were at the requested time.
	TenantRestored DetailType = "TenantRestored"
	// TenantRestoreFailed: a restore job (jobId) gave up; reason says why,
	// and the tenant's items are as they were before it.
	TenantRestoreFailed DetailType = "TenantRestoreFailed"
	// TenantMigrated: a tier migration (jobId) cut over; table is the
	// tenant's new table.
	TenantMigrated DetailType = "TenantMigrated"
	// TenantMigrationFailed: a tier migration (jobId) gave up; reason says
	// why, and the tenant is ACTIVE on its old placement.
	TenantMigrationFailed DetailType = "TenantMigrationFailed"
	// BackupsDue is the backup schedule's tick (an EventBridge schedule
	// sends it to the provisioning queue): the provisioner requests a backup
	// of every tenant that is due, and deletes the old copies of migrated
	// tenants whose grace period has ended. It is about the fleet, not one tenant,
	// so it carries neither tenantId nor tier; it is never published on the
	// bus and is not in ProvisioningEvents.
	BackupsDue DetailType = "BackupsDue"
)

// ProvisioningEvents are the events the bus delivers to the provisioner's
// queue (a rule on the bus, in infra and in the local bootstrap): the
// lifecycle requests, and the backup and restore jobs it runs.
var ProvisioningEvents = []DetailType{
	TenantOnboardingRequested, TenantTierChanged, TenantOffboardingRequested,
	TenantBackupRequested, TenantRestoreRequested,
}

// Known reports whether dt is one of the control-plane events.
func (dt DetailType) Known() bool {
	_, ok := contracts[dt]
	return ok
}

// Detail is the "detail" of every Tessera event. Every event carries tenant
// id, tier, correlation id and schema version; the other fields belong to
// some detail types only (see the schemas in events/schemas).
type Detail struct {
	SchemaVersion int    `json:"schemaVersion"`
	TenantID      string `json:"tenantId"`
	Tier          string `json:"tier"`
	CorrelationID string `json:"correlationId"`
	TenantName    string `json:"tenantName,omitempty"`   // onboarding
	AdminEmail    string `json:"adminEmail,omitempty"`   // onboarding
	PreviousTier  string `json:"previousTier,omitempty"` // tier change
	Reason        string `json:"reason,omitempty"`       // failures, suspension, offboarding
	Attempt       int    `json:"attempt,omitempty"`      // the provisioner's delayed re-sends
	Table         string `json:"table,omitempty"`        // provisioned placement
	JobID         string `json:"jobId,omitempty"`        // backup and restore jobs
}

// Envelope is an EventBridge event as a rule target (SQS) receives it.
type Envelope struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
	Detail     Detail    `json:"detail"`
}

// ErrInvalidEvent is wrapped by every error of Parse and of validation.
var ErrInvalidEvent = errors.New("invalid event")

// Limits shared with the schemas.
const (
	maxCorrelationID = 128
	maxTenantName    = 100
	maxAdminEmail    = 254
	maxReason        = 1000
)

var (
	emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	tablePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
)

// field is one optional field of Detail.
type field uint8

const (
	fTenantName field = 1 << iota
	fAdminEmail
	fPreviousTier
	fReason
	fAttempt
	fTable
	fJobID
)

// contract says which optional fields a detail type requires and which it
// allows; the schemas in events/schemas say the same (a test checks).
// contract says which optional fields an event requires and allows; fleet
// events name no tenant.
type contract struct {
	required, allowed field
	fleet             bool
}

var contracts = map[DetailType]contract{
	TenantOnboardingRequested: {required: fTenantName | fAdminEmail, allowed: fTenantName | fAdminEmail},
	TenantProvisioned:         {required: fTable, allowed: fTable},
	TenantProvisioningFailed:  {required: fReason, allowed: fReason},
	TenantProvisioningCheck:   {required: fAttempt, allowed: fAttempt | fTenantName | fAdminEmail},
	TenantSuspended:           {required: fReason, allowed: fReason},
	TenantResumed:             {},
	// The provisioner re-sends a tier change or an offboarding request to
	// its own queue, with a delay and the re-send's attempt, when the work
	// must wait (another worker holds the tenant, a stack is being deleted).
	TenantTierChanged:          {required: fPreviousTier, allowed: fPreviousTier | fAttempt},
	TenantOffboardingRequested: {allowed: fReason | fAttempt},
	TenantOffboarded:           {},
	TenantOffboardingFailed:    {required: fReason, allowed: fReason},
	TenantBackupRequested:      {required: fJobID, allowed: fJobID | fAttempt},
	TenantRestoreRequested:     {required: fJobID, allowed: fJobID | fAttempt},
	TenantRestored:             {required: fJobID, allowed: fJobID},
	TenantRestoreFailed:        {required: fJobID | fReason, allowed: fJobID | fReason},
	TenantMigrated:             {required: fJobID | fTable, allowed: fJobID | fTable},
	TenantMigrationFailed:      {required: fJobID | fReason, allowed: fJobID | fReason},
	BackupsDue:                 {fleet: true},
}

// fieldNames are the JSON names of the optional fields.
var fieldNames = []struct {
	f    field
	name string
}{
	{fTenantName, "tenantName"}, {fAdminEmail, "adminEmail"}, {fPreviousTier, "previousTier"},
	{fReason, "reason"}, {fAttempt, "attempt"}, {fTable, "table"}, {fJobID, "jobId"},
}

// present lists the optional fields d sets.
func (d Detail) present() field {
	var f field
	set := func(ok bool, b field) {
		if ok {
			f |= b
		}
	}
	set(d.TenantName != "", fTenantName)
	set(d.AdminEmail != "", fAdminEmail)
	set(d.PreviousTier != "", fPreviousTier)
	set(d.Reason != "", fReason)
	set(d.Attempt != 0, fAttempt)
	set(d.Table != "", fTable)
	set(d.JobID != "", fJobID)
	return f
}

// Validate checks d against the contract of dt: the schema version, the
// fields every event carries, and the fields dt requires and allows. Its
// errors wrap ErrInvalidEvent.
func Validate(dt DetailType, d Detail) error {
	if err := validate(dt, d); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrInvalidEvent, dt, err)
	}
	return nil
}

func validate(dt DetailType, d Detail) error {
	c, ok := contracts[dt]
	if !ok {
		return errors.New("unknown detail-type")
	}
	switch {
	case d.SchemaVersion != SchemaVersion:
		return fmt.Errorf("unsupported schemaVersion %d (want %d)", d.SchemaVersion, SchemaVersion)
	case c.fleet && (d.TenantID != "" || d.Tier != ""):
		return errors.New("a fleet event names no tenant nor tier")
	case c.fleet && d.CorrelationID == "":
		return errors.New("correlationId is missing")
	case c.fleet:
	case d.TenantID == "":
		return errors.New("tenantId is missing")
	case !tenant.ValidID(d.TenantID):
		return fmt.Errorf("tenantId %q is not a tenant id", d.TenantID)
	case !catalog.Tier(d.Tier).Valid():
		return fmt.Errorf("tier %q is not basic, standard or premium", d.Tier)
	case d.CorrelationID == "":
		return errors.New("correlationId is missing")
	case utf8.RuneCountInString(d.CorrelationID) > maxCorrelationID:
		return fmt.Errorf("correlationId is longer than %d characters", maxCorrelationID)
	}
	has := d.present()
	for _, fn := range fieldNames {
		switch {
		case c.required&fn.f != 0 && has&fn.f == 0:
			return fmt.Errorf("%s is missing", fn.name)
		case c.allowed&fn.f == 0 && has&fn.f != 0:
			return fmt.Errorf("%s is not a field of this event", fn.name)
		}
	}
	switch {
	case utf8.RuneCountInString(d.TenantName) > maxTenantName:
		return fmt.Errorf("tenantName is longer than %d characters", maxTenantName)
	case d.AdminEmail != "" && (len(d.AdminEmail) > maxAdminEmail || !emailPattern.MatchString(d.AdminEmail)):
		return errors.New("adminEmail is not an email address")
	case d.PreviousTier != "" && !catalog.Tier(d.PreviousTier).Valid():
		return fmt.Errorf("previousTier %q is not basic, standard or premium", d.PreviousTier)
	case utf8.RuneCountInString(d.Reason) > maxReason:
		return fmt.Errorf("reason is longer than %d characters", maxReason)
	case d.Attempt < 0:
		return fmt.Errorf("attempt %d is negative", d.Attempt)
	case d.Table != "" && !tablePattern.MatchString(d.Table):
		return fmt.Errorf("table %q is not a table name", d.Table)
	case d.JobID != "" && !recovery.ValidJobID(d.JobID):
		return fmt.Errorf("jobId %q is not a job id", d.JobID)
	}
	return nil
}

// Parse reads an event as an EventBridge rule target receives it (the body
// of an SQS message). It is strict: the source must be Source, the
// detail-type one of ours, the schema version supported, and the detail
// must satisfy its type's contract with no fields beyond it. Every error
// wraps ErrInvalidEvent.
func Parse(body []byte) (Envelope, error) {
	var raw struct {
		Envelope
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Envelope{}, fmt.Errorf("%w: decode envelope: %w", ErrInvalidEvent, err)
	}
	env := raw.Envelope
	if env.Source != Source {
		return Envelope{}, fmt.Errorf("%w: source %q is not %s", ErrInvalidEvent, env.Source, Source)
	}
	dt := DetailType(env.DetailType)
	if !dt.Known() {
		return Envelope{}, fmt.Errorf("%w: unknown detail-type %q", ErrInvalidEvent, env.DetailType)
	}
	if len(raw.Detail) == 0 || bytes.Equal(raw.Detail, []byte("null")) {
		return Envelope{}, fmt.Errorf("%w: %s: detail is missing", ErrInvalidEvent, dt)
	}
	if err := json.Unmarshal(raw.Detail, &env.Detail); err != nil {
		return Envelope{}, fmt.Errorf("%w: %s: decode detail: %w", ErrInvalidEvent, dt, err)
	}
	// encoding/json matches names case-insensitively and ignores unknown
	// ones; the contract does neither.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw.Detail, &keys); err != nil {
		return Envelope{}, fmt.Errorf("%w: %s: decode detail: %w", ErrInvalidEvent, dt, err)
	}
	has := env.Detail.present()
	for k := range keys {
		if !allowedKey(dt, k) {
			return Envelope{}, fmt.Errorf("%w: %s: %q is not a field of this event", ErrInvalidEvent, dt, k)
		}
	}
	// An optional field that is sent is not empty (the schemas say
	// minLength 1 and minimum 1): "attempt": 0 is not "no attempt".
	for _, fn := range fieldNames {
		if _, sent := keys[fn.name]; sent && has&fn.f == 0 {
			return Envelope{}, fmt.Errorf("%w: %s: %s is empty", ErrInvalidEvent, dt, fn.name)
		}
	}
	if err := Validate(dt, env.Detail); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// allowedKey reports whether a detail of type dt may carry the JSON key k.
func allowedKey(dt DetailType, k string) bool {
	switch k {
	case "schemaVersion", "correlationId":
		return true
	case "tenantId", "tier":
		return !contracts[dt].fleet
	}
	for _, fn := range fieldNames {
		if fn.name == k {
			return contracts[dt].allowed&fn.f != 0
		}
	}
	return false
}
