package olrcli

import (
	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
)

// withCompletion adds olr completion SHELL and olr man, generated from
// app's own commands, and the completion protocol their scripts use.
func withCompletion(app *cli.App) *cli.App {
	cliutil.EnableCompletion(app)
	return app
}
