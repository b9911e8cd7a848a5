// Command olr runs on the licensed machine: fingerprint, request, import,
// verify, status and demo. See internal/olrcli.
package main

import "github.com/olr-dev/olr/internal/olrcli"

func main() { olrcli.Main() }
