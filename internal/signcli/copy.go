package signcli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/signer/ledger"
)

// ledgerCopyCommand is olr-sign ledger copy: move a ledger from one
// engine to another (a file to a team's PostgreSQL database, or back).
func ledgerCopyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy a whole ledger, audit log included, into an empty one, and verify the copy",
		ArgsUsage: "FROM TO",
		Description: "FROM and TO are each an SQLite file or a postgres:// URL. TO must be new or empty:\n" +
			"a ledger that holds anything is refused. The copy keeps every row and every audit hash,\n" +
			"so anchors noted on FROM hold on TO; it is verified before it is committed.",
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return cliutil.BadArgs(c, "ledger copy takes two ledgers, FROM and TO")
			}
			from, to := c.Args().Get(0), c.Args().Get(1)
			newFile := false
			if !ledger.IsPostgresURL(to) {
				_, err := os.Stat(to)
				newFile = errors.Is(err, fs.ErrNotExist)
			}
			src, err := openLedgerPath(from, readLedger)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := openLedgerPath(to, writeOrCreateLedger)
			if err != nil {
				return err
			}
			res, err := ledger.Copy(c.Context, dst, src)
			dst.Close()
			if err != nil {
				if newFile {
					// Leave nothing behind that a later command could take
					// for a ledger.
					for _, suffix := range []string{"", "-wal", "-shm"} {
						os.Remove(to + suffix)
					}
				}
				if errors.Is(err, ledger.ErrNotEmpty) {
					return cliutil.Refusedf("%s: %v; copy into a new file or an empty database", dst.Path(), err)
				}
				return cliutil.Refusedf("copying %s to %s: %v", src.Path(), dst.Path(), err)
			}
			fmt.Printf("copied %s to %s: %d keys, %d licenses, %d activations, %d transfers, %d revocations, %d audit records; verified, head %d %x\n",
				src.Path(), dst.Path(), res.Rows["sold_keys"], res.Rows["issued_licenses"], res.Rows["activations"],
				res.Rows["transfers"], res.Rows["revocations"], res.Rows["audit"], res.Head.Seq, res.Head.Hash)
			return nil
		},
	}
}
