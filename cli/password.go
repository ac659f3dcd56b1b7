package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// password returns the password for `user add` and `user passwd`: the
// --password flag, else $OMFLOW_USER_PASSWORD, else standard input — one
// line from a pipe, or asked twice without echo on a terminal. It is never
// printed.
func (a *app) password(c *ucli.Context) (string, error) {
	if v, ok := localFlag(c, "password"); ok {
		return nonEmpty(c, v, "--password")
	}
	if v, ok := a.deps.LookupEnv("OMFLOW_USER_PASSWORD"); ok {
		return nonEmpty(c, v, "$OMFLOW_USER_PASSWORD")
	}
	if f, ok := c.App.Reader.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return askTwice(c, int(f.Fd()))
	}
	line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return nonEmpty(c, strings.TrimRight(line, "\r\n"), "standard input")
}

func nonEmpty(c *ucli.Context, pw, from string) (string, error) {
	if pw == "" {
		return "", usageErrorf("%sthe password from %s is empty; give it with --password, $OMFLOW_USER_PASSWORD or on standard input", label(c), from)
	}
	return pw, nil
}

func askTwice(c *ucli.Context, fd int) (string, error) {
	read := func(prompt string) (string, error) {
		fmt.Fprint(c.App.ErrWriter, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return "", fmt.Errorf("read password from terminal: %w", err)
		}
		return string(b), nil
	}
	first, err := read("Password: ")
	if err != nil {
		return "", err
	}
	second, err := read("Repeat password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", usageErrorf("%sthe two passwords differ", label(c))
	}
	return nonEmpty(c, first, "the terminal")
}
