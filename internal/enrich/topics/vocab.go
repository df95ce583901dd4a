package topics

import "encoding/binary"

// vocab is a read-only string set mapping cue words to ids, looked up with
// byte slices. It is an open-addressing table whose 16-byte slots hold a
// hash tag, the id and the word's first eight bytes, so that a lookup of a
// word of up to eight bytes (most stems) touches one cache line: faster than
// a Go map in the tokenizer's hot loop.
type vocab struct {
	slots []vocabSlot
	keys  []string // keys[i] is the word of slots[i], compared for longer words
	mask  uint32
}

type vocabSlot struct {
	head uint64 // the word's first eight bytes (packed; see pack)
	tag  uint32 // high bits of the hash
	id   int32  // -1: empty
}

func newVocab(words map[string]int32) vocab {
	size := 16
	for size < 2*len(words) {
		size *= 2
	}
	v := vocab{slots: make([]vocabSlot, size), keys: make([]string, size), mask: uint32(size - 1)}
	for i := range v.slots {
		v.slots[i].id = -1
	}
	for w, id := range words {
		h, head := wordHash([]byte(w))
		i := uint32(h) & v.mask
		for v.slots[i].id >= 0 {
			i = (i + 1) & v.mask
		}
		v.slots[i] = vocabSlot{head: head, tag: uint32(h >> 32), id: id}
		v.keys[i] = w
	}
	return v
}

// get returns the id of w, or -1.
func (v *vocab) get(w []byte) int32 {
	h, head := wordHash(w)
	tag := uint32(h >> 32)
	for i := uint32(h) & v.mask; ; i = (i + 1) & v.mask {
		s := &v.slots[i]
		if s.id < 0 {
			return -1
		}
		if s.tag == tag && s.head == head && (len(w) <= 8 || v.keys[i] == string(w)) {
			return s.id
		}
	}
}

// pack returns up to eight bytes of b as a little-endian integer. Words hold
// no zero bytes, so for words of up to eight bytes it is one-to-one.
func pack(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var k uint64
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	return k
}

// wordHash hashes w eight bytes at a time and returns the hash and the
// packed first eight bytes.
func wordHash(w []byte) (h, head uint64) {
	const m = 0x9e3779b97f4a7c15
	head = pack(w)
	h = (head ^ uint64(len(w))) * m
	for i := 8; i < len(w); i += 8 {
		h = (h ^ pack(w[i:min(i+8, len(w))])) * m
	}
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32, head
}
