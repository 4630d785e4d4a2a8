#!/usr/bin/env python3
"""Golden outputs for the ChatTemplate tests, rendered the way Hugging Face transformers renders chat templates.

transformers' `apply_chat_template` compiles `chat_template` in an ImmutableSandboxedEnvironment with
trim_blocks/lstrip_blocks, the loopcontrols extension and a `generation` tag, overrides `tojson` with
`json.dumps(ensure_ascii=False, ...)`, and adds the `raise_exception` and `strftime_now` globals. It renders with
`messages`, `tools`, `documents`, `add_generation_prompt` and the special tokens. This script does the same with
jinja2 (3.1.x) and writes Fixtures/golden.json: the templates inline, each case's context and either the output,
the `raise_exception` message, or the Python exception.

Run from anywhere: python3 Tests/ChatTemplateTests/make_golden.py
"""

import json
import os
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from golden_templates import TEMPLATES, TOKENS
from golden_snippets import SNIPPETS

# strftime_now is frozen so outputs are stable; the Swift tests render with the same local time.
FIXED_NOW = datetime(2024, 12, 25, 10, 30, 0)


class Raised(jinja2.exceptions.TemplateError):
    """What transformers' raise_exception raises, told apart from jinja's own errors."""


class AssistantTracker(Extension):
    """transformers' `{% generation %}` tag: the body renders as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment():
    def raise_exception(message):
        raise Raised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()


def render(source, context):
    """Output, raise_exception message, or the exception jinja raised (at compile or render time)."""
    try:
        return {"output": ENV.from_string(source).render(**context)}
    except Raised as e:
        return {"raised": str(e.message)}
    except Exception as e:  # noqa: BLE001 - the exception class is the expected result
        return {"error": {"type": type(e).__name__, "message": str(e)}}


# Conversations -----------------------------------------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Hello, how are you?"}
ASSISTANT = {"role": "assistant", "content": "I'm doing great. How can I help you today?"}
USER2 = {"role": "user", "content": "Tell me a joke."}
ASSISTANT_SPACES = {"role": "assistant", "content": "   I am an assistant   "}
USER3 = {"role": "user", "content": "Another question"}

UNICODE_SYSTEM = {"role": "system", "content": "Réponds en français — toujours. 中文也可以 😀"}
UNICODE_USER = {"role": "user",
                "content": "He said \"hi\" & it's <b>bold</b>\n\tTabbed line\r\nWindows line\\n not a newline\n\n"}
UNICODE_ASSISTANT = {"role": "assistant", "content": "  Ünïcödé ✓ — 'quoted' \"double\" {{ not jinja }} {% raw %}  \n"}

CONVERSATIONS = {
    "system_user": [SYSTEM, USER],
    "user_only": [USER],
    "multi_turn": [SYSTEM, USER, ASSISTANT, USER2, ASSISTANT_SPACES, USER3],
    "no_system_multi": [USER, ASSISTANT, USER2],
    "ends_with_assistant": [USER, ASSISTANT],
    "unicode": [UNICODE_SYSTEM, UNICODE_USER, UNICODE_ASSISTANT, USER3],
    "bad_alternation": [USER, USER2],
    "system_only": [SYSTEM],
    "empty": [],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location — «météo»",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 14, "default": 1},
                "precision": {"type": "number", "default": 0.5},
                "alerts": {"type": "boolean", "default": False, "nullable": None},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        "return": {"type": "string"},
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

TOOL_QUERY = [SYSTEM, {"role": "user", "content": "What's the weather like in Paris?"}]
TOOL_CALL = {"role": "assistant", "content": "",
             "tool_calls": [{"id": "call00001", "type": "function",
                             "function": {"name": "get_current_weather",
                                          "arguments": {"location": "Paris, France", "unit": "celsius"}}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call00001", "name": "get_current_weather",
               "content": "{\"temperature\": 22, \"condition\": \"sunny\"}"}
TOOL_ROUNDTRIP = [
    SYSTEM,
    {"role": "user", "content": "What's the weather like in Paris?"},
    TOOL_CALL,
    TOOL_RESULT,
    {"role": "assistant", "content": "It is 22 °C and sunny in Paris."},
    {"role": "user", "content": "Thanks!"},
]

THINKING = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n2 + 2 = 4."},
    {"role": "user", "content": "And 3 + 3?"},
    {"role": "assistant", "content": "<think>\nAgain simple.\n</think>\n\n3 + 3 = 6."},
]

MULTIMODAL = [
    {"role": "system", "content": [{"type": "text", "text": "Describe images briefly."}]},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  What is in this picture?  "}]},
]

TOOL_TEMPLATES = ["llama-3.1-instruct", "llama-3.2-instruct", "mistral-7b-instruct-v0.3", "qwen2.5-instruct",
                  "qwen3"]


def context(template, messages, add_generation_prompt, **extra):
    ctx = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": add_generation_prompt}
    ctx.update(TOKENS[template])
    ctx.update(extra)
    return ctx


def cases():
    out = []
    for template in TEMPLATES:
        for conv_name, messages in CONVERSATIONS.items():
            for gen in (True, False):
                out.append((f"{template}/{conv_name}/{'gen' if gen else 'nogen'}", template,
                            context(template, messages, gen)))
    for template in TOOL_TEMPLATES:
        out.append((f"{template}/tools_query", template, context(template, TOOL_QUERY, True, tools=TOOLS)))
        out.append((f"{template}/tool_roundtrip", template, context(template, TOOL_ROUNDTRIP, True, tools=TOOLS)))
        out.append((f"{template}/tool_roundtrip_no_tools", template, context(template, TOOL_ROUNDTRIP, False)))
    out.append(("llama-3.1-instruct/tools_in_system", "llama-3.1-instruct",
                context("llama-3.1-instruct", TOOL_QUERY, True, tools=TOOLS, tools_in_user_message=False)))
    out.append(("llama-3.1-instruct/builtin_tools", "llama-3.1-instruct",
                context("llama-3.1-instruct",
                        [SYSTEM, {"role": "user", "content": "Search for Swift 6"},
                         {"role": "assistant", "tool_calls": [{"type": "function", "function": {
                             "name": "brave_search", "arguments": {"query": "Swift 6", "count": "3"}}}]},
                         {"role": "ipython", "content": {"results": ["a", "b"]}}],
                        True, builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"])))
    out.append(("llama-3.1-instruct/two_tool_calls", "llama-3.1-instruct",
                context("llama-3.1-instruct",
                        [{"role": "user", "content": "x"},
                         {"role": "assistant", "tool_calls": [TOOL_CALL["tool_calls"][0], TOOL_CALL["tool_calls"][0]]}],
                        True)))
    out.append(("llama-3.1-instruct/date_string", "llama-3.1-instruct",
                context("llama-3.1-instruct", [USER], True, date_string="01 Jan 2030")))
    out.append(("llama-3.2-instruct/date_string", "llama-3.2-instruct",
                context("llama-3.2-instruct", [USER], True, date_string="01 Jan 2030")))
    out.append(("mistral-7b-instruct-v0.3/bad_tool_id", "mistral-7b-instruct-v0.3",
                context("mistral-7b-instruct-v0.3",
                        [{"role": "user", "content": "x"},
                         {"role": "assistant", "tool_calls": [{"id": "short", "function": {"name": "f", "arguments": {}}}]}],
                        True)))
    out.append(("qwen3/thinking", "qwen3", context("qwen3", THINKING, True)))
    out.append(("qwen3/thinking_disabled", "qwen3", context("qwen3", THINKING[:3], True, enable_thinking=False)))
    out.append(("qwen3/reasoning_content", "qwen3",
                context("qwen3", [USER, {"role": "assistant", "content": "Fine.", "reasoning_content": "Be polite."}],
                        False)))
    out.append(("gemma-3-it/multimodal", "gemma-3-it", context("gemma-3-it", MULTIMODAL, True)))
    out.append(("gemma-3-it/bad_content", "gemma-3-it",
                context("gemma-3-it", [{"role": "user", "content": 42}], True)))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    golden = {
        "generator": "make_golden.py",
        "jinja2_version": jinja2.__version__,
        "strftime_now": FIXED_NOW.isoformat(),
        "templates": {name: t["source"] for name, t in TEMPLATES.items()},
        "origins": {name: t["origin"] for name, t in TEMPLATES.items()},
        "cases": [],
        "snippets": [],
    }
    for name, template, ctx in cases():
        golden["cases"].append({"name": name, "template": template, "context": ctx,
                                **render(TEMPLATES[template]["source"], ctx)})
    for name, source, ctx in SNIPPETS:
        golden["snippets"].append({"name": name, "source": source, "context": ctx, **render(source, ctx)})
    path = os.path.join(here, "Fixtures", "golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    counts = {k: sum(1 for c in golden["cases"] + golden["snippets"] if k in c) for k in ("output", "raised", "error")}
    print(f"wrote {path}: {len(golden['cases'])} cases, {len(golden['snippets'])} snippets, {counts}")


if __name__ == "__main__":
    main()
