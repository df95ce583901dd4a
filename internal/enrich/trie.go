package enrich

// trie is a token trie over normalised tokens: each gazetteer surface is a
// path of token ids, and a node that ends a surface holds the entries that
// surface names. Matching a text costs one map lookup per token visited.
type trie struct {
	vocab map[string]uint32 // normalised token -> id (ids start at 1)
	next  map[uint64]int32  // node<<32 | token id -> child node
	term  [][]int32         // node -> entry ids ending there
	// root is the child of the root node by token id (-1: none), built by
	// freeze: most tokens start no entry, and this answers them without a map lookup.
	root []int32
	// table answers vocabulary lookups for text tokens (built by freeze).
	table vocabTable
}

// freeze builds the root table; call it after the last insert and tokenID.
func (t *trie) freeze() {
	t.table = newVocabTable(t.vocab)
	t.root = make([]int32, len(t.vocab)+1)
	for i := range t.root {
		t.root[i] = -1
	}
	for k, child := range t.next {
		if k>>32 == 0 {
			t.root[uint32(k)] = child
		}
	}
}

func newTrie() *trie {
	return &trie{
		vocab: make(map[string]uint32),
		next:  make(map[uint64]int32),
		term:  [][]int32{nil}, // node 0 is the root
	}
}

// tokenID returns the id of a normalised token, adding it when add is set.
func (t *trie) tokenID(norm string, add bool) uint32 {
	if id, ok := t.vocab[norm]; ok {
		return id
	}
	if !add {
		return 0
	}
	id := uint32(len(t.vocab) + 1)
	t.vocab[norm] = id
	return id
}

// insert adds the path of token ids and records entry at its end.
func (t *trie) insert(ids []uint32, entry int32) {
	node := int32(0)
	for _, id := range ids {
		k := uint64(node)<<32 | uint64(id)
		child, ok := t.next[k]
		if !ok {
			child = int32(len(t.term))
			t.term = append(t.term, nil)
			t.next[k] = child
		}
		node = child
	}
	for _, e := range t.term[node] {
		if e == entry {
			return
		}
	}
	t.term[node] = append(t.term[node], entry)
}

// step follows token id from node; it returns -1 when there is no edge.
func (t *trie) step(node int32, id uint32) int32 {
	if id == 0 {
		return -1
	}
	if node == 0 {
		return t.root[id]
	}
	child, ok := t.next[uint64(node)<<32|uint64(id)]
	if !ok {
		return -1
	}
	return child
}

// vocabTable is an open-addressing hash table over the normalised
// vocabulary. Lookup lower-cases ASCII tokens while hashing, so the common
// case needs neither a copy nor a Go map lookup.
type vocabTable struct {
	keys   []string
	hashes []uint64
	ids    []uint32
	mask   uint64
}

func newVocabTable(vocab map[string]uint32) vocabTable {
	size := 1
	for size < 2*len(vocab)+2 {
		size <<= 1
	}
	t := vocabTable{keys: make([]string, size), hashes: make([]uint64, size), ids: make([]uint32, size), mask: uint64(size - 1)}
	for k, id := range vocab {
		h := hashFold(k)
		i := h & t.mask
		for t.keys[i] != "" {
			i = (i + 1) & t.mask
		}
		t.keys[i], t.hashes[i], t.ids[i] = k, h, id
	}
	return t
}

// hashFold hashes s with every byte ORed with 0x20, which folds ASCII
// capitals to lower case (other bytes change the same way on both sides,
// and equality is checked exactly afterwards). It reads eight bytes at a time.
func hashFold(s string) uint64 {
	h := uint64(len(s)) * 0x9e3779b97f4a7c15
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ (v | 0x2020202020202020)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		s = s[8:]
	}
	if len(s) > 0 {
		var v uint64
		for i := 0; i < len(s); i++ {
			v |= uint64(s[i]|0x20) << (8 * uint(i))
		}
		h = (h ^ v) * 0x94d049bb133111eb
		h ^= h >> 29
	}
	return h
}

// lookupASCII returns the id of an ASCII word compared case-insensitively
// with the (lower-case) vocabulary, or 0.
func (t *vocabTable) lookupASCII(w string) uint32 {
	h := hashFold(w)
	i := h & t.mask
	for {
		id := t.ids[i]
		if id == 0 {
			return 0
		}
		if t.hashes[i] == h && len(t.keys[i]) == len(w) && equalLowerASCII(t.keys[i], w) {
			return id
		}
		i = (i + 1) & t.mask
	}
}

// lookup returns the id of an already normalised word, or 0.
func (t *vocabTable) lookup(norm string) uint32 {
	return t.lookupASCII(norm)
}

// equalLowerASCII reports whether w lower-cased equals key (already lower case).
func equalLowerASCII(key, w string) bool {
	for i := 0; i < len(key); i++ {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[i] {
			return false
		}
	}
	return true
}
