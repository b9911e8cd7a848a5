package tpmbind

import (
	"encoding/pem"
	"errors"
)

// nextPEM returns the next CERTIFICATE block's bytes; nil at the end.
// Text between blocks (comments, as CA bundles have) is skipped; a block
// of another type is an error, so that a key is never taken for a root.
func nextPEM(data []byte) (der, rest []byte, err error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, nil, nil
	}
	if b.Type != "CERTIFICATE" {
		return nil, nil, errors.New("a PEM block of type " + b.Type + " where certificates were expected")
	}
	return b.Bytes, rest, nil
}
