// Package wire owns how the app-plane handler is assembled from its parts
// (configuration, clients, caches, store, crypto), once per process: at a
// Lambda cold start, in the local gateway, and in tests and benchmarks, so
// all of them run the same composition. It makes no AWS call.
package wire
