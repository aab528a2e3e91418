#!/usr/bin/python3
"""An independent GPT-2 byte-level BPE, in the Python standard library, to
check trident's C++ one (framework/data/gpt2_bpe_tokenizer.cc) against.

GPT-2's encoder.py needs the `regex` module for \\p{L} and \\p{N}; here the
same pattern runs on `re`, with \\p{L}, \\p{N} and \\s spelled out as
character classes built from unicodedata: general categories L* and N*,
and White_Space (str.isspace() less U+001C..U+001F, which `regex` does
not count as \\s). Text is decoded with errors="surrogateescape", so each
byte of invalid UTF-8 becomes a lone surrogate: a character of no class.
This is the documented choice trident's C++ makes (Note [Unicode classes]
in framework/data/unicode_classes.h), reached here by other means.

  gpt2_bpe_reference.py train CORPUS_DIR OUT_DIR MERGES
      learns MERGES merges by the usual most-frequent-pair algorithm over the
      pre-tokenized words of every text file of CORPUS_DIR (not .dat/.u8,
      no symlinks) and writes OUT_DIR/vocab.json and OUT_DIR/merges.txt
      (the 256 byte symbols, the merged symbols, "<|endoftext|>").
  gpt2_bpe_reference.py check CORPUS_DIR OUT_DIR PREFIX [EOD_PREFIX]
      encodes each file of CORPUS_DIR (one document each, in name order)
      with OUT_DIR's vocab.json and merges.txt and compares the ids, document
      for document, with the Megatron dataset PREFIX.bin/.idx
      (trident-preprocess's), and decodes PREFIX's ids back to each file's
      bytes. EOD_PREFIX: the same documents each ended by "<|endoftext|>".
      Exit 1 on any difference.
  gpt2_bpe_reference.py synthetic FILE
      writes a text of every class of character and of invalid UTF-8.
"""
import heapq
import json
import os
import re
import struct
import sys
import time
import unicodedata
from collections import Counter, defaultdict

# --- Pre-tokenization -------------------------------------------------------


def char_kind(c):
    """The kind of code point c: "L" (\\p{L}), "N" (\\p{N}), "S" (\\s) or "O" (none)."""
    kind = unicodedata.category(chr(c))[0]
    if kind in ("L", "N"):
        return kind
    return "S" if chr(c).isspace() and not 0x1C <= c <= 0x1F else "O"


def members():
    """Every code point (surrogates included, as "O"), by char_kind."""
    out = {"L": [], "N": [], "S": [], "O": []}
    kind = char_kind
    for c in range(0x110000):
        out[kind(c)].append(c)
    return out


def class_pattern():
    """The `re` character-class bodies of \\p{L}, \\p{N} and \\s."""
    kinds = members()

    def body(codes):
        out, i = [], 0
        while i < len(codes):
            j = i
            while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
                j += 1
            out.append("\\U%08x" % codes[i] + ("-\\U%08x" % codes[j] if j > i else ""))
            i = j + 1
        return "".join(out)

    return body(kinds["L"]), body(kinds["N"]), body(kinds["S"])


def gpt2_pattern():
    letter, number, space = class_pattern()
    # GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    return re.compile(
        r"'s|'t|'re|'ve|'m|'ll|'d"
        rf"| ?[{letter}]+| ?[{number}]+| ?[^{space}{letter}{number}]+"
        rf"|[{space}]+(?![^{space}])|[{space}]+")


# --- GPT-2's byte <-> character mapping ---------------------------------------


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


BYTE_CHAR = bytes_to_unicode()
CHAR_BYTE = {c: b for b, c in BYTE_CHAR.items()}


def symbols_of(piece):
    """A pre-token (str, surrogate-escaped) as GPT-2's byte characters."""
    return "".join(BYTE_CHAR[b] for b in piece.encode("utf-8", "surrogateescape"))


# --- Training -------------------------------------------------------------------


