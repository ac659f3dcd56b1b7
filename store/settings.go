package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// System settings are key/value rows changed by administrators at run time
// (unlike the settings file, which needs a restart). Every known key has a
// spec with its kind, default and rule; a key without a row has its default.

// The known setting keys.
const (
	SettingLoginMaxFailures = "login_max_failures"
	SettingLoginLockMinutes = "login_lock_minutes"
	SettingSessionTimeout   = "session_timeout_minutes"
	SettingLogLevel         = "log_level"
	SettingDefaultLang      = "default_lang"
)

// SettingKind is the type of a setting's value.
type SettingKind string

// The kinds.
const (
	KindInt    SettingKind = "int"
	KindString SettingKind = "string"
	KindChoice SettingKind = "choice"
)

// SettingSpec describes one known setting.
type SettingSpec struct {
	Key     string
	Kind    SettingKind
	Default string
	Min     int      // KindInt
	Max     int      // KindInt
	Choices []string // KindChoice
	MaxLen  int      // KindString
	Doc     string
}

// settingSpecs is the table of known settings, sorted by key.
func settingSpecs() []SettingSpec {
	return []SettingSpec{
		{Key: SettingDefaultLang, Kind: KindChoice, Default: "ja", Choices: []string{"ja", "en"},
			Doc: "language for users who chose none and whose browser asks for neither"},
		{Key: SettingLogLevel, Kind: KindChoice, Default: "info", Choices: []string{"debug", "info", "warn", "error"},
			Doc: "the server's log level"},
		{Key: SettingLoginLockMinutes, Kind: KindInt, Default: "15", Min: 1, Max: 7 * 24 * 60,
			Doc: "how long an account stays locked after too many failed logins"},
		{Key: SettingLoginMaxFailures, Kind: KindInt, Default: "5", Min: 1, Max: 100,
			Doc: "failed logins in a row that lock an account"},
		{Key: SettingSessionTimeout, Kind: KindInt, Default: "480", Min: 5, Max: 30 * 24 * 60,
			Doc: "minutes a browser session or login token lives without use"},
	}
}

// SettingSpecs returns the known settings, sorted by key.
func SettingSpecs() []SettingSpec { return settingSpecs() }

// LookupSetting returns the spec of key.
func LookupSetting(key string) (SettingSpec, bool) {
	for _, s := range settingSpecs() {
		if s.Key == key {
			return s, true
		}
	}
	return SettingSpec{}, false
}

// ErrUnknownSetting is wrapped by errors for keys that are not settings.
var ErrUnknownSetting = errors.New("unknown setting")

// Validate checks value against the spec's rule; the error names the key.
func (s SettingSpec) Validate(value string) error {
	switch s.Kind {
	case KindInt:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return invalid(s.Key, "must be a whole number, got %q", value)
		}
		if n < s.Min || n > s.Max {
			return invalid(s.Key, "must be between %d and %d, got %d", s.Min, s.Max, n)
		}
	case KindChoice:
		if !slices.Contains(s.Choices, value) {
			return invalid(s.Key, "must be one of %s, got %q", strings.Join(s.Choices, ", "), value)
		}
	case KindString:
		if s.MaxLen > 0 && len(value) > s.MaxLen {
			return invalid(s.Key, "must be at most %d bytes", s.MaxLen)
		}
	}
	return nil
}

// ValidateSetting checks one key and value; unknown keys are refused.
func ValidateSetting(key, value string) error {
	spec, ok := LookupSetting(key)
	if !ok {
		return &FieldError{Field: key, Msg: "is not a known setting"}
	}
	return spec.Validate(value)
}

// Settings returns the value of every known setting: stored or default.
func (db *DB) Settings(ctx context.Context) (map[string]string, error) {
	var rows []Setting
	if err := db.conn(ctx).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := map[string]string{}
	for _, s := range settingSpecs() {
		out[s.Key] = s.Default
	}
	for _, r := range rows {
		if spec, ok := LookupSetting(r.Key); ok && spec.Validate(r.Value) == nil {
			out[r.Key] = r.Value
		}
	}
	return out, nil
}

// SettingString returns the value of a known setting (its default when
// unset, or when the stored value breaks the rule, e.g. written by an older
// release).
func (db *DB) SettingString(ctx context.Context, key string) (string, error) {
	spec, ok := LookupSetting(key)
	if !ok {
		return "", fmt.Errorf("setting %q: %w", key, ErrUnknownSetting)
	}
	// "key" is a reserved word in MySQL: clause.Eq quotes the column.
	var rows []Setting
	if err := db.conn(ctx).Where(clause.Eq{Column: clause.Column{Name: "key"}, Value: key}).Limit(1).Find(&rows).Error; err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	if len(rows) == 0 || spec.Validate(rows[0].Value) != nil {
		return spec.Default, nil
	}
	return rows[0].Value, nil
}

// SettingInt returns an int setting.
func (db *DB) SettingInt(ctx context.Context, key string) (int, error) {
	v, err := db.SettingString(ctx, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("setting %s: %q is not a number", key, v)
	}
	return n, nil
}

// SettingMinutes returns an int setting counted in minutes as a duration.
func (db *DB) SettingMinutes(ctx context.Context, key string) (time.Duration, error) {
	n, err := db.SettingInt(ctx, key)
	return time.Duration(n) * time.Minute, err
}

// SetSetting stores one setting after validating it.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	return db.SetSettings(ctx, map[string]string{key: value})
}

// SetSettings validates every pair and stores them all in one transaction;
// when any is refused, nothing is stored and the errors name each key.
func (db *DB) SetSettings(ctx context.Context, values map[string]string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if err := ValidateSetting(k, values[k]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(keys) == 0 {
		return nil
	}
	return db.Tx(ctx, func(ctx context.Context) error {
		now := db.Now()
		for _, k := range keys {
			row := Setting{Key: k, Value: values[k], UpdatedAt: now}
			err := db.conn(ctx).Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "key"}},
				DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"}),
			}).Create(&row).Error
			if err != nil {
				return fmt.Errorf("store setting %s: %w", k, err)
			}
		}
		return db.BumpVersion(ctx, "settings")
	})
}
