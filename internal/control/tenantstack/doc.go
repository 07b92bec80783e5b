// Package tenantstack holds the CloudFormation template of TenantStack, the
// dedicated DynamoDB table of one premium tenant, as synthesized by the CDK
// app in infra/ and checked in beside this file. The provisioner creates one
// stack per premium tenant from it (CreateStack with the parameters named
// here) and reads the table from the stack's outputs; the fleet runner
// moves every tenant's stack to a new version of it (UpdateStack,
// provision.Tables.Update).
//
// Regenerate the template after changing infra/tenantstack.go with
// `make synth` (which runs `go run -C infra . -write-tenant-template
// internal/control/tenantstack/TenantStack.template.json`); a test in infra/ fails
// while the checked-in copy differs from a fresh synth.
//
// The template records its version (Version) in its Metadata and in its
// TemplateVersion output; stacks made before that run FirstVersion. To
// change the template: copy TenantStack.template.json over
// TenantStack.previous.template.json (the version the stacks that a
// rollout has not reached yet run, and the one the tests update from),
// bump infra's tenantStackVersion, change the stack, and `make synth`.
//
// See https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
package tenantstack
