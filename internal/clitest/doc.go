// Package clitest tests the olr and olr-sign commands through their real
// binaries: testscript scripts in testdata/script drive whole activations
// against the sysfs fixture trees of fingerprint/host/testdata, and Go
// tests sweep every byte of a license through olr verify.
//
// The package has no code of its own; this file only documents it.
package clitest
