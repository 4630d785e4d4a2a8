"""OpenAI API fidelity checks, run by OpenAIClientTests with the project's venv (openai 3.63.0).

usage: python3 openai_client_checks.py CHECK SOCKET TOKEN FIXTURE_DIR
Each check talks to a running lorad over its Unix socket through the official `openai` client (httpx over the
socket) and raises AssertionError with what differs. Exit status 0: the check passed.
"""
import json
import sys

import httpx2 as httpx
import openai
from openai.types import completion_create_params
from openai.types.chat import completion_create_params as chat_create_params

CHECK, SOCKET, TOKEN, FIXTURES = sys.argv[1:5]
MODEL = "tiny-llama"
http = httpx.Client(transport=httpx.HTTPTransport(uds=SOCKET), base_url="http://lorad", timeout=120)
client = openai.OpenAI(base_url="http://lorad/v1", api_key=TOKEN, http_client=http, max_retries=0)

# The fields lorad implements (docs/api.md); every other field of OpenAI's schemas must be refused.
COMPLETION_IMPLEMENTED = {"model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
                          "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
                          "temperature", "top_p"}   # response_format is a lorad extension on completions
CHAT_IMPLEMENTED = {"model", "messages", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens",
                    "max_completion_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
                    "temperature", "top_p", "response_format", "parallel_tool_calls"}
# Implemented, but only with a chat template that renders tools (this model's does not: 400 tools_unsupported);
# ToolCallingAPITests checks them on Qwen2.5's template.
NEEDS_TOOL_TEMPLATE = {"tools", "tool_choice"}
# A value for each field that asks for something (so a refusal is the only honest answer when it is not built).
SAMPLES = {
    "best_of": 2, "echo": True, "frequency_penalty": 0.5, "logit_bias": {"65": 2}, "logprobs": 2, "max_tokens": 3,
    "n": 2, "presence_penalty": 0.5, "seed": 7, "stop": ["\n"], "stream": True,
    "stream_options": {"include_usage": True}, "suffix": " the end", "temperature": 0.5, "top_p": 0.9,
    "user": "user-1234", "audio": {"voice": "alloy", "format": "mp3"}, "function_call": "auto",
    "functions": [{"name": "f", "parameters": {"type": "object"}}], "max_completion_tokens": 3,
    "metadata": {"k": "v"}, "modalities": ["text", "audio"], "parallel_tool_calls": True,
    "prediction": {"type": "content", "content": "x"}, "prompt_cache_key": "key", "reasoning_effort": "low",
    "response_format": {"type": "json_object"}, "safety_identifier": "sid", "service_tier": "flex", "store": True,
    "tool_choice": "auto", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "top_logprobs": 2, "verbosity": "low", "web_search_options": {}, "prompt_cache_retention": "24h",
}

CHAT_SAMPLES = {"logprobs": True}


def fields(params_module, base):
    names = set()
    for cls in params_module.__dict__.values():
        if isinstance(cls, type) and cls.__name__.startswith(base):
            for klass in cls.__mro__:
                names |= set(getattr(klass, "__annotations__", {}))
    return names


def walk(kind, schema_fields, implemented, required):
    assert implemented <= schema_fields, f"{kind}: documented fields not in the client's schema: {implemented - schema_fields}"
    for field in sorted(schema_fields - set(required) - (NEEDS_TOOL_TEMPLATE if kind == "chat" else set())):
        extra = {field: (CHAT_SAMPLES if kind == "chat" else {}).get(field, SAMPLES.get(field, "x"))}
        if field == "stream_options":
            extra["stream"] = True
        if field == "top_logprobs":
            extra["logprobs"] = True
        body = dict(required, **extra)
        if field == "max_completion_tokens":
            body.pop("max_tokens")   # both given must agree; this field alone is the point
        path = "/v1/chat/completions" if kind == "chat" else "/v1/completions"
        r = http.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        if field in implemented:
            assert r.status_code == 200, f"{kind}.{field}: implemented but answered {r.status_code} {r.text[:300]}"
        else:
            error = r.json().get("error", {}) if r.status_code == 400 else {}
            assert r.status_code == 400 and error.get("code") == "unsupported_parameter" and error.get("param") == field, \
                f"{kind}.{field}: expected 400 unsupported_parameter with param {field}, got {r.status_code} {r.text[:300]}"
    print(f"{kind}: {len(schema_fields)} fields walked, {len(implemented)} implemented")


