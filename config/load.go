package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// LoadOptions says where the layers above the defaults come from.
type LoadOptions struct {
	// Path of the settings file. Empty means no file (defaults, environment
	// and flags only); a path that does not exist is an error.
	Path string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// Flags holds the values given on the command line, by key name
	// ("HTTP_PORT" → "9090"). Only flags the user actually set belong here.
	Flags map[string]string
	// Hostname gives the default NODE_NAME; nil means os.Hostname.
	Hostname func() (string, error)
}

// Load builds the effective settings: defaults, then the file, then the
// environment (OMFLOW_<KEY>), then the flags. It reports every unknown key
// and badly typed value it finds; it does not run Validate.
func Load(opts LoadOptions) (Config, error) {
	c := Defaults()
	if opts.Path != "" {
		data, err := os.ReadFile(opts.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return Config{}, fmt.Errorf("settings file %s does not exist: create it (omflow config set --config %s KEY VALUE) or pass another --config", opts.Path, opts.Path)
		}
		if err != nil {
			return Config{}, fmt.Errorf("read settings file: %w", err)
		}
		if err := applyFile(&c, data); err != nil {
			return Config{}, fmt.Errorf("settings file %s: %w", opts.Path, err)
		}
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := applyEnv(&c, lookup); err != nil {
		return Config{}, err
	}
	if err := applyFlags(&c, opts.Flags); err != nil {
		return Config{}, err
	}
	hostname := opts.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	resolve(&c, hostname)
	return c, nil
}

// applyFile decodes a settings file onto c. All problems are returned
// together, in line order.
func applyFile(c *Config, data []byte) error {
	var raw map[string]toml.Primitive
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return fmt.Errorf("not valid TOML: %w", err)
	}
	lineOf := keyLines(strings.Split(string(data), "\n"))
	type lineErr struct {
		line int
		err  error
	}
	var errs []lineErr
	for i := range table {
		k := &table[i]
		prim, ok := raw[k.Name]
		if !ok {
			continue
		}
		var v any
		if err := md.PrimitiveDecode(prim, &v); err != nil {
			return fmt.Errorf("decode %s: %w", k.Name, err)
		}
		line := lineOf[k.Name]
		source := ""
		if line > 0 {
			source = "line " + strconv.Itoa(line)
		}
		if k.EnvOnly {
			fe := k.fieldError(tomlText(v), fmt.Sprintf("cannot be set in the settings file; pass it with %s or --%s", k.EnvVar(), k.FlagName()))
			fe.Source = source
			errs = append(errs, lineErr{line, fe})
			continue
		}
		if err := k.setTOML(c, v); err != nil {
			fe := k.fieldError(tomlText(v), fmt.Sprintf("is a TOML %s; %v", strings.ToLower(md.Type(k.Name)), err))
			fe.Source = source
			errs = append(errs, lineErr{line, fe})
		}
	}
	// Unknown keys. md.Undecoded cannot find them: decoding into a map marks
	// every top-level key as decoded (and decoding into a struct would match
	// names case-insensitively, silently accepting "http_port"). So compare
	// every key of the file, in file order, with the table.
	seen := map[string]bool{}
	for _, key := range md.Keys() {
		name := key[0]
		if _, known := LookupKey(name); known || seen[name] {
			continue
		}
		seen[name] = true
		line := lineOf[name]
		errs = append(errs, lineErr{line, &UnknownKeyError{Key: name, Line: line, Suggestion: suggestKey(name)}})
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e.err
	}
	return errors.Join(all...)
}

func applyEnv(c *Config, lookup func(string) (string, bool)) error {
	var errs []error
	for i := range table {
		k := &table[i]
		raw, ok := lookup(k.EnvVar())
		if !ok {
			continue
		}
		if err := k.set(c, raw); err != nil {
			fe := k.fieldError(raw, err.Error())
			fe.Source = "environment " + k.EnvVar()
			errs = append(errs, fe)
		}
	}
	return errors.Join(errs...)
}

func applyFlags(c *Config, flags map[string]string) error {
	var errs []error
	for i := range table {
		k := &table[i]
		raw, ok := flags[k.Name]
		if !ok {
			continue
		}
		if err := k.set(c, raw); err != nil {
			fe := k.fieldError(raw, err.Error())
			fe.Source = "flag --" + k.FlagName()
			errs = append(errs, fe)
		}
	}
	names := make([]string, 0, len(flags))
	for name := range flags {
		if _, ok := LookupKey(name); !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		errs = append(errs, fmt.Errorf("flag value for unknown setting %q", name))
	}
	return errors.Join(errs...)
}

// resolve fills the defaults that depend on other keys.
func resolve(c *Config, hostname func() (string, error)) {
	if c.DBPort == 0 {
		c.DBPort = DefaultDBPort(c.DBEngine)
	}
	if c.DBEngine == EngineSQLite && c.DBPath == "" {
		c.DBPath = c.SQLitePath()
	}
	if c.NodeName == "" {
		if h, err := hostname(); err == nil {
			c.NodeName = h
		}
		// On error NODE_NAME stays empty and Validate asks for it.
	}
}

// tomlText renders a decoded TOML value for an error message.
func tomlText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return "" // tables, arrays, dates: the message names the type
}

// keyLines maps each top-level key name to the 1-based line where it is
// defined, as a "KEY = ..." line before the first table header or as a table
// header "[KEY...]". It is a hint for error messages only.
func keyLines(lines []string) map[string]int {
	at := map[string]int{}
	inTable := false
	for i, line := range lines {
		s := strings.TrimLeft(line, " \t\ufeff")
		if strings.HasPrefix(s, "[") {
			inTable = true
			s = strings.TrimLeft(strings.TrimLeft(s, "["), " \t")
		} else if inTable {
			continue
		}
		first, rest := firstKeyPiece(s)
		rest = strings.TrimLeft(rest, " \t")
		if first != "" && at[first] == 0 && rest != "" && strings.ContainsRune("=.]", rune(rest[0])) {
			at[first] = i + 1
		}
	}
	return at
}

// firstKeyPiece reads the first piece of a TOML key at the start of s (bare
// or quoted) and returns it with the rest of s.
func firstKeyPiece(s string) (piece, rest string) {
	if s == "" {
		return "", ""
	}
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", ""
		}
		piece = s[1 : 1+end]
		if q == '"' {
			if u, err := strconv.Unquote(s[:end+2]); err == nil {
				piece = u
			}
		}
		return piece, s[end+2:]
	}
	n := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if n < 0 {
		n = len(s)
	}
	return s[:n], s[n:]
}
