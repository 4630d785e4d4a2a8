"""Small templates pinning down one Jinja behaviour each, rendered by jinja2 for the golden file."""

DATA = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "  Hi there  "},
        {"role": "assistant", "content": "Hello!", "tool_calls": None},
        {"role": "user", "content": "Bye"},
    ],
    "name": "World",
    "n": 7,
    "x": 2.5,
    "neg": -7,
    "flag": True,
    "nothing": None,
    "empty": "",
    "items": [3, 1, 2],
    "words": ["b", "A", "c", "a"],
    "nested": {"a": {"b": {"c": 42}}, "list": [{"k": 1}, {"k": 2}, {"j": 3}]},
    "mapping": {"z": 1, "a": 2, "m": {"x": [1, 2.0, "three", None, True]}},
    "text": "Hello, World! hello again",
    "unicode": "ünïcödé — 中文 😀",
    "multiline": "line one\nline two\n\nline four\n",
    "tool": {"name": "get_weather", "description": "Weather \"now\"", "parameters": {"type": "object",
             "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    "big": 12345678901234,
    "floats": [0.1, 1e16, 1e-05, 123456789.125, 3.0, -0.0, 1e100, 2.5e-7],
}

S = []


def snippet(name, source, context=None):
    S.append((name, source, DATA if context is None else context))


# Whitespace control, trim_blocks and lstrip_blocks as transformers sets them.
snippet("ws/trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter")
snippet("ws/lstrip_blocks", "start\n    {% if true %}\n    inside\n    {% endif %}\nend")
snippet("ws/lstrip_after_text", "text {% if true %}x{% endif %} more")
snippet("ws/minus_both", "a   {%- if true -%}   b   {%- endif -%}   c")
snippet("ws/minus_variable", "a  \n {{- name -}} \n  b")
snippet("ws/plus_disables_lstrip", "a\n    {%+ if true %}x{% endif %}\nb")
snippet("ws/plus_disables_trim", "{% if true +%}\nx{% endif %}\ny")
snippet("ws/comment_trim", "a\n  {# comment #}\nb\n{#- c -#}\n  c")
snippet("ws/variable_no_trim", "{{ name }}\nnext")
snippet("ws/trailing_newline", "one\n")
snippet("ws/two_trailing_newlines", "one\n\n")
snippet("ws/crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc")
snippet("ws/indented_for", "<ul>\n  {% for i in items %}\n    <li>{{ i }}</li>\n  {% endfor %}\n</ul>")
snippet("ws/raw", "{% raw %}{{ not rendered }} {% if %}{% endraw %} ok")
snippet("ws/raw_minus", "a  {%- raw -%}  {{ x }}  {%- endraw -%}  b")
snippet("ws/tab_lstrip", "x\n\t\t{% if true %}y{% endif %}")
snippet("ws/unicode_space_strip", "a\u00a0\u2003{%- if true %}b{% endif %}")

# Literals and printing.
snippet("print/none_bool", "{{ none }} {{ None }} {{ true }} {{ False }} {{ nothing }}")
snippet("print/numbers", "{{ 1 }} {{ 1.0 }} {{ 1_000 }} {{ 1e3 }} {{ 2.5e-3 }} {{ 10 / 4 }} {{ 10 / 5 }} {{ 7 // 2 }}")
snippet("print/float_repr", "{% for f in floats %}{{ f }}|{% endfor %}")
snippet("print/list_dict", "{{ [1, 'a', \"b'c\", none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }}")
snippet("print/tuple", "{{ (1, 2) }} {{ () }} {{ (1,) }}")
snippet("print/string_escapes", r"""{{ 'a\tb\nc\\d\'e\"f' }}|{{ "\x41\u00e9\U0001F600\101" }}|{{ 'line\
cont' }}|{{ '\d\w' }}""")
snippet("print/adjacent_strings", "{{ 'a' 'b' \"c\" }}")
snippet("print/repr_unicode", "{{ [unicode, '\\x00\\x7f\\u00a0\\u200b\\n'] }}")
snippet("print/big_int", "{{ big * 1000 }} {{ -big }}")

# Operators.
snippet("op/arith", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }}")
snippet("op/float_arith", "{{ x * 2 }} {{ x + 1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }}")
snippet("op/bool_arith", "{{ true + 1 }} {{ true * 3 }} {{ false - 1 }} {{ -true }}")
snippet("op/concat", "{{ 'a' ~ 1 ~ none ~ true ~ 2.0 ~ undefined_var ~ [1] }}")
snippet("op/string_plus_times", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ 'x' * 0 }} {{ 'x' * -2 }}|")
snippet("op/list_plus_times", "{{ [1] + [2, 3] }} {{ [0] * 3 }} {{ items + [] }}")
snippet("op/compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' == 'a' }} {{ none == none }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}")
snippet("op/in", "{{ 'ell' in 'hello' }} {{ '' in 'x' }} {{ 2 in items }} {{ 'a' in mapping }} {{ 'q' not in mapping }} {{ 1 in undefined_var }} {{ 'role' in messages[0] }}")
snippet("op/logic", "{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ '' or none }} {{ not 0 }} {{ not 'a' }} {{ not undefined_var }}")
snippet("op/precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ not 1 == 2 }} {{ 'a' ~ (1 + 2) }} {{ 10 - 2 - 3 }} {{ 2 * 3 ~ 4 }}")
snippet("op/concat_binds_tighter_than_plus", "{{ 'a' ~ 1 + 2 }}")
snippet("op/ternary", "{{ 'yes' if flag else 'no' }} {{ 'yes' if nothing else 'no' }} [{{ 'only' if false }}] {{ 1 if false else 2 if true else 3 }}")
snippet("op/dict_equality", "{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ [1, [2]] == [1, [2]] }} {{ {'a': 1} == {'a': 1.0} }}")
snippet("op/undefined_equality", "{{ undefined_var == undefined_other }} {{ undefined_var == none }} {{ undefined_var != 1 }}")