def check_fields():
    walk("completion", fields(completion_create_params, "CompletionCreateParams"), COMPLETION_IMPLEMENTED,
         {"model": MODEL, "prompt": "Hello", "max_tokens": 2})
    walk("chat", fields(chat_create_params, "CompletionCreateParams"), CHAT_IMPLEMENTED,
         {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    # Refused values of refused fields pass when they ask for nothing lorad lacks.
    ok = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2,
                                        store=False, modalities=["text"], response_format={"type": "text"})
    assert ok.choices[0].finish_reason == "length"


def expect_400(param, call, code=None):
    try:
        call()
    except openai.BadRequestError as e:
        err = e.body if isinstance(e.body, dict) else {}
        assert err.get("param") == param, f"param {err.get('param')!r}, expected {param!r}: {err}"
        if code:
            assert err.get("code") == code, f"code {err.get('code')!r}, expected {code!r}"
        return err
    raise AssertionError(f"expected a 400 naming {param}")


def greedy(prompt, **kw):
    return client.completions.create(model=kw.pop("model", MODEL), prompt=prompt, max_tokens=kw.pop("max_tokens", 12),
                                     temperature=0, **kw)


def check_sampling():
    prompt = [2037, 39, 500, 77, 1203]
    plain = greedy(prompt, extra_body={"return_token_ids": True}).choices[0]
    forced = greedy(prompt, logit_bias={"65": 100}, extra_body={"return_token_ids": True}).choices[0]
    assert forced.token_ids == [65] * 12, forced.token_ids
    for kw in [dict(presence_penalty=2), dict(frequency_penalty=2), dict(extra_body={"repetition_penalty": 1.5})]:
        c = greedy(prompt, max_tokens=24, **{**kw, "extra_body": {**kw.get("extra_body", {}), "return_token_ids": True}})
        base = greedy(prompt, max_tokens=24, extra_body={"return_token_ids": True})
        assert c.choices[0].token_ids != base.choices[0].token_ids, f"{kw} changed nothing"
        # Lossless with lookahead: the same tokens with lookahead off and with an explicit window.
        for la in ["off", {"w": 4, "n": 3, "g": 4}]:
            c2 = greedy(prompt, max_tokens=24, **{**kw, "extra_body": {**kw.get("extra_body", {}), "return_token_ids": True, "lookahead": la}})
            assert c2.choices[0].token_ids == c.choices[0].token_ids, f"{kw} with lookahead {la}"
    expect_400("presence_penalty", lambda: greedy(prompt, presence_penalty=5))
    expect_400("frequency_penalty", lambda: greedy(prompt, frequency_penalty=-2.5))
    expect_400("logit_bias", lambda: greedy(prompt, logit_bias={"65": 101}))
    expect_400("logit_bias", lambda: greedy(prompt, logit_bias={"999999": 1}))
    expect_400("stop_token_ids", lambda: greedy(prompt, extra_body={"stop_token_ids": [999999]}))
    # stop_token_ids ends at that id; min_tokens holds it back; ignore_eos keeps going past EOS ids.
    first = plain.token_ids[0]
    stopped = greedy(prompt, extra_body={"stop_token_ids": [first], "return_token_ids": True}).choices[0]
    assert stopped.token_ids == [first] and stopped.finish_reason == "stop", stopped
    held = greedy(prompt, extra_body={"stop_token_ids": [first], "min_tokens": 4, "return_token_ids": True}).choices[0]
    assert len(held.token_ids) >= 4 and first not in held.token_ids[:4], held.token_ids
    # top_k 1 and min_p 1 are greedy whatever the temperature.
    for extra in [{"top_k": 1}, {"min_p": 1.0}]:
        c = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=1.5, seed=3,
                                      extra_body={**extra, "return_token_ids": True})
        assert c.choices[0].token_ids == plain.token_ids, f"{extra}: {c.choices[0].token_ids} vs {plain.token_ids}"


