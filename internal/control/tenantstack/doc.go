// Package tenantstack holds the CloudFormation template of TenantStack, the
// dedicated DynamoDB table of one premium tenant, as synthesized by the CDK
// app in infra/ and checked in beside this file. The provisioner creates one
// stack per premium tenant from it (CreateStack with the parameters named
// here) and reads the table from the stack's outputs.
//
// Regenerate the template after changing infra/tenantstack.go with
// `make synth` (which runs `go run -C infra . -write-tenant-template
// internal/control/tenantstack/TenantStack.template.json`); a test in infra/ fails
// while the checked-in copy differs from a fresh synth.
//
// See https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
package tenantstack