# Attribute and item access.
snippet("access/attr_item", "{{ nested.a.b.c }} {{ nested['a']['b']['c'] }} {{ nested.list[1].k }} {{ nested.list.0.k }}")
snippet("access/negative_index", "{{ items[-1] }} {{ 'hello'[1] }} {{ 'hello'[-1] }} {{ messages[-1].content }}")
snippet("access/missing", "[{{ nested.zzz }}] [{{ items[10] }}] [{{ nested['nope'] }}] [{{ name.nope }}] {{ nested.zzz is defined }}")
snippet("access/dict_method_shadow", "{{ {'items': 5}['items'] }} {{ {'items': 5}.items() | list }}")
snippet("access/slices", "{{ items[1:] }} {{ items[:-1] }} {{ items[::-1] }} {{ items[::2] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ items[5:] }} {{ items[-10:2] }} {{ 'abcdef'[-2:0:-2] }}")
snippet("access/slice_messages", "{% for m in messages[1:] %}{{ m.role }},{% endfor %}")
snippet("access/loop_over_dict", "{% for k in mapping %}{{ k }}{% endfor %} {% for k, v in mapping.items() %}{{ k }}={{ v }};{% endfor %}")
snippet("access/string_iteration", "{% for c in 'héllo' %}{{ c }}-{% endfor %}")

