package tenantstack

import (
	"bytes"
	_ "embed"
)

// Names of the template's parameters and outputs.
const (
	// ParamTenantID is the tenant id; the table is named
	// "tessera-tenant-<TenantId>".
	ParamTenantID = "TenantId"
	// ParamKeyArn is the ARN of the tenant's customer managed KMS key, which
	// the provisioner creates through the KMS API before the stack.
	ParamKeyArn = "KeyArn"
	// OutputTableName and OutputTableArn name the dedicated table.
	OutputTableName = "TableName"
	OutputTableArn  = "TableArn"
)

// TenantIDPattern is the AllowedPattern of ParamTenantID: generated,
// lowercase tenant ids, which can never contain '#', '*' or '?'.
const TenantIDPattern = `^[a-z0-9][a-z0-9-]{1,62}$`

//go:embed TenantStack.template.json
var template []byte

// Template returns a copy of the synthesized TenantStack template (JSON).
func Template() []byte { return bytes.Clone(template) }

// TemplateBody returns the template as CloudFormation's TemplateBody.
func TemplateBody() string { return string(template) }
