"""The mock tokenizer: reversible, deterministic, consistent with the chat template."""
import pytest
from hypothesis import given, settings, strategies as st

from mocktools.vllm.tokenizer import BOS_ID, BYTE_OFFSET, DEFAULT_TOKENIZER as T, EOS_ID, Tokenizer, message_text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_decode_inverts_encode_for_any_text(text):
    assert T.decode(T.encode(text), skip_special_tokens=False) == text


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_incremental_decoder_yields_the_same_text(text):
    dec = T.incremental_decoder()
    ids = T.encode(text)
    assert "".join(dec.push(t) for t in ids) + dec.flush() == T.decode(ids)


def test_vocabulary_words_are_one_token_with_their_leading_space():
    ids = T.encode("Hello world the")
    assert [T.token_str(i) for i in ids] == ["Hello", " world", " the"]


def test_unknown_text_falls_back_to_bytes_and_specials_are_single_tokens():
    ids = T.encode("é<|user|>")
    assert ids[:2] == [BYTE_OFFSET + 0xC3, BYTE_OFFSET + 0xA9]
    assert T.token_str(ids[2]) == "<|user|>"
    assert T.token_str(BYTE_OFFSET + ord(",")) == ","
    assert T.token_str(BYTE_OFFSET + 0xC3) == "<0xC3>"


def test_bos_and_special_tokens_are_skipped_when_decoding():
    ids = T.encode("hi", add_special_tokens=True)
    assert ids[0] == BOS_ID
    assert T.decode(ids + [EOS_ID]) == "hi"
    assert T.decode([BOS_ID], skip_special_tokens=False) == "<s>"
    assert T.count("hi there", add_special_tokens=True) == len(T.encode("hi there")) + 1


def test_out_of_vocabulary_ids_are_rejected():
    assert not T.is_valid(T.vocab_size) and not T.is_valid(-1) and not T.is_valid(True)
    with pytest.raises(ValueError):
        T.decode([T.vocab_size])
    with pytest.raises(ValueError):
        T.token_str(-5)


def test_two_tokenizers_agree_and_custom_words_change_the_vocabulary():
    assert Tokenizer().encode("the quick fox") == T.encode("the quick fox")
    small = Tokenizer(["zebra"])
    assert len(small.encode(" zebra")) == 1 and small.vocab_size < T.vocab_size


def test_chat_template_and_message_text():
    text = T.apply_chat_template([{"role": "system", "content": "be brief"},
                                  {"role": "user", "content": [{"type": "text", "text": "hi"}, "there"]}])
    assert text == "<|system|>\nbe brief<|end|>\n<|user|>\nhi\nthere<|end|>\n<|assistant|>\n"
    assert T.apply_chat_template([{"role": "user", "content": None}], add_generation_prompt=False) == \
        "<|user|>\n<|end|>\n"
    assert message_text(7) == "7"