# For loops.
snippet("for/loop_vars", "{% for i in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}")
snippet("for/prev_next", "{% for i in items %}[{{ loop.previtem }}<{{ i }}>{{ loop.nextitem }}]{% endfor %}")
snippet("for/cycle_changed", "{% for i in [1, 1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(i) }} {% endfor %}")
snippet("for/filter", "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}/{{ loop.length }} {% endfor %}")
snippet("for/else", "{% for i in [] %}x{% else %}empty{% endfor %} {% for i in items if i > 5 %}x{% else %}none big{% endfor %}")
snippet("for/unpack", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}{% for a, b in ['xy'] %}{{ b }}{{ a }}{% endfor %}")
snippet("for/nested_loop", "{% for i in [1, 2] %}{% for j in 'ab' %}{{ loop.index }}{{ j }}{% endfor %}{{ loop.index }};{% endfor %}")
snippet("for/outer_loop", "{% for i in [1, 2] %}{% set outer = loop %}{% for j in [1] %}{{ outer.index }}{% endfor %}{% endfor %}")
snippet("for/scope", "{% set x = 1 %}{% for i in items %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}")
snippet("for/scope_persists", "{% for i in items %}{% if loop.first %}{% set seen = i %}{% endif %}{{ seen }};{% endfor %}[{{ seen }}]")
snippet("for/break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}")
snippet("for/range", "{{ range(5) | list }} {{ range(2, 5) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}")
snippet("for/over_undefined", "{% for x in undefined_var %}x{% else %}nothing{% endfor %}")
snippet("for/loop_var_gone", "{% for i in items %}{% endfor %}[{{ i }}] {{ i is defined }}")
snippet("for/tuple_iter", "{% for x in 1, 2 %}{{ x }}{% endfor %}")

# If / set / namespace.
snippet("if/elif", "{% for v in [0, 1, 2] %}{% if v == 0 %}zero{% elif v == 1 %}one{% else %}many{% endif %} {% endfor %}")
snippet("set/basic", "{% set a = 1 %}{% set b, c = 2, 3 %}{{ a }}{{ b }}{{ c }}")
snippet("set/tuple_value", "{% set t = 1, 2 %}{{ t }}")
snippet("set/block", "{% set block %}Hello {{ name }}!{% endset %}[{{ block }}]")
snippet("set/block_filter", "{% set block | upper | trim %}  hello {{ name }}  {% endset %}[{{ block }}]")
snippet("set/namespace", "{% set ns = namespace(count=0, found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}")
snippet("set/namespace_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns['a'] }}")
snippet("set/top_level_override", "{% set messages = messages[1:] %}{{ messages | length }}{% if true %}{% set inner = 'x' %}{% endif %}{{ inner }}")
snippet("set/dict_global", "{% set d = dict(a=1, b='two') %}{{ d }} {{ d.b }}")

# Macros.
snippet("macro/basic", "{% macro greet(who, punct='!') %}Hello {{ who }}{{ punct }}{% endmacro %}{{ greet(name) }} {{ greet('you', punct='?') }} {{ greet() }}")
snippet("macro/recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}{{ fact(5) }}")
snippet("macro/json_to_type", "{%- macro t(s) -%}{%- if s.type == 'object' -%}dict[{%- for k, v in s.properties.items() -%}{{ k }}:{{ t(v) }}{% if not loop.last %},{% endif %}{%- endfor -%}]{%- elif s.type == 'array' -%}list[{{ t(s['items']) }}]{%- else -%}{{ s.type }}{%- endif -%}{%- endmacro -%}{{ t({'type': 'object', 'properties': {'a': {'type': 'string'}, 'b': {'type': 'array', 'items': {'type': 'integer'}}}}) }}")
snippet("macro/varargs_kwargs", "{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, 3, x=4) }}")
snippet("macro/sees_globals", "{% macro f() %}{{ name }}{{ later }}{% endmacro %}{% set later = '!' %}{{ f() }}")
snippet("macro/set_is_local", "{% set v = 'outer' %}{% macro f() %}{% set v = 'inner' %}{{ v }}{% endmacro %}{{ f() }}{{ v }}")

