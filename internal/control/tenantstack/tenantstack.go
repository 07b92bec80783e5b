package tenantstack

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
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
	// OutputTemplateVersion is the version of the template the stack runs
	// (Version, when the stack was made or last updated from this copy).
	// An output, not only a tag: CloudFormation's rollback restores it with
	// the resources, and DescribeStacks shows it.
	OutputTemplateVersion = "TemplateVersion"
)

// Where the template and its stacks record the template's version.
const (
	// MetadataKey and MetadataVersionField: the template's Metadata holds
	// {"Tessera": {"TemplateVersion": "2"}}.
	MetadataKey          = "Tessera"
	MetadataVersionField = "TemplateVersion"
	// FirstVersion is the version of the stacks made before the template
	// recorded one: no metadata, no TemplateVersion output, no tag.
	FirstVersion = "1"
)

// VersionPattern is the form of a template version: a positive integer,
// so that versions compare and a ClientRequestToken can carry them.
const VersionPattern = `^[1-9][0-9]{0,5}$`

// TenantIDPattern is the AllowedPattern of ParamTenantID: generated,
// lowercase tenant ids, which can never contain '#', '*' or '?'.
const TenantIDPattern = `^[a-z0-9][a-z0-9-]{1,62}$`

// StagePattern is the AllowedPattern of ParamStage: infra's stage names
// (lowercase letters and digits, no '-', so that no stage's table prefix is
// another's).
const StagePattern = `^[a-z][a-z0-9]{0,11}$`

//go:embed TenantStack.template.json
var template []byte

// previous is the template of the version before (a copy of
// TenantStack.template.json made before the last bump): the stacks of the
// dedicated tenants that a rollout has not reached yet run it. Tests and
// the benchmark make stacks on it to update them.
//
//go:embed TenantStack.previous.template.json
var previous []byte

// The embedded templates' versions, read once. Not at init: `make synth`
// must run (infra imports this package) while the checked-in template is
// stale.
var (
	version         = sync.OnceValue(func() string { return mustVersion("TenantStack.template.json", template, false) })
	previousVersion = sync.OnceValue(func() string { return mustVersion("TenantStack.previous.template.json", previous, true) })
)

// Template returns a copy of the synthesized TenantStack template (JSON).
func Template() []byte { return bytes.Clone(template) }

// TemplateBody returns the template as CloudFormation's TemplateBody.
func TemplateBody() string { return string(template) }

// Version is the version of Template, from its Metadata.
//
// It panics when the checked-in template records no valid version (a
// build defect that TestVersions reports first).
func Version() string { return version() }

// PreviousTemplate returns a copy of the template of the version before
// Version: what the stacks a rollout has not reached yet run.
func PreviousTemplate() []byte { return bytes.Clone(previous) }

// PreviousTemplateBody returns PreviousTemplate as a TemplateBody.
func PreviousTemplateBody() string { return string(previous) }

// PreviousVersion is the version of PreviousTemplate (FirstVersion when it
// records none).
func PreviousVersion() string { return previousVersion() }

// ErrNoVersion: a template records no version in its Metadata.
var ErrNoVersion = errors.New("tenantstack: the template records no version")

var versionRe = regexp.MustCompile(VersionPattern)

// VersionOf reads the version a template body records in its Metadata and
// checks that its TemplateVersion output says the same. A template without
// one answers ErrNoVersion (the stacks of FirstVersion).
func VersionOf(body []byte) (string, error) {
	var tmpl struct {
		Metadata map[string]map[string]any
		Outputs  map[string]struct{ Value any }
	}
	if err := json.Unmarshal(body, &tmpl); err != nil {
		return "", fmt.Errorf("tenantstack: parse template: %w", err)
	}
	raw, ok := tmpl.Metadata[MetadataKey][MetadataVersionField]
	if !ok {
		return "", ErrNoVersion
	}
	v, _ := raw.(string)
	if !versionRe.MatchString(v) {
		return "", fmt.Errorf("tenantstack: template version %v (Metadata %s.%s) does not match %s", raw, MetadataKey, MetadataVersionField, VersionPattern)
	}
	if out, _ := tmpl.Outputs[OutputTemplateVersion].Value.(string); out != v {
		return "", fmt.Errorf("tenantstack: template version %s, but its %s output says %v", v, OutputTemplateVersion, tmpl.Outputs[OutputTemplateVersion].Value)
	}
	return v, nil
}

// mustVersion is VersionOf for the embedded templates: a template that
// records no valid version is a build defect, unless it may predate
// versions (the previous template, when it is FirstVersion's).
func mustVersion(name string, body []byte, mayPredate bool) string {
	v, err := VersionOf(body)
	if errors.Is(err, ErrNoVersion) && mayPredate {
		return FirstVersion
	}
	if err != nil {
		panic(fmt.Sprintf("%s: %v; regenerate it with `make synth`", name, err))
	}
	return v
}
