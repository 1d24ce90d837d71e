package eql

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Tri is a three-valued truth: EQL conditions are true, false or null
// (a comparison with a missing field). Only True selects an event.
type Tri int8

// Truth values.
const (
	Null  Tri = 0
	False Tri = -1
	True  Tri = 1
)

func (t Tri) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "null"
}

func triOf(b bool) Tri {
	if b {
		return True
	}
	return False
}

type vkind uint8

const (
	vNull vkind = iota
	vBool
	vInt
	vFloat
	vStr
	vList
	vObj
)

// val is an evaluated value. Fields keep their mapped meaning: dates are
// epoch nanoseconds (vInt with date set) so that they compare with date
// literals, versions compare by semantic version.
type val struct {
	k    vkind
	b    bool
	date bool  // vInt holding epoch nanoseconds
	ver  bool  // vStr holding a version
	ip   bool  // vStr holding an IP address
	i    int64 // vInt, or the bits of a vFloat (see fl)
	s    string
	l    []val
}

// fl returns a vFloat's value.
func (v val) fl() float64 { return math.Float64frombits(uint64(v.i)) }

var nullVal = val{}

func boolVal(b bool) val { return val{k: vBool, b: b} }
func intVal(i int64) val { return val{k: vInt, i: i} }
func floatVal(f float64) val {
	return val{k: vFloat, i: int64(math.Float64bits(f))}
}
func strVal(s string) val { return val{k: vStr, s: s} }

func triVal(t Tri) val {
	switch t {
	case True:
		return boolVal(true)
	case False:
		return boolVal(false)
	}
	return nullVal
}

func (v val) isNum() bool { return v.k == vInt || v.k == vFloat }
func (v val) num() float64 {
	if v.k == vInt {
		return float64(v.i)
	}
	return v.fl()
}

// literalVal converts a parsed literal.
func literalVal(x any) val {
	switch t := x.(type) {
	case nil:
		return nullVal
	case bool:
		return boolVal(t)
	case int64:
		return intVal(t)
	case float64:
		return floatVal(t)
	case string:
		return strVal(t)
	}
	return nullVal
}

// fromRaw converts a value from a Fields lookup, applying the field's
// mapped type.
func fromRaw(x any, ft fieldType) val {
	// the common scalars first, without the generic conversion
	switch t := x.(type) {
	case string:
		if ft == ftUnknown || ft == ftKeyword || ft == ftText {
			return val{k: vStr, s: t}
		}
	case int:
		if ft == ftUnknown || ft == ftLong {
			return val{k: vInt, i: int64(t)}
		}
	case json.Number:
		if ft == ftUnknown || ft == ftLong {
			if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
				return val{k: vInt, i: i}
			}
		}
	}
	switch t := x.(type) {
	case nil:
		return nullVal
	case []any:
		if len(t) == 0 {
			return nullVal
		}
		l := make([]val, 0, len(t))
		for _, e := range t {
			ev := fromRaw(e, ft)
			if ev.k == vList {
				l = append(l, ev.l...)
			} else {
				l = append(l, ev)
			}
		}
		if len(l) == 1 {
			return l[0]
		}
		return val{k: vList, l: l}
	case []string:
		l := make([]any, len(t))
		for i, s := range t {
			l[i] = s
		}
		return fromRaw(l, ft)
	case map[string]any:
		return val{k: vObj}
	}
	v := scalar(x)
	return coerce(v, ft)
}

func scalar(x any) val {
	switch t := x.(type) {
	case bool:
		return boolVal(t)
	case string:
		return strVal(t)
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return intVal(i)
		}
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return floatVal(f)
		}
		return strVal(string(t))
	case int:
		return intVal(int64(t))
	case int64:
		return intVal(t)
	case int32:
		return intVal(int64(t))
	case int16:
		return intVal(int64(t))
	case int8:
		return intVal(int64(t))
	case uint:
		return uintVal(uint64(t))
	case uint64:
		return uintVal(t)
	case uint32:
		return intVal(int64(t))
	case uint16:
		return intVal(int64(t))
	case uint8:
		return intVal(int64(t))
	case float64:
		return floatVal(t)
	case float32:
		return floatVal(float64(t))
	case time.Time:
		return val{k: vInt, i: t.UnixNano(), date: true}
	case interface{ String() string }:
		return strVal(t.String())
	}
	return val{k: vObj}
}

