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
	"container/heap"
	"sync"
)

// byteRunes is GPT-2's bytes_to_unicode table: byte b is written as the rune byteRunes[b]. The
// printable Latin-1 bytes map to themselves; the other 68 bytes (controls, space, 0x7f-0xa0 and
// 0xad) map to U+0100 onwards in byte order, so that every token is printable text without
// whitespace. It is computed once and never written afterwards.
var byteRunes = func() [256]rune {
	var t [256]rune
	n := rune(0)
	for b := range 256 {
		if ('!' <= b && b <= '~') || (0xa1 <= b && b <= 0xac) || (0xae <= b && b <= 0xff) {
			t[b] = rune(b)
			continue
		}
		t[b] = 256 + n
		n++
	}
	return t
}()

// runeByte is the inverse of byteRunes, indexed by rune; -1 where a rune is not in the alphabet.
// The largest rune of the alphabet is U+0143 (256+67).
var runeByte = func() [324]int16 {
	var t [324]int16
	for i := range t {
		t[i] = -1
	}
	for b, r := range byteRunes {
		t[r] = int16(b)
	}
	return t
}()

// byteLevel returns s written in the byte-level alphabet.
func byteLevel(s string) string {
	out := make([]rune, len(s))
	for i := range len(s) {
		out[i] = byteRunes[s[i]]
	}
	return string(out)
}

// unByteLevel appends the bytes that the byte-level token tok stands for to dst. As in the
// Python ByteLevel decoder, a token with a rune outside the alphabet is appended verbatim.
func unByteLevel(dst []byte, tok string) []byte {
	n := len(dst)
	for _, r := range tok {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return append(dst[:n], tok...)
		}
		dst = append(dst, byte(runeByte[r]))
	}
	return dst
}

// merge is the result of merging one ordered pair of token ids.
type merge struct {
	rank int // position in model.merges; lower merges first
	id   int // id of the merged token
}

// pairKey packs an ordered pair of token ids; ids are below maxTokenID < 2^32.
func pairKey(left, right int) uint64 { return uint64(left)<<32 | uint64(uint32(right)) }

// bpeSymbol is one node of the doubly linked list of symbols of a word being merged.
type bpeSymbol struct {
	id         int
	prev, next int // indices into the symbol slice; -1 at the ends
	dead       bool
}

// bpeCandidate is a pair that may be merged: the symbol at pos and its successor, which had the
// ids left and right when the candidate was pushed.
type bpeCandidate struct {
	rank, pos   int
	left, right int
}

// bpeQueue is a min-heap of candidates by rank, then by position, which is the order in which
// the Python tokenizers library applies merges.
type bpeQueue []bpeCandidate

func (q bpeQueue) Len() int { return len(q) }
func (q bpeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q bpeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bpeQueue) Push(x any)   { *q = append(*q, x.(bpeCandidate)) }
func (q *bpeQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// mergeWord applies the merges to the symbol ids of one word, lowest rank first and leftmost
// first among equal ranks, until no adjacent pair has a merge. It runs in O(n log n).
func mergeWord(ids []int, merges map[uint64]merge) []int {
	if len(ids) < 2 {
		return ids
	}
	syms := make([]bpeSymbol, len(ids))
	for i, id := range ids {
		syms[i] = bpeSymbol{id: id, prev: i - 1, next: i + 1}
	}
	syms[len(syms)-1].next = -1
	q := make(bpeQueue, 0, len(ids))
	push := func(pos int) {
		next := syms[pos].next
		if next < 0 {
			return
		}
		if m, ok := merges[pairKey(syms[pos].id, syms[next].id)]; ok {
			heap.Push(&q, bpeCandidate{rank: m.rank, pos: pos, left: syms[pos].id, right: syms[next].id})
		}
	}
	for i := range len(syms) - 1 {
		push(i)
	}
	for q.Len() > 0 {
		c := heap.Pop(&q).(bpeCandidate)
		s := &syms[c.pos]
		// Skip stale candidates: a neighbour was merged away since this one was pushed.
		if s.dead || s.id != c.left || s.next < 0 || syms[s.next].id != c.right {
			continue
		}
		m := merges[pairKey(c.left, c.right)]
		right := &syms[s.next]
		right.dead = true
		s.id = m.id
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			push(s.prev)
		}
		push(c.pos)
	}
	out := ids[:0]
	for i := 0; i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}

// wordCache remembers the ids of recently encoded words. Like the Python library it stops
// inserting once full instead of evicting, which keeps it simple and bounded.
type wordCache struct {
	mu sync.Mutex
	m  map[string][]int
}

const (
	// wordCacheSize is the most words the cache holds (the Python library's default capacity).
	wordCacheSize = 10000
	// wordCacheMaxLen is the longest word, in bytes, worth caching.
	wordCacheMaxLen = 256
)

func (c *wordCache) get(word string) ([]int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.m[word]
	return ids, ok
}

func (c *wordCache) put(word string, ids []int) {
	if len(word) > wordCacheMaxLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string][]int)
	}
	if len(c.m) < wordCacheSize {
		c.m[word] = ids
	}
}
