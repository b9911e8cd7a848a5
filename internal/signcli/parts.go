package signcli

import (
	"fmt"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/parts"
)

// joinParts turns the texts of a request's QR codes (olr request --qr,
// the License page), pasted in any order, back into the request file;
// any other input is returned as it is. It also returns the request ID
// the parts name ("" for a file), which the decrypted request must carry.
func joinParts(path string, data []byte) ([]byte, string, error) {
	if !parts.IsParts(data) {
		return data, "", nil
	}
	file, id, err := parts.Decode(data)
	if err != nil {
		return nil, "", cliutil.WithHint(fmt.Errorf("%s: %v", path, err), cliutil.ExitUsage,
			"give the texts of all the QR codes of one request, each once, in any order")
	}
	return file, id, nil
}

// checkPartsID refuses a request whose ID differs from the one its parts'
// headers named: parts whose headers were edited to pass as another
// request's.
func checkPartsID(path, partsID string, req *olr.Request) error {
	if partsID != "" && req.ID != partsID {
		return cliutil.Usagef("%s: the parts name request %s but hold request %s: the headers were altered", path, partsID, req.ID)
	}
	return nil
}
