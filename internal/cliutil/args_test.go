package cliutil

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	app := &cli.App{
		Name:  "x",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "v"}},
		Commands: []*cli.Command{{
			Name: "issue",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "identity", Aliases: []string{"i"}},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}},
				&cli.BoolFlag{Name: "json"},
			},
		}, {
			Name:        "keys",
			Subcommands: []*cli.Command{{Name: "show", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}}},
		}},
	}
	cases := []struct{ in, want []string }{
		{[]string{"x", "issue", "-i", "k", "req", "-o", "out"}, []string{"x", "issue", "-i", "k", "-o", "out", "req"}},
		{[]string{"x", "issue", "req", "--json", "-o=out"}, []string{"x", "issue", "--json", "-o=out", "req"}},
		{[]string{"x", "-v", "issue", "req", "-", "-o", "out"}, []string{"x", "-v", "issue", "-o", "out", "req", "-"}},
		{[]string{"x", "issue", "req", "--", "-o", "out"}, []string{"x", "issue", "req", "--", "-o", "out"}},
		{[]string{"x", "issue", "req", "--unknown"}, []string{"x", "issue", "req", "--unknown"}},
		{[]string{"x", "keys", "show", "KEY", "--json"}, []string{"x", "keys", "show", "--json", "KEY"}},
		{[]string{"x"}, []string{"x"}},
	}
	for _, c := range cases {
		if got := Interspersed(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("Interspersed(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
