"""Reply generation: deterministic default text, scripted replies, max_tokens, stop, logprobs."""
import pytest

from mocktools.vllm.generation import GenerationRequest, Generator, ReplyScript, SamplingParams
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T, EOS_ID


def req(prompt="hello", kind="completion", messages=None, **params):
    p = SamplingParams(max_tokens=params.pop("max_tokens", 200), **params)
    return GenerationRequest(kind, "m", prompt, T.encode(prompt), p, messages, {"prompt": prompt})


G = Generator(T, seed=0)


def test_default_reply_is_deterministic_and_ends_with_eos():
    a, b = G.generate(req()), G.generate(req())
    assert a.text == b.text and a.token_ids == b.token_ids
    assert a.finish_reason == "stop" and a.stop_reason is None and a.token_ids[-1] == EOS_ID
    assert a.text.endswith(".") and T.decode(a.token_ids) == a.text


def test_seed_prompt_and_index_change_the_reply_but_greedy_ignores_seed():
    base = G.generate(req()).text
    assert G.generate(req(seed=1)).text != G.generate(req(seed=2)).text
    assert G.generate(req(seed=1)).text == G.generate(req(seed=1)).text
    assert G.generate(req("other")).text != base
    r2 = req()
    r2.index = 1
    assert G.generate(r2).text != base
    assert G.generate(req(temperature=0.0, seed=1)).text == G.generate(req(temperature=0.0, seed=2)).text
    assert Generator(T, seed=5).generate(req()).text != base


def test_max_tokens_cuts_with_length_and_counts_tokens():
    out = G.generate(req(max_tokens=3), "one two three four")
    assert out.finish_reason == "length" and len(out.token_ids) == 3
    assert out.text == T.decode(T.encode("one two three four")[:3])


def test_scripted_reply_counts_its_tokens_plus_eos():
    out = G.generate(req(), "the answer")
    assert out.text == "the answer" and len(out.token_ids) == len(T.encode("the answer")) + 1
    exact = G.generate(req(max_tokens=len(T.encode("the answer"))), "the answer")
    assert exact.finish_reason == "length" and exact.text == "the answer"


def test_stop_strings_trim_the_text_and_report_the_reason():
    out = G.generate(req(stop=["wor", "zzz"]), "hello world again")
    assert out.text == "hello " and out.finish_reason == "stop" and out.stop_reason == "wor"
    kept = G.generate(req(stop=["world"], include_stop_str_in_output=True), "hello world again")
    assert kept.text == "hello world"
    spanning = G.generate(req(stop=["lo wo"]), "hello world")
    assert spanning.text == "hel" and "".join(spanning.pieces) == "hel"


def test_stop_token_ids_and_ignore_eos():
    ids = T.encode("a b c")
    out = G.generate(req(stop_token_ids=[ids[1]]), "a b c")
    assert out.stop_reason == ids[1] and out.text == "a" and len(out.token_ids) == 2
    long = G.generate(req(max_tokens=30, ignore_eos=True), "short")
    assert len(long.token_ids) == 30 and EOS_ID not in long.token_ids and long.finish_reason == "length"
    assert long.text.startswith("short ")


def test_logprobs_are_deterministic_and_sorted():
    out = G.generate(req(logprobs=3, max_tokens=5))
    assert len(out.logprobs) == 5
    for item, tid in zip(out.logprobs, out.token_ids):
        assert item.token_id == tid and item.logprob <= 0 and item.top[0] == (tid, item.logprob)
        assert len(item.top) == 3 and [lp for _, lp in item.top] == sorted([lp for _, lp in item.top], reverse=True)
    assert G.generate(req(logprobs=3, max_tokens=5)).logprobs == out.logprobs
    assert all(i.top == [] for i in G.generate(req(logprobs=0, max_tokens=2)).logprobs)


def test_multibyte_reply_cut_mid_character_flushes_replacement():
    out = G.generate(req(max_tokens=1), "é")
    assert out.finish_reason == "length" and out.text == "\ufffd"