def check_choices():
    prompt = "Once upon a time"
    many = client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=1, seed=11, n=3)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert len({c.text for c in many.choices}) > 1, "n samples are not all the same"
    # Choice j of a seeded request is the single request with seed + j.
    for j in range(3):
        one = client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=1, seed=11 + j)
        assert one.choices[0].text == many.choices[j].text, (j, one.choices[0].text, many.choices[j].text)
    assert many.usage.prompt_tokens == client.completions.create(model=MODEL, prompt=prompt, max_tokens=1).usage.prompt_tokens
    assert many.usage.completion_tokens == sum(1 for _ in range(3)) * 8
    # Prompt lists: one choice per prompt (n each), indexed prompt by prompt; strings or token-id lists.
    prompts = ["Hello", "The weather is"]
    listed = client.completions.create(model=MODEL, prompt=prompts, max_tokens=6, temperature=0, n=2)
    assert [c.index for c in listed.choices] == [0, 1, 2, 3]
    for i, p in enumerate(prompts):
        alone = greedy(p, max_tokens=6).choices[0].text
        assert listed.choices[2 * i].text == alone and listed.choices[2 * i + 1].text == alone, (p, alone, listed.choices)
    ids = [[2037, 39, 500], [2037, 1203, 9, 9]]
    by_ids = client.completions.create(model=MODEL, prompt=ids, max_tokens=5, temperature=0)
    assert [c.text for c in by_ids.choices] == [greedy(i, max_tokens=5).choices[0].text for i in ids]
    # best_of: n of best_of candidates, highest cumulative logprob first.
    best = client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=1, seed=5, best_of=4, n=2,
                                     logprobs=0)
    assert len(best.choices) == 2
    cands = [client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=1, seed=5 + j, logprobs=0)
             for j in range(4)]
    ranked = sorted(cands, key=lambda c: -sum(c.choices[0].logprobs.token_logprobs))
    assert [c.text for c in best.choices] == [r.choices[0].text for r in ranked[:2]]
    expect_400("best_of", lambda: client.completions.create(model=MODEL, prompt=prompt, best_of=1, n=2))
    expect_400("best_of", lambda: client.completions.create(model=MODEL, prompt=prompt, best_of=3, stream=True))
    # Chat: n choices.
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                                          n=2, temperature=0)
    assert [c.index for c in chat.choices] == [0, 1] and chat.choices[0].message.content == chat.choices[1].message.content
    # Streams carry each choice's index.
    seen = {}
    for chunk in client.completions.create(model=MODEL, prompt=prompt, max_tokens=6, temperature=1, seed=11, n=3, stream=True):
        for c in chunk.choices:
            seen[c.index] = seen.get(c.index, "") + c.text
    assert [seen[j] for j in range(3)] == [c.text for c in many.choices][:3] or all(
        many.choices[j].text.startswith(seen[j]) for j in range(3)), seen


def check_echo():
    ref = json.load(open(f"{FIXTURES}/tiny-llama/prompt_logprobs.json"))
    for variant, rows in ref["variants"].items():
        model = MODEL if variant == "__base__" else variant
        r = client.completions.create(model=model, prompt=ref["prompts"], max_tokens=0, echo=True, logprobs=3)
        assert [c.index for c in r.choices] == list(range(len(ref["prompts"])))
        worst = 0.0
        for c, ids, row in zip(r.choices, ref["prompts"], rows):
            lp = c.logprobs
            assert len(lp.tokens) == len(ids) and lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
            for got, want in zip(lp.token_logprobs[1:], row["token_logprobs"]):
                worst = max(worst, abs(got - want))
            for top, want in zip(lp.top_logprobs[1:], row["top3"]):
                assert abs(max(top.values()) - want[0][1]) < 1e-4, (top, want)
        assert worst < 1e-4, f"{variant}: echo logprobs differ from transformers by {worst}"
        print(f"{variant}: echo logprobs within {worst:.2e} of transformers")
    # With generated tokens: the prompt's entries, then the new ones; the text starts with the prompt.
    r = client.completions.create(model=MODEL, prompt="Hello there", max_tokens=3, echo=True, logprobs=1, temperature=0)
    c = r.choices[0]
    assert c.text.startswith("Hello there") and len(c.logprobs.tokens) == r.usage.prompt_tokens + 3
    plain = greedy("Hello there", max_tokens=3).choices[0].text
    assert c.text == "Hello there" + plain
    streamed = "".join(ch.choices[0].text for ch in client.completions.create(
        model=MODEL, prompt="Hello there", max_tokens=3, echo=True, temperature=0, stream=True) if ch.choices)
    assert streamed == c.text, (streamed, c.text)


