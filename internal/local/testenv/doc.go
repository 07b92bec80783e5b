// Package testenv is the one way integration tests reach a local AWS stack.
// It reuses the stack named by AWS_ENDPOINT_URL (LocalStack, or one that
// `make test` started) or starts the pinned emulators itself, then runs the
// idempotent bootstrap. When the emulators are not installed the tests skip
// with a loud reason, except in CI (CI=true), where that is a failure.
package testenv