# Filters.
snippet("filter/trim_upper_lower", "[{{ '  x y  ' | trim }}] [{{ 'xxhixx' | trim('x') }}] {{ 'Hello' | upper }} {{ 'Hello' | lower }} {{ 'hello world' | capitalize }} {{ 'hELLO wORLD' | capitalize }}")
snippet("filter/title", "{{ 'hello world-foo (bar) [baz] <q> they\\'re x1y' | title }} | {{ \"they're bill's\".title() }}")
snippet("filter/length", "{{ items | length }} {{ 'héllo' | length }} {{ mapping | count }} {{ undefined_var | length }} {{ unicode | length }}")
snippet("filter/first_last", "{{ items | first }} {{ items | last }} {{ 'abc' | first }} {{ mapping | first }} [{{ [] | first }}] {{ mapping | last }}")
snippet("filter/join", "{{ items | join(', ') }} {{ 'abc' | join('-') }} {{ [1, none, true] | join }} {{ nested.list | join(',', attribute='k') }}")
snippet("filter/default", "{{ undefined_var | default('dflt') }} {{ nothing | default('dflt') }} {{ empty | default('dflt', true) }} {{ name | d('x') }} [{{ undefined_var | default }}]")
snippet("filter/tojson_basic", "{{ mapping | tojson }} {{ 'a\"b\\\\c\\n\u00e9\u2028\x01' | tojson }} {{ none | tojson }} {{ [true, false] | tojson }} {{ floats | tojson }}")
snippet("filter/tojson_indent", "{{ tool | tojson(indent=4) }}\n{{ tool | tojson(indent=2, sort_keys=true) }}\n{{ [] | tojson(indent=2) }}{{ {} | tojson(indent=2) }}")
snippet("filter/tojson_separators", "{{ mapping | tojson(separators=(',', ':')) }} {{ unicode | tojson(ensure_ascii=true) }}")
snippet("filter/string_int_float", "{{ 42 | string }} {{ none | string }} {{ '12' | int + 1 }} {{ '4.7' | int }} {{ 'abc' | int }} {{ 'abc' | int(-1) }} {{ 3.99 | int }} {{ ' 7 ' | int }} {{ '1_000' | int }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ true | int }}")
snippet("filter/list", "{{ 'abc' | list }} {{ mapping | list }} {{ range(3) | list }}")
snippet("filter/replace", "{{ text | replace('hello', 'bye') }} | {{ text | replace('l', 'L', 2) }} | {{ 'abc' | replace('', '-') }}")
snippet("filter/items", "{% for k, v in mapping | items %}{{ k }}:{{ v }};{% endfor %}{{ undefined_var | items | list }}")
snippet("filter/map", "{{ messages | map(attribute='role') | list }} {{ words | map('upper') | join }} {{ nested.list | map(attribute='k', default='none') | list }} {{ nested.list | map(attribute='k') | list }}")
snippet("filter/select_reject", "{{ items | select('odd') | list }} {{ items | reject('odd') | list }} {{ [0, 1, '', 'a', none] | select | list }} {{ [1, 2, 3, 4] | select('divisibleby', 2) | list }} {{ [1, 5, 9] | select('gt', 4) | list }}")
snippet("filter/selectattr", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }} {{ messages | selectattr('tool_calls', 'defined') | list | length }} {{ messages | selectattr('tool_calls') | list | length }}")
snippet("filter/unique_sort", "{{ [3, 1, 3, 2, 1] | unique | list }} {{ words | unique | list }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ items | sort(reverse=true) }} {{ nested.list[:2] | sort(attribute='k', reverse=true) }}")
snippet("filter/misc", "{{ -3 | abs }} {{ 2.567 | round(1) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.1 | round(0, 'ceil') }} {{ items | sum }} {{ items | max }} {{ items | min }} {{ words | max }} {{ items | reverse | list }} {{ 'abc' | reverse }} {{ 'a b  c' | wordcount }}")
snippet("filter/dictsort", "{{ mapping | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }}")
snippet("filter/indent", "[{{ multiline | indent }}] [{{ multiline | indent(2, true) }}] [{{ multiline | indent('> ', blank=true) }}]")
snippet("filter/escape_safe", "{{ '<a href=\"x\">Tom & \\'Jerry\\'</a>' | e }} {{ '<b>' | safe }} {{ 5 | escape }}")
snippet("filter/attr", "{{ nested | attr('a') }} [{{ mapping | attr('z') }}] {{ 'abc' | attr('upper') is callable }}")
snippet("filter/attr_of_undefined", "{{ nope | attr('x') }}")
snippet("filter/block", "{% filter upper %}hello {{ name }}{% endfilter %}")
snippet("filter/chain", "{{ '  Hello  ' | trim | lower | replace('l', 'L') | length }}")