def check_stream_usage():
    chunks = list(client.completions.create(model=MODEL, prompt="Hi", max_tokens=4, stream=True,
                                            stream_options={"include_usage": True}, extra_body={"ignore_eos": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4, chunks[-1]
    assert all(c.usage is None for c in chunks[:-1])
    plain = list(client.completions.create(model=MODEL, prompt="Hi", max_tokens=4, stream=True))
    assert all(c.usage is None for c in plain) and all(c.choices for c in plain)
    chat = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3,
                                               stream=True, stream_options={"include_usage": True},
                                               extra_body={"ignore_eos": True}))
    assert chat[-1].choices == [] and chat[-1].usage.completion_tokens == 3
    expect_400("stream_options", lambda: client.completions.create(model=MODEL, prompt="Hi", stream_options={"include_usage": True}))


def check_requests():
    # GET /v1/models/{id}
    assert client.models.retrieve("a0-r4-all").id == "a0-r4-all"
    assert client.models.retrieve(MODEL).id == MODEL
    try:
        client.models.retrieve("no-such-model")
        raise AssertionError("retrieve of an unknown model succeeded")
    except openai.NotFoundError:
        pass
    # LoRAX's adapter_id runs the adapter.
    via_id = greedy("Hello", extra_body={"adapter_id": "a0-r4-all"})
    via_model = greedy("Hello", model="a0-r4-all")
    assert via_id.choices[0].text == via_model.choices[0].text != greedy("Hello").choices[0].text
    assert via_id.model_extra["lorad"]["adapter"] == "a0-r4-all"
    # Roles, empty prompts, top_logprobs without logprobs, tool messages, the param of errors.
    expect_400("messages[0].role", lambda: client.chat.completions.create(model=MODEL, messages=[{"role": "bogus", "content": "x"}]))
    for role in ["system", "developer", "user", "assistant"]:
        client.chat.completions.create(model=MODEL, messages=[{"role": role, "content": "x"}], max_tokens=1)
    expect_400("messages[0].function_call", lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "assistant", "content": "x", "function_call": {"name": "f", "arguments": "{}"}}]),
        "unsupported_parameter")
    expect_400("prompt", lambda: client.completions.create(model=MODEL, prompt=""))
    expect_400("prompt", lambda: client.completions.create(model=MODEL, prompt=[]))
    expect_400("top_logprobs", lambda: client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], top_logprobs=2))
    expect_400("temperature", lambda: client.completions.create(model=MODEL, prompt="x", temperature=3))
    expect_400("max_tokens", lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=3, max_completion_tokens=4))
    expect_400("guided_json", lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], extra_body={"guided_json": {"type": "object"}}),
        "unsupported_parameter")
    # vLLM's tokenize/detokenize.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    t = http.post("/v1/tokenize", json={"model": MODEL, "prompt": "Hello there"}, headers=auth).json()
    assert t["count"] == len(t["tokens"]) and t["max_model_len"] > 0 and t["tokens"][0] == 2037, t
    m = http.post("/v1/tokenize", json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}, headers=auth).json()
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
    assert m["count"] == chat.usage.prompt_tokens, (m, chat.usage)
    d = http.post("/v1/detokenize", json={"model": MODEL, "tokens": t["tokens"][1:]}, headers=auth).json()
    assert d["prompt"] == "Hello there", d
    bad = http.post("/v1/tokenize", json={"model": MODEL, "prompt": "x", "frob": 1}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "frob"


def check_rate_limit():
    # (First, while nothing runs.) More choices than the tenant may ever run at once: 400, not a 429 that no retry could cure.
    try:
        client.completions.create(model=MODEL, prompt="Hi", max_tokens=2, n=2)
        raise AssertionError("n above the tenant's limit was accepted")
    except openai.BadRequestError as e:
        assert "exceed" in e.body.get("message", ""), e.body
    # The token's tenant may run one request at a time (the test made it so): a second gets 429 with Retry-After.
    stream = client.completions.create(model=MODEL, prompt="Hi", max_tokens=400, stream=True,
                                       extra_body={"ignore_eos": True})
    next(iter(stream))
    try:
        client.completions.create(model=MODEL, prompt="Hi", max_tokens=2)
        raise AssertionError("no 429")
    except openai.RateLimitError as e:
        assert e.response.headers.get("retry-after") == "1", dict(e.response.headers)
        assert e.body.get("code") == "rate_limited", e.body
    stream.close()


{"fields": check_fields, "sampling": check_sampling, "choices": check_choices, "echo": check_echo,
 "stream_usage": check_stream_usage, "requests": check_requests, "rate_limit": check_rate_limit}[CHECK]()
print(f"{CHECK}: ok")
