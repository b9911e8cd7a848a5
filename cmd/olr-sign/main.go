// Command olr-sign runs at the vendor: keygen, inspect and issue. See
// internal/signcli.
package main

import "github.com/olr-dev/olr/internal/signcli"

func main() { signcli.Main() }