# Tests.
snippet("test/types", "{{ name is string }} {{ n is number }} {{ x is number }} {{ flag is number }} {{ n is integer }} {{ flag is integer }} {{ x is float }} {{ flag is boolean }} {{ mapping is mapping }} {{ items is sequence }} {{ name is sequence }} {{ mapping is sequence }} {{ n is sequence }}")
snippet("test/iterable", "{{ name is iterable }} {{ items is iterable }} {{ mapping is iterable }} {{ n is iterable }} {{ undefined_var is iterable }} {{ nothing is iterable }}")
snippet("test/defined_none", "{{ name is defined }} {{ nope is defined }} {{ nope is undefined }} {{ nothing is none }} {{ nothing is not none }} {{ nope is none }} {{ not nope is defined }}")
snippet("test/true_false", "{{ flag is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }}")
snippet("test/compare", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 2 is eq 2 }} {{ 2 is equalto(2) }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ 'a' is in 'abc' }} {{ 2 is in items }} {{ 'x' is ne 'y' }} {{ 3 is ge 3 }} {{ 3 is le 2 }}")
snippet("test/string_case", "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'aBc' is lower }} {{ '123' is lower }}")
snippet("test/callable", "{{ range is callable }} {{ name is callable }} {{ name.upper is callable }} {{ raise_exception is callable }}")
snippet("test/sameas", "{{ none is sameas none }} {{ flag is sameas true }} {{ 1 is sameas true }}")

# Methods.
snippet("method/strip", "[{{ '  a  '.strip() }}] [{{ '  a  '.lstrip() }}] [{{ '  a  '.rstrip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ '\\n\\ta\\n'.strip() }}] [{{ '<think>x'.lstrip('<think>') }}]")
snippet("method/split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ '  a  b  '.split(None, 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }} {{ ''.split(',') }} {{ ''.split() }}")
snippet("method/startswith", "{{ text.startswith('Hello') }} {{ text.endswith('again') }} {{ text.startswith(('x', 'H')) }} {{ text.endswith('Hello', 0, 5) }} {{ text.startswith('') }}")
snippet("method/case", "{{ text.upper() }} {{ text.lower() }} {{ 'hello world'.title() }} {{ 'hello WORLD'.capitalize() }} {{ 'Hello'.swapcase() }} {{ 'straße'.upper() }}")
snippet("method/replace_find", "{{ text.replace('l', '_') }} {{ text.replace('l', '_', 2) }} {{ text.find('World') }} {{ text.find('zzz') }} {{ text.rfind('l') }} {{ text.count('l') }} {{ text.index('W') }}")
snippet("method/join_misc", "{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'a1'.isalnum() }} {{ '  '.isspace() }} {{ 'abc'.islower() }} {{ 'ABC'.isupper() }} {{ 'prefix-x'.removeprefix('prefix-') }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }}")
snippet("method/splitlines", "{{ multiline.splitlines() }} {{ 'a\\r\\nb\\rc'.splitlines() }}")
snippet("method/dict", "{{ mapping.keys() | list }} {{ mapping.values() | list | length }} {{ mapping.get('a') }} {{ mapping.get('nope') }} {{ mapping.get('nope', 'dflt') }} {% for k, v in mapping.items() %}{{ k }}{% endfor %}")
snippet("method/list", "{{ items.index(2) }} {{ items.count(3) }}")
snippet("method/format", "{{ '{} and {}'.format(name, n) }} {{ '{1}{0}{1}'.format('a', 'b') }} {{ 'Hi {who}! {{literal}}'.format(who=name) }} {{ '{!r} {!s}'.format(name, none) }} {{ '{}'.format([1, 'x']) }}")

