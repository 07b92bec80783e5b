// Package iamsim runs IAM authorization requests through the test-only
// policy simulator in tools/iamsim (@cloud-copilot/iam-simulate, run by
// simulate.mjs in a node process), for the policy tests of
// internal/platform/access and of the CDK app in infra/. No product code
// imports it: the simulator is AGPL and never shipped.
//
// See https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
package iamsim
