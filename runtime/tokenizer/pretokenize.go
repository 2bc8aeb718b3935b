/*
Copyright 2026 The dllm-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package tokenizer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// gpt2Pattern is the split regex of the ByteLevel pre-tokenizer when use_regex is true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// lookaheadAlt is the one lookaround that the split regexes of GPT-2, Llama 3 and Qwen2 use: a
// whitespace run that is not followed by a non-whitespace character. Go's RE2 syntax has no
// lookaround, so splitRegex emulates it (see splitRegex).
const lookaheadAlt = `\s+(?!\S)`

// Oniguruma, which the Python library uses, gives \s the Unicode White_Space property while Go
// gives it ASCII only; White_Space is exactly these characters plus the separators \p{Z}.
const (
	spaceClassBody = `\t\n\v\f\r\x{85}\p{Z}`
	digitClassBody = `\p{Nd}`
	wordClassBody  = `\p{L}\p{M}\p{Nd}\p{Pc}`
)

var errLookaround = errors.New("lookaround other than a whole alternative `\\s+(?!\\S)` is not supported")

// isSpace reports whether r has the Unicode White_Space property, Oniguruma's \s.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// splitRegex is an Oniguruma split pattern translated to Go's syntax.
//
// A top-level alternative `\s+(?!\S)` is compiled as a capturing group `(\s+)` instead, and a
// match of that group is corrected after the fact, which gives the same matches as a
// backtracking engine:
//
//   - If the run is followed by the end of the text or by whitespace, the lookahead holds and
//     the match stands. (The greedy run is maximal, so it is only ever followed by the end of
//     the text or by a non-space.)
//   - If a non-space follows and the run has at least two runes, the backtracking engine gives
//     back one rune, after which the lookahead holds: the match loses its last rune, and that
//     space goes with the following word (" world" rather than "world").
//   - If a non-space follows a single-rune run, the alternative fails at this position. The
//     engine then tries the alternatives written after it, at the same position (after is
//     those, anchored), and when none matches it searches again from the next rune.
type splitRegex struct {
	re    *regexp.Regexp
	group int            // capturing group of the lookahead alternative; 0 if there is none
	after *regexp.Regexp // the alternatives after the lookahead one, anchored; nil if none
}

// compileSplitRegex translates an Oniguruma pattern as found in tokenizer.json.
func compileSplitRegex(pattern string) (*splitRegex, error) {
	tr := translator{pattern: pattern, laIndex: -1, altBegin: true}
	for tr.i = 0; tr.i < len(pattern); tr.i++ {
		if err := tr.step(); err != nil {
			return nil, err
		}
	}
	tr.alts = append(tr.alts, tr.out.String()[tr.altStart:])
	re, err := regexp.Compile(tr.out.String())
	if err != nil {
		return nil, err
	}
	sr := &splitRegex{re: re, group: tr.laGroup}
	if tr.laIndex >= 0 && tr.laIndex+1 < len(tr.alts) {
		if sr.after, err = regexp.Compile(`^(?:` + strings.Join(tr.alts[tr.laIndex+1:], "|") + `)`); err != nil {
			return nil, err
		}
	}
	return sr, nil
}

// translator rewrites an Oniguruma pattern into Go syntax one element at a time.
type translator struct {
	pattern  string
	i        int // position in pattern
	out      strings.Builder
	alts     []string // translated top-level alternatives so far
	altStart int      // start in out of the current top-level alternative
	altBegin bool     // whether i is at the start of a top-level alternative
	depth    int      // open groups
	groups   int      // capturing groups opened so far
	inClass  bool
	laIndex  int // index in alts of the lookahead alternative; -1 if none
	laGroup  int // capturing group of the lookahead alternative; 0 if none
}

// step translates the element at t.i, leaving t.i on its last byte.
func (t *translator) step() error {
	c := t.pattern[t.i]
	atAltBegin := t.altBegin
	t.altBegin = false
	rest := t.pattern[t.i:]
	switch {
	case atAltBegin && strings.HasPrefix(rest, lookaheadAlt) &&
		(len(rest) == len(lookaheadAlt) || rest[len(lookaheadAlt)] == '|'):
		if t.laGroup != 0 {
			return errLookaround
		}
		t.groups++
		t.laGroup = t.groups
		t.laIndex = len(t.alts)
		t.out.WriteString(`([` + spaceClassBody + `]+)`)
		t.i += len(lookaheadAlt) - 1
	case c == '\\':
		return t.escape()
	case t.inClass:
		if c == ']' {
			t.inClass = false
		}
		t.out.WriteByte(c)
	case c == '[':
		t.inClass = true
		t.out.WriteByte(c)
		// A ']' right after '[' or '[^' is a literal.
		if strings.HasPrefix(t.pattern[t.i+1:], "^") {
			t.i++
			t.out.WriteByte('^')
		}
		if strings.HasPrefix(t.pattern[t.i+1:], "]") {
			t.i++
			t.out.WriteString(`\]`)
		}
	case c == '(':
		return t.openGroup()
	case c == ')':
		t.depth--
		t.out.WriteByte(c)
	case c == '|' && t.depth == 0:
		t.alts = append(t.alts, t.out.String()[t.altStart:])
		t.out.WriteByte(c)
		t.altStart = t.out.Len()
		t.altBegin = true
	default:
		t.out.WriteByte(c)
	}
	return nil
}

// escape translates the escape that starts at t.i. Oniguruma's \s, \d and \w are Unicode
// classes, Go's are ASCII, so they are spelled out.
func (t *translator) escape() error {
	if t.i+1 == len(t.pattern) {
		return errors.New("trailing backslash")
	}
	t.i++
	bodies := map[byte]string{'s': spaceClassBody, 'd': digitClassBody, 'w': wordClassBody}
	switch e := t.pattern[t.i]; e {
	case 's', 'd', 'w':
		if t.inClass {
			t.out.WriteString(bodies[e])
		} else {
			t.out.WriteString("[" + bodies[e] + "]")
		}
	case 'S', 'D', 'W':
		if t.inClass {
			return fmt.Errorf(`\%c inside a character class is not supported`, e)
		}
		t.out.WriteString("[^" + bodies[e+'a'-'A'] + "]")
	default:
		t.out.WriteByte('\\')
		t.out.WriteByte(e)
	}
	return nil
}

// openGroup translates the '(' at t.i, counting capturing groups and refusing lookaround.
func (t *translator) openGroup() error {
	rest := t.pattern[t.i+1:]
	switch {
	case strings.HasPrefix(rest, "?=") || strings.HasPrefix(rest, "?!") ||
		strings.HasPrefix(rest, "?<=") || strings.HasPrefix(rest, "?<!"):
		return errLookaround
	case !strings.HasPrefix(rest, "?") || strings.HasPrefix(rest, "?P<") || strings.HasPrefix(rest, "?<"):
		t.groups++
	}
	t.depth++
	t.out.WriteByte('(')
	return nil
}

// match is the position of one regex match in the text.
type match struct{ start, end int }

// findAll returns the non-empty, non-overlapping matches in s, as the Python library's find_iter
// on the original pattern would.
func (sr *splitRegex) findAll(s string) []match {
	var ms []match
	from := 0
	for from < len(s) {
		loc := sr.re.FindStringSubmatchIndex(s[from:])
		if loc == nil {
			break
		}
		start, end := from+loc[0], from+loc[1]
		if sr.group > 0 && loc[2*sr.group] >= 0 && end < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[end:]); !isSpace(r) {
				_, last := utf8.DecodeLastRuneInString(s[start:end])
				switch {
				case end-last > start:
					end -= last
				case sr.after != nil && sr.after.MatchString(s[start:]):
					end = start + sr.after.FindStringIndex(s[start:])[1]
				default:
					_, size := utf8.DecodeRuneInString(s[start:])
					from = start + size
					continue
				}
			}
		}
		if start == end {
			// Empty matches split nothing; step over one rune so the search makes progress.
			_, size := utf8.DecodeRuneInString(s[start:])
			from = start + size
			continue
		}
		ms = append(ms, match{start, end})
		from = end
	}
	return ms
}

// splitBehavior is the behavior field of a Split pre-tokenizer.
type splitBehavior int

const (
	splitIsolated           splitBehavior = iota // matches are pieces of their own
	splitRemoved                                 // matches are dropped
	splitMergedWithPrevious                      // each match joins the piece before it
	splitMergedWithNext                          // each match joins the piece after it
)

// preStep is one pre-tokenizer step that splits pieces further.
type preStep struct {
	re       *splitRegex
	behavior splitBehavior
}

// split splits s by the step's regex and appends the pieces to dst.
func (p preStep) split(dst []string, s string) []string {
	prev := 0
	pending := "" // a match waiting to be merged with the next piece
	for _, m := range p.re.findAll(s) {
		gap := s[prev:m.start]
		prev = m.end
		switch p.behavior {
		case splitIsolated:
			dst = appendNonEmpty(dst, gap, s[m.start:m.end])
		case splitRemoved:
			dst = appendNonEmpty(dst, gap)
		case splitMergedWithPrevious:
			// The match extends the gap before it, so the two are contiguous in s.
			dst = appendNonEmpty(dst, s[m.start-len(gap):m.end])
		case splitMergedWithNext:
			dst = appendNonEmpty(dst, pending+gap)
			pending = s[m.start:m.end]
		}
	}
	return appendNonEmpty(dst, pending+s[prev:])
}

func appendNonEmpty(dst []string, pieces ...string) []string {
	for _, p := range pieces {
		if p != "" {
			dst = append(dst, p)
		}
	}
	return dst
}
