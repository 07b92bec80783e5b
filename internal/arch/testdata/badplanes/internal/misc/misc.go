// Package misc is in no plane (planted: in-a-plane) and has no doc.go
// (planted: package-doc).
package misc