func uintVal(u uint64) val {
	if u > math.MaxInt64 {
		return floatVal(float64(u))
	}
	return intVal(int64(u))
}

// coerce applies a mapped type to a scalar source value, as Elasticsearch
// indexes it: strings in numeric fields become numbers, dates become epoch
// nanoseconds, numbers in keyword fields become strings.
func coerce(v val, ft fieldType) val {
	switch ft {
	case ftLong:
		switch v.k {
		case vStr:
			if i, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err == nil {
				return intVal(i)
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64); err == nil {
				return intVal(int64(f))
			}
		case vFloat:
			return intVal(int64(v.fl()))
		}
	case ftDouble:
		switch v.k {
		case vStr:
			if f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64); err == nil {
				return floatVal(f)
			}
		case vInt:
			return floatVal(float64(v.i))
		}
	case ftKeyword:
		switch v.k {
		case vInt:
			return strVal(strconv.FormatInt(v.i, 10))
		case vFloat:
			return strVal(strconv.FormatFloat(v.fl(), 'f', -1, 64))
		case vBool:
			return strVal(strconv.FormatBool(v.b))
		}
	case ftBool:
		if v.k == vStr {
			switch v.s {
			case "true":
				return boolVal(true)
			case "false", "":
				return boolVal(false)
			}
		}
	case ftDate, ftDateNanos:
		if ns, ok := parseDateValue(v); ok {
			if ft == ftDate {
				ns = ns / 1e6 * 1e6
			}
			return val{k: vInt, i: ns, date: true}
		}
	case ftVersion:
		if v.k == vStr {
			v.ver = true
		}
	case ftIP:
		if v.k == vStr {
			v.ip = true
		}
	}
	return v
}

// parseDateValue reads a date as Elasticsearch's default format
// strict_date_optional_time||epoch_millis does: an ISO 8601 string or
// epoch milliseconds (possibly with a fraction, as date_nanos allows).
func parseDateValue(v val) (int64, bool) {
	switch v.k {
	case vInt:
		return v.i * 1e6, true
	case vFloat:
		return int64(v.fl() * 1e6), true
	case vStr:
		return parseDateString(v.s)
	}
	return 0, false
}

