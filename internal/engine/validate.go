package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors returned by ValidateParameterValue and CheckParameterValue.
// Callers map both to InvalidParameterValue.
var (
	ErrInvalidParameterValue  = errors.New("invalid parameter value")
	ErrParameterNotModifiable = errors.New("parameter is not modifiable")
)

// ParameterError says which parameter and value were refused and why. It
// unwraps to ErrInvalidParameterValue or ErrParameterNotModifiable.
type ParameterError struct {
	Name   string
	Value  string
	Reason string
	Err    error
}

func (e *ParameterError) Error() string {
	return fmt.Sprintf("parameter %s: %s", e.Name, e.Reason)
}

func (e *ParameterError) Unwrap() error { return e.Err }

// ValidateParameterValue checks a value a user wants to set: the parameter
// must be modifiable and the value must fit its data type and allowed values.
func ValidateParameterValue(p Param, value string) error {
	if !p.IsModifiable {
		return &ParameterError{Name: p.ParameterName, Value: value, Err: ErrParameterNotModifiable,
			Reason: "the parameter cannot be modified"}
	}
	return CheckParameterValue(p, value)
}

// CheckParameterValue checks only that a value fits the parameter's data
// type and allowed values, whatever its modifiability (for defaults and
// values already stored).
func CheckParameterValue(p Param, value string) error {
	invalid := func(format string, args ...any) error {
		return &ParameterError{Name: p.ParameterName, Value: value, Err: ErrInvalidParameterValue,
			Reason: fmt.Sprintf(format, args...)}
	}
	switch p.ParameterName {
	case "notify-keyspace-events":
		if i := strings.IndexFunc(value, func(r rune) bool { return !strings.ContainsRune(keyspaceEventClasses, r) }); i >= 0 {
			return invalid("%q is not a keyspace event class; use the letters %s", value[i:i+1], keyspaceEventClasses)
		}
		return nil
	case "rename-commands":
		return checkRenameCommands(p, value, invalid)
	case "slab_chunk_max":
		if n, err := strconv.ParseInt(value, 10, 64); err == nil && n > 0 && n&(n-1) != 0 {
			return invalid("value %s is not a power of two; memcached's slab page of 1048576 bytes must divide into it evenly", value)
		}
	}

	switch p.DataType {
	case TypeInteger:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return invalid("value %q is not an integer", value)
		}
		if p.AllowedValues != "" && !inAllowed(p.AllowedValues, n, parseInt) {
			return invalid("value %s is outside the allowed values %s", value, p.AllowedValues)
		}
	case TypeFloat:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return invalid("value %q is not a number", value)
		}
		if p.AllowedValues != "" && !inAllowed(p.AllowedValues, f, parseFloat) {
			return invalid("value %s is outside the allowed values %s", value, p.AllowedValues)
		}
	case TypeBoolean:
		allowed := p.AllowedValues
		if allowed == "" {
			allowed = "0,1"
		}
		if !inEnum(allowed, value) {
			return invalid("value %q is not one of %s", value, allowed)
		}
	case TypeString:
		if p.AllowedValues != "" && !inEnum(p.AllowedValues, value) {
			return invalid("value %q is not one of %s", value, p.AllowedValues)
		}
	default:
		return invalid("unknown data type %q", p.DataType)
	}
	return nil
}

// keyspaceEventClasses are the letters notify-keyspace-events accepts.
const keyspaceEventClasses = "KEg$lshzxeAtmdn"

func checkRenameCommands(p Param, value string, invalid func(string, ...any) error) error {
	fields := strings.Fields(value)
	if len(fields)%2 != 0 {
		return invalid("value must be pairs of a command and its new name")
	}
	seen := map[string]bool{}
	for i := 0; i < len(fields); i += 2 {
		cmd := strings.ToUpper(fields[i])
		if !inEnum(p.AllowedValues, cmd) {
			return invalid("command %s cannot be renamed", fields[i])
		}
		if seen[cmd] {
			return invalid("command %s is renamed twice", fields[i])
		}
		seen[cmd] = true
	}
	return nil
}

func inEnum(allowed, value string) bool {
	for item := range strings.SplitSeq(allowed, ",") {
		if strings.TrimSpace(item) == value {
			return true
		}
	}
	return false
}

// inAllowed checks a number against the API's allowed-values notation: a
// comma-separated list of single values ("5000", "-2") and ranges ("1-100",
// "20-" open ended, "-1-" starting below zero, "-" any value).
func inAllowed[T int64 | float64](allowed string, n T, parse func(string) (T, error)) bool {
	for item := range strings.SplitSeq(allowed, ",") {
		item = strings.TrimSpace(item)
		if item == "-" {
			return true
		}
		if item == "" {
			continue
		}
		if v, err := parse(item); err == nil {
			if v == n {
				return true
			}
			continue
		}
		i := strings.Index(item[1:], "-") + 1 // a range dash, never a leading minus sign
		if i <= 0 {
			continue
		}
		lo, err := parse(item[:i])
		if err != nil || n < lo {
			continue
		}
		if hi := item[i+1:]; hi != "" {
			h, err := parse(hi)
			if err != nil || n > h {
				continue
			}
		}
		return true
	}
	return false
}

func parseInt(s string) (int64, error)     { return strconv.ParseInt(s, 10, 64) }
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
