// Package local is the local stack, the stand-in for AWS when there is no
// account: the emulators (emulator), API Gateway (gateway, throttle),
// Lambda's SQS event source mapping (pump), the resources the CDK stacks
// would create (bootstrap), demo tenants (seed) and the integration tests'
// way in (testenv, testenv/fixture). It has no code of its own.
//
// Its packages may import every other plane — the platform, the app and the
// control plane, and internal/wire, whose composition it runs — but nothing
// deployed imports them: not the platform, app, control or wire, and no
// Lambda under functions/ links one, directly or not. Outside the local
// stack only cmd/ and tests use it. internal/arch checks these rules.
package local
