// This comment is not a package comment: a blank line parts it from the
// package clause (planted: package-doc).

package z
