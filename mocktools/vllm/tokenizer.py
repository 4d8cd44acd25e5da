"""A small, deterministic, reversible tokenizer shared by every vLLM-mock code path.

Why a home-made tokenizer: usage counts, ``/tokenize``, ``/detokenize``, ``max_tokens`` and
``logprobs`` must all agree, and tests must be able to predict them without downloading a model.

The scheme (documented in docs/vllm.md):

* ids 0..2 are ``<unk>``, ``<s>`` (BOS) and ``</s>`` (EOS); ids 3..10 are the chat-template
  markers ``<|system|>``, ``<|user|>``, ``<|assistant|>``, ``<|tool|>``, ``<|developer|>``,
  ``<|function|>``, ``<|end|>``, ``<|pad|>``;
* ids 11..266 are the 256 byte tokens (printable ASCII shown as itself, others as ``<0xE2>``):
  any text can be encoded;
* ids from 267 are whole words from :data:`WORDS`, each in four spellings: ``word``,
  `` word``, ``Word``, `` Word`` (a leading space belongs to the word, as in GPT-style BPE).

Text is first split into pieces: special markers, then an optional space followed by a run of
letters, else one single character. A piece that is a vocabulary entry becomes one token; any
other piece becomes one byte token per UTF-8 byte. ``decode(encode(t)) == t`` for all text.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIAL_TOKENS: tuple[str, ...] = (
    "<unk>", "<s>", "</s>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|developer|>", "<|function|>",
    "<|end|>", "<|pad|>",
)
BYTE_OFFSET = len(SPECIAL_TOKENS)
WORD_OFFSET = BYTE_OFFSET + 256

#: The word vocabulary. The default generator only emits these words (one token each), so a
#: reply of N generated tokens is exactly N vocabulary tokens.
WORDS: tuple[str, ...] = tuple("""
the be to of and a in that have it for not on with he as you do at this but his by from they we say her
she or an will my one all would there their what so up out if about who get which go me when make can like
time no just him know take people into year your good some could them see other than then now look only
come its over think also back after use two how our work first well way even new want because any these
give day most us is are was were been has had did said model token server request reply stream data test
mock answer prompt value system user world hello yes sure here result fast slow small large simple clear
note case point fact part place thing word number line text code error status ready done start stop end
hello world quick brown fox jumps lazy dog red green blue light dark river mountain sky cloud rain sun moon
star tree stone water fire earth wind paper book story song voice music city road house door window table
""".split())

def _unique(words: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for w in words:
        seen.setdefault(w, None)
    return list(seen)


class Tokenizer:
    """Deterministic tokenizer; immutable and therefore thread-safe."""

    def __init__(self, words: Sequence[str] = WORDS) -> None:
        self.words = _unique(words)
        self._id_to_str: list[str] = list(SPECIAL_TOKENS)
        self._id_to_bytes: list[bytes] = [s.encode() for s in SPECIAL_TOKENS]
        for b in range(256):
            self._id_to_str.append(chr(b) if 0x20 <= b < 0x7F else f"<0x{b:02X}>")
            self._id_to_bytes.append(bytes([b]))
        for w in self.words:
            for form in (w, " " + w, w.capitalize(), " " + w.capitalize()):
                self._id_to_str.append(form)
                self._id_to_bytes.append(form.encode())
        self._vocab: dict[str, int] = {}
        for i in range(WORD_OFFSET, len(self._id_to_str)):
            self._vocab.setdefault(self._id_to_str[i], i)
        # one lookup per piece: the special markers first (a word never looks like one), then words
        self._pieces: dict[str, int] = {**self._vocab, **{s: i for i, s in enumerate(SPECIAL_TOKENS)}}
        # and an ASCII character that is no word: its byte token (what the byte fallback gives it)
        for b in range(128):
            self._pieces.setdefault(chr(b), BYTE_OFFSET + b)
        #: per word (aligned with ``words``): the ids of ``word``, `` word``, ``Word``, `` Word``
        self.word_forms: list[tuple[int, int, int, int]] = [
            (self._vocab[w], self._vocab[" " + w], self._vocab[w.capitalize()], self._vocab[" " + w.capitalize()])
            for w in self.words]
        #: id -> its text when it is whole on its own (a word or an ASCII byte), else None
        self._plain: list[str | None] = [None] * BYTE_OFFSET
        self._plain += [chr(b) if b < 0x80 else None for b in range(256)]
        self._plain += self._id_to_str[WORD_OFFSET:]
        specials = "|".join(re.escape(s) for s in SPECIAL_TOKENS)
        self._splitter = re.compile(rf"{specials}| ?[A-Za-z]+|.", re.DOTALL)

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_str)

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; ``add_special_tokens`` prepends BOS (as a Llama tokenizer does)."""
        ids = [BOS_ID] if add_special_tokens else []
        lookup = self._pieces.get
        for piece in self._splitter.findall(text):
            tid = lookup(piece)
            if tid is not None:
                ids.append(tid)
            else:
                ids.extend(BYTE_OFFSET + b for b in piece.encode("utf-8", "surrogatepass"))
        return ids

    def count(self, text: str, *, add_special_tokens: bool = False) -> int:
        return len(self.encode(text, add_special_tokens=add_special_tokens))

    # -- decoding ---------------------------------------------------------------------------
    def is_valid(self, token_id: int) -> bool:
        return isinstance(token_id, int) and not isinstance(token_id, bool) and 0 <= token_id < self.vocab_size

    def token_bytes(self, token_id: int) -> bytes:
        if not self.is_valid(token_id):
            raise ValueError(f"Token id {token_id} is out of vocabulary (size {self.vocab_size})")
        return self._id_to_bytes[token_id]

    def token_str(self, token_id: int) -> str:
        """The vocabulary spelling of one token (``<0xE2>`` for a non-ASCII byte)."""
        self.token_bytes(token_id)
        return self._id_to_str[token_id]

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        table, size = self._id_to_bytes, len(self._id_to_bytes)
        out = bytearray()
        for tid in ids:
            if type(tid) is not int or not 0 <= tid < size:
                self.token_bytes(tid)  # raises for anything out of vocabulary (bool included)
            if skip_special_tokens and tid < BYTE_OFFSET:
                continue
            out += table[tid]
        return out.decode("utf-8", errors="replace")

    def incremental_decoder(self) -> "IncrementalDecoder":
        return IncrementalDecoder(self)

    # -- chat template ----------------------------------------------------------------------
    @staticmethod
    def apply_chat_template(messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
        """Render messages as ``<|role|>\\ncontent<|end|>\\n`` ... then ``<|assistant|>\\n``."""
        parts = []
        for msg in messages:
            role = str(msg.get("role", "user"))
            parts.append(f"<|{role}|>\n{message_text(msg.get('content'))}<|end|>\n")
        if add_generation_prompt:
            parts.append("<|assistant|>\n")
        return "".join(parts)


def message_text(content: object) -> str:
    """Flatten OpenAI message content (string, list of parts, or None) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return str(content)


_UTF8_DECODER = codecs.getincrementaldecoder("utf-8")


class IncrementalDecoder:
    """Turns token ids into text pieces one at a time, holding back incomplete UTF-8 sequences
    (what vLLM's incremental detokenizer does for streaming)."""

    __slots__ = ("_dec", "_held", "_plain", "_tok")

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        self._plain = tokenizer._plain
        #: the UTF-8 decoder, made on the first token that is not whole on its own (most replies
        #: are words and ASCII only, and never need one)
        self._dec: codecs.IncrementalDecoder | None = None
        self._held = False  # the decoder holds the start of a multi-byte character

    def push(self, token_id: int) -> str:
        if 0 <= token_id < BYTE_OFFSET:
            return ""
        if not self._held and 0 <= token_id < len(self._plain):
            text = self._plain[token_id]
            if text is not None:  # a word or ASCII byte after a complete character: itself
                return text
        dec = self._dec
        if dec is None:
            dec = self._dec = _UTF8_DECODER(errors="replace")
        out = dec.decode(self._tok.token_bytes(token_id))
        self._held = bool(dec.getstate()[0])
        return out

    def push_all(self, token_ids: Iterable[int]) -> list[str]:
        """``[push(t) for t in token_ids]`` with the common case (a word or ASCII byte) looked up here."""
        plain, push = self._plain, self.push
        size = len(plain)
        out = []
        for tid in token_ids:
            text = plain[tid] if not self._held and BYTE_OFFSET <= tid < size else None
            out.append(text if text is not None else push(tid))
        return out

    def flush(self) -> str:
        dec = self._dec
        return "" if dec is None else dec.decode(b"", final=True)


DEFAULT_TOKENIZER = Tokenizer()