# Globals.
snippet("global/strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %j %p %I %y %e %%') }}|{{ strftime_now('%-d/%-m') }}")
snippet("global/raise", "{% if true %}{{ raise_exception('Custom failure: ' ~ name) }}{% endif %}")
snippet("global/raise_in_macro", "{% macro check(m) %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}")

# Undefined semantics.
snippet("undef/print_and_truth", "[{{ nope }}] [{{ nope if nope else 'falsy' }}] [{{ nope | trim }}] [{{ nope | string }}] [{{ nope ~ 'x' }}]")
snippet("undef/attribute_error", "{{ nope.attr }}")
snippet("undef/nested_attribute_error", "{{ nested.zzz.yyy }}")
snippet("undef/add_error", "{{ nope + 1 }}")
snippet("undef/call_error", "{{ nope() }}")
snippet("undef/item_error", "{{ nope[0] }}")
snippet("undef/compare_error", "{{ nope < 1 }}")
snippet("undef/tojson_error", "{{ nope | tojson }}")
snippet("undef/int_error", "{{ nope | int }}")
snippet("undef/empty_messages", "{{ messages[0]['role'] }}", {"messages": []})
snippet("undef/messages_missing", "{% for m in messages %}{{ m }}{% endfor %}ok", {})

# Runtime errors jinja raises.
snippet("error/str_plus_int", "{{ 'a' + 1 }}")
snippet("error/division_by_zero", "{{ 1 / 0 }}")
snippet("error/not_iterable", "{% for x in 5 %}{% endfor %}")
snippet("error/unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}")
snippet("error/call_string", "{{ name() }}")
snippet("error/list_append_unsafe", "{% set l = [] %}{{ l.append(1) }}")
snippet("error/items_on_list", "{{ items | items | list }}")
snippet("error/ns_assign_non_namespace", "{% set d = {} %}{% set d.x = 1 %}")
snippet("error/range_too_big", "{{ range(100001) | length }}")
snippet("error/in_int", "{{ 1 in 5 }}")

# Syntax errors jinja reports at compile time.
snippet("syntax/unclosed_if", "{% if true %}\nno end")
snippet("syntax/unclosed_variable", "line1\n{{ name ")
snippet("syntax/bad_expression", "{{ 1 + }}")
snippet("syntax/unknown_tag", "a\nb\n{% frobnicate %}")
snippet("syntax/endfor_without_for", "{% endfor %}")
snippet("syntax/unclosed_comment", "{# never closed")
snippet("syntax/unclosed_string", "{{ 'abc }}")
snippet("syntax/unbalanced_paren", "{{ (1 + 2 }}")

# Reprs of template objects and tuples.
snippet("repr/objects", "{% set ns = namespace(a=1, b=[2]) %}{{ ns }} {% for i in items %}{% if loop.first %}{{ loop }}{% endif %}{% endfor %} {% macro greet() %}{% endmacro %}{{ greet }}")
snippet("repr/tuple_ops", "{{ (1,) + (2, 3) }} {{ (1, 2) == [1, 2] }} {{ (1, 2) == (1, 2) }} {{ (1, 2) * 2 }} {{ (1, 2, 3)[1:] }} {{ ((1, 2),) }}")
snippet("repr/tuple_plus_list", "{{ (1,) + [2] }}")
snippet("misc/float_sum", "{{ [0.1, 0.2] | sum }} {{ [1, 2.5] | sum(start=10) }} {{ nested.list[:2] | sum(attribute='k') }}")
snippet("misc/loop_depth", "{% for i in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}")
snippet("misc/content_checks", "{{ messages[-1]['content'] | trim | length > 2 }} {{ (messages | selectattr('role', 'equalto', 'user') | list | last).content }} {{ messages | map(attribute='content') | map('trim') | join('|') }}")

SNIPPETS = S