def test_reply_script_priority_queue_table_function_fixed():
    s = ReplyScript()
    assert s.next_reply(req()) is None
    s.set_reply("fixed")
    s.set_reply_function(lambda r: "fn" if r.prompt == "use fn" else None)
    s.set_reply_table({"hello": "from table"})
    s.enqueue_replies(["q1", "q2"])
    assert [s.next_reply(req()) for _ in range(3)] == ["q1", "q2", "from table"]
    assert s.next_reply(req("use fn")) == "fn"
    assert s.next_reply(req("other")) == "fixed"
    chat = req("<|user|>\nhello<|end|>\n", kind="chat", messages=[{"role": "user", "content": "hello"}])
    assert chat.last_user_message == "hello" and s.next_reply(chat) == "from table"
    assert s.describe()["table_keys"] == ["hello"]
    s.clear()
    assert s.next_reply(req()) is None and s.describe()["queued"] == 0


def test_request_without_user_message():
    r = req(kind="chat", messages=[{"role": "system", "content": "x"}])
    assert r.last_user_message is None


@pytest.mark.parametrize("n", [1, 7, 40])
def test_default_text_respects_any_max_tokens(n):
    assert len(G.generate(req(max_tokens=n)).token_ids) <= n


def test_default_text_re_encodes_to_the_generated_ids():
    # the chat path hands the generator's ids to the token loop instead of re-encoding the text
    for seed in range(200):
        ids = G.default_token_ids(req(f"prompt {seed}", seed=seed))[:-1]
        assert T.encode(T.decode(ids)) == ids
        tail = G.generate(req(f"p{seed}", seed=seed, ignore_eos=True, max_tokens=120)).token_ids
        assert T.encode(T.decode(tail)) == tail


def test_default_replies_are_remembered_boundedly_and_handed_out_as_copies() -> None:
    """A repeated prompt's default reply comes from the memo: the same ids, a fresh list each time,
    and the memo never grows past its bound."""
    gen = Generator(T, seed=3)
    req = GenerationRequest("chat", "m", "a prompt", [1, 2], SamplingParams(max_tokens=16))
    first = gen.default_token_ids(req, 17)
    first.append(-1)  # a caller changing its copy
    again = gen.default_token_ids(req, 17)
    assert again == first[:-1] and gen.default_token_ids(req)[:17] == again
    fresh = Generator(T, seed=3)  # nothing remembered: the same draws
    assert fresh.default_token_ids(req, 17) == again and fresh.default_token_ids(req) == gen.default_token_ids(req)
    for i in range(Generator.MEMO_SIZE * 2 + 5):
        gen.default_token_ids(GenerationRequest("chat", "m", f"prompt {i}", [1], SamplingParams(max_tokens=4)), 5)
    assert len(gen._memo) <= Generator.MEMO_SIZE


def test_scripted_reply_ids_are_remembered_and_long_ones_tokenized_each_time(monkeypatch) -> None:
    """A scripted reply is tokenized once (a test that scripts one reply sends it many times);
    a reply past MEMO_TEXT characters is tokenized each time, so a memo entry stays small."""
    from mocktools.vllm.generation import MEMO_TEXT
    from mocktools.vllm.tokenizer import Tokenizer

    gen = Generator(Tokenizer(), seed=0)
    calls = []
    real = gen.tokenizer.encode
    monkeypatch.setattr(gen.tokenizer, "encode", lambda text, **kw: calls.append(len(text)) or real(text, **kw))
    first = gen.generate(req(max_tokens=50), "the same scripted reply")
    first.token_ids.append(-1)  # a caller changing its output
    again = gen.generate(req(max_tokens=50), "the same scripted reply")
    assert again.token_ids == first.token_ids[:-1] and again.text == "the same scripted reply"
    assert calls == [len("the same scripted reply")]
    long_reply = "word " * (MEMO_TEXT // 5 + 1)
    for _ in range(2):
        assert gen.generate(req(max_tokens=5), long_reply).token_ids == real(long_reply)[:5]
    assert calls[1:] == [len(long_reply)] * 2
