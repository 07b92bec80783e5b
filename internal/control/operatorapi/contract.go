package operatorapi

import (
	"net/http"
	"slices"

	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TenantIDSchema is the schema of a tenant id in a path (tenant.ValidID).
var TenantIDSchema = apidoc.StringSchema("^[a-z0-9][a-z0-9-]{1,62}$", 2, 63)

// Contract is what the operator routes read and answer, for the API's
// OpenAPI document (internal/wire/openapi).
func Contract() apidoc.Contract {
	c := apidoc.NewContract()
	idParam := map[string]*apidoc.Schema{"id": TenantIDSchema}
	correlation := apidoc.Param{In: "header", Name: "X-Correlation-Id",
		Description: "carried by the events the change publishes (at most 128 characters; else API Gateway's request id)",
		Schema:      &apidoc.Schema{Type: apidoc.Types{"string"}}}
	notFound := apidoc.Fail(http.StatusNotFound, edge.CodeNotFound)
	invalidID := apidoc.Fail(http.StatusBadRequest, edge.CodeInvalidID)
	invalidState := apidoc.Fail(http.StatusConflict, edge.CodeInvalidState)
	lifecycle := func() []apidoc.Link {
		var ls []apidoc.Link
		for _, r := range []string{"GetTenant", "ChangeTenantTier", "SuspendTenant", "ResumeTenant", "OffboardTenant"} {
			ls = append(ls, apidoc.Link{Name: r, Operation: r, Parameters: map[string]string{"path.id": "$response.body#/tenantId"}})
		}
		return ls
	}
	tenantAnswer := func(status int, desc string) apidoc.Response {
		return apidoc.Response{Status: status, Description: desc, Body: catalog.Record{}, Links: lifecycle()}
	}

	c.Operations["ListTenants"] = apidoc.Operation{Summary: "List the tenants",
		Params: apidoc.PageParams, Errors: apidoc.PageErrors,
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of tenants", Body: store.Page[catalog.Record]{}}}}
	c.Operations["CreateTenant"] = apidoc.Operation{Summary: "Onboard a tenant",
		Description: "Records the tenant as PROVISIONING and asks the provisioner to build it; poll GET /v1/tenants/{id} until ACTIVE or FAILED.",
		Body:        createTenant{},
		Params: []apidoc.Param{{In: "header", Name: "Idempotency-Key",
			Description: "the operator's own key: the same request with the same key within 24 hours answers the same tenant (200)",
			Schema:      &apidoc.Schema{Type: apidoc.Types{"string"}, MaxLength: ptr(MaxIdempotencyKeyLen), Pattern: "^[^#\\x00]*$"}},
			correlation},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusConflict, edge.CodeIdempotencyMismatch),
			apidoc.Fail(http.StatusConflict, edge.CodeTenantExists)}),
		Responses: []apidoc.Response{
			tenantAnswer(http.StatusOK, "replayed: this Idempotency-Key created this tenant"),
			tenantAnswer(http.StatusAccepted, "recorded as PROVISIONING; the provisioner builds it"),
		}}
	c.Operations["GetTenant"] = apidoc.Operation{Summary: "Read a tenant", PathParams: idParam,
		Errors:    []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant")}}
	c.Operations["ChangeTenantTier"] = apidoc.Operation{Summary: "Change an ACTIVE or SUSPENDED tenant's tier", PathParams: idParam,
		Body: tierBody{}, Params: []apidoc.Param{correlation},
		Errors:    apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant with its new tier (unchanged if it had it)")}}
	c.Operations["SuspendTenant"] = apidoc.Operation{Summary: "Suspend an ACTIVE tenant", PathParams: idParam,
		Body: reasonBody{}, BodyOptional: true, Params: []apidoc.Param{correlation},
		Errors:    apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant, SUSPENDED")}}
	c.Operations["ResumeTenant"] = apidoc.Operation{Summary: "Resume a SUSPENDED tenant", PathParams: idParam,
		Params:    []apidoc.Param{correlation},
		Errors:    []apidoc.Failure{invalidID, notFound, invalidState},
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant, ACTIVE")}}
	c.Operations["OffboardTenant"] = apidoc.Operation{Summary: "Offboard a tenant: its data and key are destroyed", PathParams: idParam,
		Body: reasonBody{}, BodyOptional: true, Params: []apidoc.Param{correlation},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{
			tenantAnswer(http.StatusOK, "offboarding or offboarded already"),
			tenantAnswer(http.StatusAccepted, "OFFBOARDING: the provisioner finishes it"),
		}}

	backupsContract(c, idParam, correlation, invalidID, notFound, invalidState)
	flagsContract(c, invalidID, notFound)

	apidoc.Enum(c.Enums, plan.Tiers...)
	apidoc.Enum(c.Enums, catalog.StatusProvisioning, catalog.StatusActive, catalog.StatusSuspended,
		catalog.StatusOffboarding, catalog.StatusOffboarded, catalog.StatusFailed, catalog.StatusOffboardFailed, catalog.StatusRestoring,
		catalog.StatusMigrating)
	apidoc.Name[catalog.Record](c.Names, "Tenant")
	apidoc.Name[catalog.Status](c.Names, "TenantStatus")
	apidoc.Name[createTenant](c.Names, "TenantInput")
	apidoc.Name[tierBody](c.Names, "TierChange")
	apidoc.Name[reasonBody](c.Names, "Reason")

	f := c.Fields
	apidoc.AddField[createTenant](f, "name", apidoc.Pattern(`\S`), apidoc.MaxLength(MaxTenantNameLen))
	apidoc.AddField[createTenant](f, "adminEmail", apidoc.Format("email"), apidoc.MaxLength(directory.MaxEmailLength))
	apidoc.AddField[createTenant](f, "tenantId", apidoc.Pattern("^t-[0-9a-hjkmnp-tv-z]{26}$"),
		apidoc.Describe("set by the cell router, which chooses the id before it places the tenant; omit it to let the cell choose"))
	apidoc.AddField[reasonBody](f, "reason", apidoc.MaxLength(MaxReasonLen))
	return c
}

func ptr[T any](v T) *T { return &v }

// JobIDSchema is the schema of a job id in a path (recovery.ValidJobID).
var JobIDSchema = apidoc.StringSchema("^j-[0-9a-z]{26}$", 28, 28)

// backupsContract adds the backup, restore and job routes to c.
func backupsContract(c apidoc.Contract, idParam map[string]*apidoc.Schema, correlation apidoc.Param, invalidID, notFound, invalidState apidoc.Failure) {
	notConfigured := apidoc.Fail(http.StatusNotImplemented, edge.CodeNotConfigured)
	jobRunning := apidoc.Fail(http.StatusConflict, edge.CodeJobRunning)
	jobLinks := []apidoc.Link{{Name: "GetTenantJob", Operation: "GetTenantJob",
		Parameters: map[string]string{"path.id": "$response.body#/tenantId", "path.jobId": "$response.body#/jobId"}}}
	jobAnswer := func(status int, desc string) apidoc.Response {
		return apidoc.Response{Status: status, Description: desc, Body: recovery.Job{}, Links: jobLinks}
	}

	c.Operations["BackupTenant"] = apidoc.Operation{Summary: "Back up an ACTIVE tenant now",
		Description: "Records a backup job and asks the engine to run it: a snapshot of all the tenant's items, written to the backup bucket " +
			"under the tenant's prefix and key. Poll GET /v1/tenants/{id}/jobs/{jobId} until it ends.",
		PathParams: idParam, Params: []apidoc.Param{correlation},
		Errors:    []apidoc.Failure{invalidID, notFound, invalidState, jobRunning, notConfigured},
		Responses: []apidoc.Response{jobAnswer(http.StatusAccepted, "the backup job, QUEUED")}}
	c.Operations["ListTenantBackups"] = apidoc.Operation{Summary: "List a tenant's backups, oldest first",
		Description: "Each backup (snapshot) with its item count, checksum, the counts and checksums of its partitions, and its parts.",
		PathParams:  idParam,
		Errors:      []apidoc.Failure{invalidID, notFound, notConfigured},
		Responses:   []apidoc.Response{{Status: http.StatusOK, Description: "the tenant's complete backups", Body: snapshotList{}}}}
	c.Operations["RestoreTenant"] = apidoc.Operation{Summary: "Restore an ACTIVE tenant to a point in time",
		Description: "Records a restore job: from the newest backup completed before `to`, replaying the tenant's change log up to `to`. " +
			"In place, the tenant is read-only (RESTORING) until the job ends, and its items become exactly those it had at that time; " +
			"with intoNewTenant, a new tenant of that name receives them and the tenant is left as it is. " +
			"Poll GET /v1/tenants/{id}/jobs/{jobId} until it ends SUCCEEDED, FAILED or ROLLED_BACK.",
		PathParams: idParam, Body: restoreBody{}, Params: []apidoc.Param{correlation},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState, jobRunning,
			apidoc.Fail(http.StatusConflict, edge.CodeNoBackup), notConfigured}),
		Responses: []apidoc.Response{jobAnswer(http.StatusAccepted, "the restore job, QUEUED")}}
	c.Operations["ListTenantJobs"] = apidoc.Operation{Summary: "List a tenant's backup and restore jobs, oldest first",
		PathParams: idParam,
		Errors:     []apidoc.Failure{invalidID, notFound, notConfigured},
		Responses:  []apidoc.Response{{Status: http.StatusOK, Description: "the tenant's jobs", Body: jobList{}}}}
	c.Operations["ListTenantAudit"] = apidoc.Operation{Summary: "List a tenant's audit trail, oldest first",
		Description: "Every state-changing request on the tenant (its users' and the operators') and the background steps on it; " +
			"kept for the retention of the tenant's tier, after its offboarding too. The id _deployment reads the trail of the operator requests that name no tenant (flag definitions).",
		PathParams: idParam, Params: append(slices.Clip(apidoc.TimeRangeParams), apidoc.PageParams...),
		Errors:    apidoc.Join([]apidoc.Failure{invalidID}, apidoc.TimeRangeErrors, apidoc.PageErrors),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of audit entries", Body: store.Page[store.AuditEntry]{}}}}
	c.Operations["GetTenantJob"] = apidoc.Operation{Summary: "Read a backup or restore job: its state, phase and progress",
		PathParams: map[string]*apidoc.Schema{"id": TenantIDSchema, "jobId": JobIDSchema},
		Errors:     []apidoc.Failure{invalidID, notFound, notConfigured},
		Responses:  []apidoc.Response{jobAnswer(http.StatusOK, "the job")}}

	apidoc.Enum(c.Enums, recovery.KindBackup, recovery.KindRestore, recovery.KindMigration)
	apidoc.Enum(c.Enums, recovery.StateQueued, recovery.StateRunning, recovery.StateSucceeded, recovery.StateFailed, recovery.StateRolledBack)
	apidoc.Enum(c.Enums, recovery.PhaseQueued, recovery.PhaseSnapshot, recovery.PhaseClone, recovery.PhaseFence, recovery.PhaseDrain,
		recovery.PhaseSafety, recovery.PhaseApply, recovery.PhaseVerify, recovery.PhaseRollback, recovery.PhaseDone,
		recovery.PhasePrepare, recovery.PhaseCopy, recovery.PhaseCatchUp, recovery.PhaseFinal, recovery.PhaseCutover)
	apidoc.Enum(c.Enums, recovery.TriggerSchedule, recovery.TriggerOperator, recovery.TriggerPreRestore)
	apidoc.Name[recovery.Job](c.Names, "Job")
	apidoc.Name[recovery.Snapshot](c.Names, "Backup")
	apidoc.Name[recovery.Part](c.Names, "BackupPart")
	apidoc.Name[recovery.Partition](c.Names, "BackupPartition")
	apidoc.Name[recovery.Kind](c.Names, "JobKind")
	apidoc.Name[recovery.State](c.Names, "JobState")
	apidoc.Name[recovery.Phase](c.Names, "JobPhase")
	apidoc.Name[recovery.Trigger](c.Names, "BackupTrigger")
	apidoc.Name[restoreBody](c.Names, "RestoreRequest")
	apidoc.Name[snapshotList](c.Names, "BackupList")
	apidoc.Name[jobList](c.Names, "JobList")
	apidoc.Name[store.AuditEntry](c.Names, "AuditEntry")
	apidoc.Enum(c.Enums, audit.User, audit.Operator, audit.System)

	f := c.Fields
	apidoc.AddField[restoreBody](f, "to", apidoc.Format("date-time"),
		apidoc.Describe("the time to restore to (RFC 3339): in the past, and after a backup was completed"))
	apidoc.AddField[restoreBody](f, "intoNewTenant", apidoc.Pattern(`\S`), apidoc.MaxLength(MaxTenantNameLen),
		apidoc.Describe("restore into a new tenant of this name (a clone) instead of in place"))
}

// FlagNameSchema is the schema of a flag name in a path.
var FlagNameSchema = apidoc.StringSchema(features.NamePattern, 1, 63)

// flagsContract adds the feature flag routes to c.
func flagsContract(c apidoc.Contract, invalidID, notFound apidoc.Failure) {
	nameParam := map[string]*apidoc.Schema{"name": FlagNameSchema}
	c.Operations["ListFlags"] = apidoc.Operation{Summary: "List the feature flag definitions in force",
		Description: "The built-in definitions (version 0) and the stored ones, which replace the built-in of their name.",
		Responses:   []apidoc.Response{{Status: http.StatusOK, Description: "every flag", Body: flagList{}}}}
	c.Operations["PutFlag"] = apidoc.Operation{Summary: "Define a feature flag, given the version last read",
		Description: "Values are of the flag's kind. Precedence for a tenant: its override, then the rollout " +
			"(the tenants whose hash of flag name and tenant id falls under percent), then its tier's value, then the default. " +
			"Functions see the change within the catalog TTL.",
		PathParams: nameParam, Body: flagBody{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusConflict, edge.CodeVersionConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the definition, its version one higher", Body: features.Flag{},
			Links: []apidoc.Link{{Name: "ListFlags", Operation: "ListFlags"}}}}}
	c.Operations["PutTenantFlag"] = apidoc.Operation{Summary: "Set or clear a tenant's override of a flag",
		Description: "value is of the flag's kind; null removes the override. Recorded in the tenant's audit trail.",
		PathParams:  map[string]*apidoc.Schema{"id": TenantIDSchema, "name": FlagNameSchema}, Body: overrideBody{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound,
			apidoc.Fail(http.StatusBadRequest, edge.CodeUnknownFlag), apidoc.Fail(http.StatusConflict, edge.CodeVersionConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the tenant, with its overrides", Body: catalog.Record{},
			Links: []apidoc.Link{{Name: "GetTenant", Operation: "GetTenant", Parameters: map[string]string{"path.id": "$response.body#/tenantId"}}}}}}
	apidoc.Enum(c.Enums, features.KindBoolean, features.KindInteger, features.KindString)
	apidoc.Name[features.Flag](c.Names, "Flag")
	apidoc.Name[features.Rollout](c.Names, "Rollout")
	apidoc.Name[features.Kind](c.Names, "FlagKind")
	apidoc.Name[flagList](c.Names, "FlagList")
	apidoc.Name[flagBody](c.Names, "FlagInput")
	apidoc.Name[overrideBody](c.Names, "FlagOverride")
	f := c.Fields
	apidoc.AddField[features.Rollout](f, "percent", apidoc.Range(0, 100))
	apidoc.AddField[flagBody](f, "description", apidoc.MaxLength(features.MaxDescriptionLen))
}
