"""Two-turn tool round trip with the openai client over lorad's Unix socket (ToolCallingAPITests runs it).

    python3 tool_round_trip.py SOCKET MODEL

Turn 1 offers get_weather and forces a call (tool_choice required; the fixture model is random, so it would not
call on its own): the answer must have finish_reason tool_calls and a call whose arguments parse and carry the
schema's required fields. Turn 2 sends the assistant's call and the tool's result back (role tool) and lets the
model answer (tool_choice none): a plain message. The same call, streamed with a named tool_choice, must arrive as
tool-call deltas. Prints one JSON line with what it saw; exits non-zero on any failure.
"""
import json
import sys

from openai import DefaultHttpxClient, OpenAI

try:  # the openai client's HTTP library: httpx2 in openai 3.x, httpx before
    import httpx2 as httpx
except ImportError:
    import httpx

socket, model = sys.argv[1], sys.argv[2]
# Over the Unix socket the daemon knows the caller by its uid; the client's placeholder bearer token is dropped.
def drop_token(request):
    request.headers.pop("Authorization", None)


client = OpenAI(api_key="unused", base_url="http://lorad/v1",
                http_client=DefaultHttpxClient(transport=httpx.HTTPTransport(uds=socket),
                                               event_hooks={"request": [drop_token]}))
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 6},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}]
messages = [{"role": "user", "content": "What is the weather in Oslo?"}]

first = client.chat.completions.create(model=model, messages=messages, tools=tools, tool_choice="required",
                                       parallel_tool_calls=False, max_tokens=100, temperature=0)
choice = first.choices[0]
assert choice.finish_reason == "tool_calls", choice
calls = choice.message.tool_calls
assert calls and calls[0].type == "function" and calls[0].function.name == "get_weather", calls
args = json.loads(calls[0].function.arguments)
assert set(args) == {"city", "unit"} and args["unit"] in ("celsius", "fahrenheit") and len(args["city"]) <= 6, args

messages.append({"role": "assistant", "content": None, "tool_calls": [
    {"id": calls[0].id, "type": "function",
     "function": {"name": calls[0].function.name, "arguments": calls[0].function.arguments}}]})
messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temperature": 21})})
second = client.chat.completions.create(model=model, messages=messages, tools=tools, tool_choice="none",
                                        max_tokens=4, temperature=0)
answer = second.choices[0]
assert answer.message.tool_calls is None and isinstance(answer.message.content, str), answer
assert answer.finish_reason in ("stop", "length"), answer
# The tool result reached the prompt: the second prompt is longer than the first by the call and the result.
assert second.usage.prompt_tokens > first.usage.prompt_tokens + 10, (first.usage, second.usage)

stream = client.chat.completions.create(model=model, messages=messages[:1], tools=tools, max_tokens=100, temperature=0,
                                        tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                        stream=True)
deltas, finish = [], None
for chunk in stream:
    c = chunk.choices[0]
    if c.delta.tool_calls:
        deltas += c.delta.tool_calls
    if c.finish_reason:
        finish = c.finish_reason
assert finish == "tool_calls", finish
assert deltas and deltas[0].index == 0 and deltas[0].function.name == "get_weather", deltas
assert json.loads("".join(d.function.arguments or "" for d in deltas)) == args, deltas
print(json.dumps({"arguments": args, "answer": answer.message.content, "streamed_deltas": len(deltas)}))
