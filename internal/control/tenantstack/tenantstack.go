package tenantstack

import (
	"bytes"
	_ "embed"
)

// Names of the template's parameters and outputs.
const (
	// ParamStage is the deployment's stage and ParamTenantID the tenant id;
	// the table is named "tessera-<Stage>-tenant-<TenantId>"
	// (access.DedicatedTable) and tagged tenantId and stage.
	ParamStage    = "Stage"
	ParamTenantID = "TenantId"
	// ParamKeyArn is the ARN of the tenant's customer managed KMS key, which
	// the provisioner creates through the KMS API before the stack.
	ParamKeyArn = "KeyArn"
	// ParamChangeFeedFunctionArn is the ARN of the changefeed function, which
	// then consumes the table's stream (an event source mapping, with
	// ParamChangeFeedDLQArn as its on-failure destination). Empty, the
	// default, leaves the mapping out (an emulator that cannot run Lambda);
	// when it is set, ParamChangeFeedDLQArn must be too (a rule of the
	// template, RuleChangeFeedNeedsDLQ, refuses the stack otherwise).
	ParamChangeFeedFunctionArn = "ChangeFeedFunctionArn"
	ParamChangeFeedDLQArn      = "ChangeFeedDLQArn"
	// ConditionChangeFeed is the template's condition that the mapping is
	// created under: neither parameter is empty.
	ConditionChangeFeed = "ChangeFeedEnabled"
	// RuleChangeFeedNeedsDLQ is the template's rule that a function ARN
	// comes with a dead-letter queue ARN.
	RuleChangeFeedNeedsDLQ = "ChangeFeedNeedsDLQ"
	// OutputTableName and OutputTableArn name the dedicated table.
	OutputTableName = "TableName"
	OutputTableArn  = "TableArn"
)

// TenantIDPattern is the AllowedPattern of ParamTenantID: generated,
// lowercase tenant ids, which can never contain '#', '*' or '?'.
const TenantIDPattern = `^[a-z0-9][a-z0-9-]{1,62}$`

// StagePattern is the AllowedPattern of ParamStage: infra's stage names
// (lowercase letters and digits, no '-', so that no stage's table prefix is
// another's).
const StagePattern = `^[a-z][a-z0-9]{0,11}$`

//go:embed TenantStack.template.json
var template []byte

// Template returns a copy of the synthesized TenantStack template (JSON).
func Template() []byte { return bytes.Clone(template) }

// TemplateBody returns the template as CloudFormation's TemplateBody.
func TemplateBody() string { return string(template) }