func parseDateString(s string) (int64, bool) {
	if ns, ok := fastRFC3339(s); ok {
		return ns, true
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if s[0] == '-' || (s[0] >= '0' && s[0] <= '9') {
		allNum := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9') && c != '.' && !(i == 0 && c == '-') {
				allNum = false
				break
			}
		}
		if allNum {
			ip, frac, _ := strings.Cut(s, ".")
			ms, err := strconv.ParseInt(ip, 10, 64)
			if err != nil {
				return 0, false
			}
			ns := ms * 1e6
			if frac != "" {
				for len(frac) < 6 {
					frac += "0"
				}
				f, err := strconv.ParseInt(frac[:6], 10, 64)
				if err != nil {
					return 0, false
				}
				if ms < 0 {
					ns -= f
				} else {
					ns += f
				}
			}
			return ns, true
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z07", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// formatDate renders epoch nanoseconds as Elasticsearch renders a date
// field's value (strict_date_optional_time with milliseconds, or with
// nanoseconds for date_nanos when they are not zero).
func formatDate(ns int64, nanos bool) string {
	t := time.Unix(0, ns).UTC()
	if nanos && ns%1e6 != 0 {
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// key renders a value for join-key grouping; ok=false for null/objects.
func (v val) key() (string, bool) {
	b, ok := v.appendKey(nil)
	return string(b), ok
}

// appendKey appends the grouping identity of v to b: a type tag then the
// value, so that "1" and 1 differ and 1.0 equals 1.
func (v val) appendKey(b []byte) ([]byte, bool) {
	switch v.k {
	case vBool:
		return strconv.AppendBool(append(b, 'b'), v.b), true
	case vInt:
		return strconv.AppendInt(append(b, 'i'), v.i, 10), true
	case vFloat:
		if f := v.fl(); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.AppendInt(append(b, 'i'), int64(f), 10), true
		}
		return strconv.AppendFloat(append(b, 'f'), v.fl(), 'g', -1, 64), true
	case vStr:
		b = append(b, 's')
		if !hasKeyByte(v.s) {
			return append(b, v.s...), true
		}
		// Escape the separator (and the escape) so that a tuple's key
		// splits one way only: ("a\x1fsb", "c") is not ("a", "b\x1fsc").
		for i := 0; i < len(v.s); i++ {
			switch c := v.s[i]; c {
			case keyEsc:
				b = append(b, keyEsc, 1)
			case keySep:
				b = append(b, keyEsc, 2)
			default:
				b = append(b, c)
			}
		}
		return b, true
	}
	return b, false
}

// hasKeyByte reports whether s holds keySep or keyEsc; one pass, for the
// short strings join keys are.
func hasKeyByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= keySep && (c == keySep || c == keyEsc) {
			return true
		}
	}
	return false
}

// keySep ends each value in a join-key tuple's identity; keyEsc escapes it
// (and itself) inside string values.
const (
	keySep byte = 0x1f
	keyEsc byte = 0x1e
)

// compareVersions compares two version strings as Elasticsearch's version
// field type does (semantic versions; an invalid version sorts after all
// valid ones, by its text).
func compareVersions(a, b string) int {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	switch {
	case oka && !okb:
		return -1
	case !oka && okb:
		return 1
	case !oka && !okb:
		return strings.Compare(a, b)
	}
	for i := 0; i < len(pa.nums) || i < len(pb.nums); i++ {
		var x, y int64
		if i < len(pa.nums) {
			x = pa.nums[i]
		}
		if i < len(pb.nums) {
			y = pb.nums[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	// a pre-release sorts before the release
	switch {
	case pa.pre == "" && pb.pre != "":
		return 1
	case pa.pre != "" && pb.pre == "":
		return -1
	}
	return strings.Compare(pa.pre, pb.pre)
}

type version struct {
	nums []int64
	pre  string
}

func parseVersion(s string) (version, bool) {
	core, _, _ := strings.Cut(s, "+")
	core, pre, _ := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) == 0 || core == "" {
		return version{}, false
	}
	var v version
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return version{}, false
		}
		v.nums = append(v.nums, n)
	}
	v.pre = pre
	return v, true
}

// fastRFC3339 parses the form telemetry uses, "2006-01-02T15:04:05Z" with
// an optional fraction, without time.Parse (every event's timestamp goes
// through here). Anything else, including other zones, returns false and
// takes the general path.
func fastRFC3339(s string) (int64, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return 0, false
	}
	num := func(a, b int) (int64, bool) {
		var n int64
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	hh, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	ss, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || hh > 23 || mi > 59 || ss > 59 {
		return 0, false
	}
	var frac int64
	i := 19
	if i < len(s)-1 {
		if s[i] != '.' || i+1 == len(s)-1 {
			return 0, false
		}
		digits := 0
		for i++; i < len(s)-1; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if digits < 9 {
				frac = frac*10 + int64(c-'0')
				digits++
			}
		}
		for ; digits < 9; digits++ {
			frac *= 10
		}
	}
	days := daysFromCivil(y, mo, d)
	return (days*86400+hh*3600+mi*60+ss)*1e9 + frac, true
}

func daysIn(m, y int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
