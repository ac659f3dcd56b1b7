package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Show writes the settings as a TOML settings file, secrets redacted, each
// key with its help as a comment. Keys that may not be in the file
// (ADMIN_PASSWORD) appear as a comment, and only when set.
func Show(c Config, w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Effective OMFLOW settings (defaults, file, environment and flags). Secrets are shown as " + SecretMask + ".\n")
	writeTOML(&b, c.Redacted(), true)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}

// writeTOML writes one line per key in table order.
func writeTOML(b *strings.Builder, c Config, help bool) {
	width := 0
	for _, k := range table {
		width = max(width, len(k.Name)+3+len(tomlValue(k, c)))
	}
	for _, k := range table {
		line := k.Name + " = " + tomlValue(k, c)
		if k.EnvOnly {
			if k.Value(c) == "" {
				continue
			}
			line = "# " + line
		}
		b.WriteString(line)
		if help {
			b.WriteString(strings.Repeat(" ", width-len(line)+2))
			b.WriteString("# " + k.Help)
			if k.EnvOnly {
				b.WriteString(" (set from " + k.EnvVar() + " or --" + k.FlagName() + ")")
			}
		}
		b.WriteString("\n")
	}
}

// tomlValue renders the key's value in c as a TOML value.
func tomlValue(k Key, c Config) string {
	if k.Kind == KindInt {
		return k.Value(c)
	}
	return quoteTOML(k.Value(c))
}

// quoteTOML returns s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Set writes KEY = value into the settings file at path. It checks the key
// and the value first, keeps every other line and comment (and a comment
// after the old value), appends the key when absent and creates the file
// when missing. The file is replaced atomically (temporary file + rename).
// Rules between keys are not checked here: run Validate on the result.
func Set(path, key, value string) error {
	k, ok := LookupKey(key)
	if !ok {
		return &UnknownKeyError{Key: key, Suggestion: suggestKey(key)}
	}
	if k.EnvOnly {
		return k.fieldError(value, fmt.Sprintf("cannot be written to the settings file; pass it with %s or --%s", k.EnvVar(), k.FlagName()))
	}
	c := Defaults()
	if err := k.set(&c, value); err != nil {
		return k.fieldError(value, err.Error())
	}
	if fe := k.check(&c); fe != nil {
		return fe
	}

	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved // edit the target, keep the link
	}
	mode := fs.FileMode(0o600) // a new file may hold DB_PASSWORD and CLUSTER_KEY
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return fmt.Errorf("read settings file: %w", err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}

	out, err := setLine(data, k.Name, k.Name+" = "+tomlValue(k, c))
	if err != nil {
		return fmt.Errorf("edit settings file %s: %w", path, err)
	}
	if err := checkEdit(data, out, k, c); err != nil {
		return fmt.Errorf("edit settings file %s: %w", path, err)
	}
	return writeAtomic(path, out, mode)
}

// setLine replaces the top-level "KEY = ..." line of data with newLine, or
// adds newLine before the first table header (at the end when there is none).
func setLine(data []byte, name, newLine string) ([]byte, error) {
	text := string(data)
	eol := "\n"
	if strings.Contains(text, "\r\n") {
		eol = "\r\n"
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	insertAt := len(lines)
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		ending := line[len(body):]
		s := strings.TrimLeft(body, " \t\ufeff")
		indent := body[:len(body)-len(s)]
		if strings.HasPrefix(s, "[") {
			insertAt = i
			break
		}
		piece, rest := firstKeyPiece(s)
		rest = strings.TrimLeft(rest, " \t")
		if piece != name || !strings.HasPrefix(rest, "=") {
			continue
		}
		comment, err := trailingComment(strings.TrimLeft(rest[1:], " \t"))
		if err != nil {
			return nil, fmt.Errorf("%s at line %d: %w", name, i+1, err)
		}
		lines[i] = indent + newLine + comment + ending
		return []byte(strings.Join(lines, "")), nil
	}
	added := newLine + eol
	if insertAt == len(lines) && insertAt > 0 && !strings.HasSuffix(lines[insertAt-1], "\n") {
		lines[insertAt-1] += eol
	}
	lines = append(lines[:insertAt], append([]string{added}, lines[insertAt:]...)...)
	return []byte(strings.Join(lines, "")), nil
}

// trailingComment skips the single-line TOML value at the start of v and
// returns what follows it when that is a comment (with its spacing), else "".
func trailingComment(v string) (string, error) {
	if strings.HasPrefix(v, `"""`) || strings.HasPrefix(v, "'''") {
		return "", errors.New("the old value is a multi-line string; edit this line by hand")
	}
	end := len(v)
	switch {
	case strings.HasPrefix(v, `"`):
		end = -1
		for i := 1; i < len(v); i++ {
			if v[i] == '\\' {
				i++
				continue
			}
			if v[i] == '"' {
				end = i + 1
				break
			}
		}
	case strings.HasPrefix(v, "'"):
		end = strings.IndexByte(v[1:], '\'')
		if end >= 0 {
			end += 2
		}
	default:
		if i := strings.IndexByte(v, '#'); i >= 0 {
			end = len(strings.TrimRight(v[:i], " \t"))
		}
	}
	if end < 0 {
		return "", errors.New("the old value has no closing quote; edit this line by hand")
	}
	rest := v[end:]
	if strings.HasPrefix(strings.TrimLeft(rest, " \t"), "#") {
		return rest, nil
	}
	return "", nil
}

// checkEdit makes sure the edit changed exactly one key: before and after
// must decode to the same TOML, except the key now holding the new value.
func checkEdit(before, after []byte, k Key, c Config) error {
	var old, updated map[string]any
	if _, err := toml.Decode(string(before), &old); err != nil {
		return fmt.Errorf("the file is not valid TOML, fix it by hand first: %w", err)
	}
	if _, err := toml.Decode(string(after), &updated); err != nil {
		return fmt.Errorf("the edit would break the file (%v); edit it by hand", err)
	}
	if old == nil {
		old = map[string]any{}
	}
	if k.Kind == KindInt {
		old[k.Name] = int64(*k.num(&c))
	} else {
		old[k.Name] = *k.str(&c)
	}
	if !reflect.DeepEqual(old, updated) {
		return fmt.Errorf("the edit would change more than %s; edit the file by hand", k.Name)
	}
	return nil
}

// writeAtomic replaces path with data: write a temporary file in the same
// directory, sync it, rename it over path.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write settings file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write settings file: %w", err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write settings file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write settings file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write settings file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replace settings file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return nil
}
