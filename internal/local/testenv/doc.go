// Package testenv is the one way integration tests reach a local AWS stack.
// It reuses the stack named by AWS_ENDPOINT_URL (LocalStack in Docker, or
// one started by hand) or starts the pinned emulators itself, one stack per
// test binary, then runs the idempotent bootstrap. TESSERA_EMULATOR picks
// the engine: moto (moto server and local-kms, the default) or localstack
// (LocalStack's runtime without Docker); `make test` runs the suite on both.
// When the emulators are not installed the tests skip with a loud reason,
// except in CI (CI=true), where that is a failure.
package testenv