def corpus_files(corpus):
    names = []
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        if name.endswith((".dat", ".u8")) or os.path.islink(path) or not os.path.isfile(path):
            continue
        names.append(path)
    return names


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def merge_word(word, pair, merged):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_merges(word_counts, n_merges):
    """The usual BPE: merge the most frequent adjacent pair (ties: the
    smallest pair), n_merges times; pair counts updated incrementally."""
    words = [tuple(w) for w in word_counts]
    freq = [word_counts[w] for w in word_counts]
    pair_count = Counter()
    where = defaultdict(set)  # pair -> indices of words holding it
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freq[i]
            where[(a, b)].add(i)
    heap = [(-n, p) for p, n in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        n, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -n or n == 0:
            continue  # a stale entry
        merges.append(pair)
        merged = pair[0] + pair[1]
        changed = set()
        for i in where.pop(pair):
            old, f = words[i], freq[i]
            new = merge_word(old, pair, merged)
            old_pairs, new_pairs = list(zip(old, old[1:])), list(zip(new, new[1:]))
            for p in old_pairs:
                pair_count[p] -= f
            for p in new_pairs:
                pair_count[p] += f
                where[p].add(i)
            changed.update(old_pairs)
            changed.update(new_pairs)
            words[i] = new
        changed.discard(pair)
        pair_count.pop(pair, None)
        for p in changed:
            if pair_count[p] > 0:
                heapq.heappush(heap, (-pair_count[p], p))
            else:
                pair_count.pop(p, None)
    return merges


def train(corpus, out_dir, n_merges):
    start = time.time()
    files = corpus_files(corpus)
    pattern = gpt2_pattern()
    piece_counts = Counter()
    size = 0
    for path in files:
        text = read_text(path)
        size += len(text.encode("utf-8", "surrogateescape"))
        piece_counts.update(pattern.findall(text))
    word_counts = Counter()
    for piece, n in piece_counts.items():
        word_counts[symbols_of(piece)] += n
    if size < 100_000:
        sys.exit(f"{corpus}: {size} bytes of text; the agreement test wants at least 100 kB")
    merges = learn_merges(word_counts, n_merges)
    vocab = {}
    for b in [b for b in range(256) if BYTE_CHAR[b] == chr(b)] + [b for b in range(256) if BYTE_CHAR[b] != chr(b)]:
        vocab[BYTE_CHAR[b]] = len(vocab)  # GPT-2's order: printable bytes first
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    print(f"trained {len(merges)} merges (vocabulary {len(vocab)}) on {len(files)} files, {size} bytes, "
          f"{len(word_counts)} distinct words, in {time.time() - start:.1f} s")


# --- Encoding and decoding ----------------------------------------------------


class Encoder:
    def __init__(self, out_dir):
        with open(os.path.join(out_dir, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        self.token_of = {i: t for t, i in self.vocab.items()}
        with open(os.path.join(out_dir, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        pairs = [tuple(line.split()) for line in lines[1:] if line.strip()]
        self.rank = {p: r for r, p in enumerate(pairs)}
        self.pattern = gpt2_pattern()
        self.cache = {}

    def bpe(self, piece):
        """The ids of one pre-token (encoder.py's bpe() and its cache)."""
        if piece in self.cache:
            return self.cache[piece]
        word = list(symbols_of(piece))
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.rank.get(p, float("inf")))
            if best not in self.rank:
                break
            word = list(merge_word(word, best, best[0] + best[1]))
        ids = [self.vocab[s] for s in word]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        ids = []
        for piece in self.pattern.findall(text):
            ids.extend(self.bpe(piece))
        return ids

    def decode(self, ids):
        return bytes(CHAR_BYTE[c] for i in ids for c in self.token_of[i])


def read_dataset(prefix):
    """Megatron MMIDIDX: the ids of each document (REFERENCE.md's layout)."""
    with open(prefix + ".idx", "rb") as f:
        idx = f.read()
    assert idx[:9] == b"MMIDIDX\0\0", "not an MMIDIDX index"
    version, code, n, d = struct.unpack_from("<QBQQ", idx, 9)
    assert version == 1, version
    fmt, width = {8: ("H", 2), 4: ("i", 4), 1: ("B", 1)}[code]
    at = 34
    sizes = struct.unpack_from(f"<{n}i", idx, at)
    pointers = struct.unpack_from(f"<{n}q", idx, at + 4 * n)
    docs = struct.unpack_from(f"<{d}q", idx, at + 12 * n)
    with open(prefix + ".bin", "rb") as f:
        data = f.read()
    seqs = [list(struct.unpack_from(f"<{s}{fmt}", data, p)) for s, p in zip(sizes, pointers)]
    return [sum(seqs[docs[k]:docs[k + 1]], []) for k in range(d - 1)], width


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def check(corpus, out_dir, prefix, eod_prefix=None):
    start = time.time()
    enc = Encoder(out_dir)
    files = corpus_files(corpus)
    eod_id = enc.vocab["<|endoftext|>"]
    datasets = [(prefix, False)] + ([(eod_prefix, True)] if eod_prefix else [])
    read = {p: read_dataset(p) for p, _ in datasets}
    bad = tokens = size = non_ascii = invalid = 0
    for p, _ in datasets:
        if len(read[p][0]) != len(files):
            print(f"FAIL: {p} holds {len(read[p][0])} documents, {corpus} {len(files)} files")
            return 1
    for k, path in enumerate(files):
        raw = open(path, "rb").read()
        text = raw.decode("utf-8", "surrogateescape")
        size += len(raw)
        non_ascii += len(re.findall("[^\x00-\x7f]", text))
        invalid += len(re.findall("[\udc80-\udcff]", text))
        ids = enc.encode(text)
        tokens += len(ids)
        for p, eod in datasets:
            ours = ids + ([eod_id] if eod and ids else [])
            theirs = read[p][0][k]
            if ours != theirs:
                bad += 1
                i = first_difference(ours, theirs)
                print(f"FAIL {path} in {p}: ids differ at token {i} of {len(ours)} (C++ {len(theirs)}): "
                      f"python {ours[i:i + 5]} {enc.decode(ours[i:i + 5])!r}, C++ {theirs[i:i + 5]}")
            elif enc.decode(theirs[:len(ids)]) != raw:
                bad += 1
                print(f"FAIL {path} in {p}: the C++ ids decode to other bytes than the file's")
    widths = "/".join(f"{read[p][1]}-byte" for p, _ in datasets)
    print(f"{'ok  ' if bad == 0 else 'FAIL'} {len(files)} documents of {corpus}, {size} bytes ({non_ascii} non-ASCII "
          f"characters, {invalid} bytes of invalid UTF-8), {tokens} tokens ({widths}) in {len(datasets)} dataset(s): "
          f"{bad} mismatching documents; C++ ids decode to the files' bytes; {time.time() - start:.1f} s")
    return 1 if bad else 0


def synthetic(path):
    """A text of every kind of character the classes tell apart: ASCII
    words, contractions, numbers, punctuation and white-space runs; letters,
    numbers, marks, symbols and spaces from all of Unicode (so the C++
    table meets every class); and invalid UTF-8 of each kind."""
    import random
    rng = random.Random(7)
    kinds = members()
    kinds["O"] = [c for c in kinds["O"] if not 0xD800 <= c < 0xE000]  # UTF-8 cannot hold surrogates
    ascii_bits = ["Hello", " world", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "''", " '", "don't",
                  " 123", "4567", " 3.14", "--", "!!", " ?!", "  ", "   ", "\n", "\n\n", " \n ", "\t", "\t\t x",
                  "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "_", " _x", "a1b2", "x\u00a0y", "\u2028", "\u3000 z"]
    invalid = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
               b"\xf5", b"\xff", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b" \xc3", b"\xc3 "]
    out = bytearray()
    for _ in range(6000):
        r = rng.random()
        if r < 0.35:
            out += rng.choice(ascii_bits).encode()
        elif r < 0.45:
            out += rng.choice(invalid)
        else:
            pool = kinds[rng.choice("LLNSO")]
            out += "".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 4))).encode("utf-8")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes(out))
    print(f"wrote {path}: {len(out)} bytes")


def main(argv):
    if len(argv) == 4 and argv[0] == "train":
        return train(argv[1], argv[2], int(argv[3]))
    if len(argv) in (4, 5) and argv[0] == "check":
        return check(*argv[1:])
    if len(argv) == 2 and argv[0] == "synthetic":
        return synthetic(argv[1])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
