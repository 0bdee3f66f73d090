#!/usr/bin/env python3
"""Writes the small seed corpora under Fuzz/corpus/<target>/ (checked in; rerun to regenerate).
Each seed starts with the control byte(s) its harness reads (see the header comment of each harness)."""
import json, os, shutil, struct

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")

def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# --- HTTP: raw requests -------------------------------------------------------------------------------------------
REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /inline?a=1&b=%20x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"model\":\"m\"}",
    b"POST /spool HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n",
    b"GET /stream HTTP/1.0\r\n\r\n",
    b"POST /reject HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nxxxx",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * 1100 + b"\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"GET /%00%ff/../a HTTP/1.1\r\nHost: a\r\nFoo:  bar \t\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"POST /x HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + b"z" * 3000,
    b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00",
    b"POST /spool HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"s" * 100,
]
for i, r in enumerate(REQUESTS):
    put("FuzzRequestParser", f"seed-{i:02d}", bytes([i * 17 % 256]) + r)
    put("FuzzHTTPServer", f"seed-{i:02d}", (bytes([3, 5, 20, 1]) if i % 2 else bytes([0])) + r)

# --- multipart ----------------------------------------------------------------------------------------------------
B = "----TailorBoundary7MA4YWxk"
def form(n="\r\n", pre="", epi=""):
    return (pre + f"--{B}{n}Content-Disposition: form-data; name=\"purpose\"{n}{n}fine-tune{n}"
            f"--{B}{n}Content-Disposition: form-data; name=\"file\"; filename=\"train \\\"1\\\".jsonl\"{n}"
            f"Content-Type: application/jsonl{n}{n}{{\"messages\":[]}}{n}--not-a-boundary{n}{n}--{B}X still{n}"
            f"--{B}--{n}" + epi).encode()
ct = f"multipart/form-data; boundary={B}\n".encode()
put("FuzzMultipart", "standard", b"\x07" + ct + form())
put("FuzzMultipart", "bare-lf", b"\x21" + ct + form("\n"))
put("FuzzMultipart", "preamble-epilogue", b"\x03" + ct + form(pre="preamble\r\n", epi="epilogue"))
put("FuzzMultipart", "quoted-boundary", b"\x10" + b'Multipart/Form-Data; charset=utf-8; boundary="a b;c"\n'
    + b'--a b;c\r\nContent-Disposition: form-data; name="x"; filename*=UTF-8\'\'na%C3%AFve.txt\r\n\r\nhi\r\n--a b;c--')
put("FuzzMultipart", "truncated", b"\x05" + ct + form()[:120])
put("FuzzMultipart", "empty-parts", b"\x09" + b"multipart/form-data; boundary=x\n--x\r\n\r\n\r\n--x\r\n\r\n--x--\r\n")

# --- API request bodies ---------------------------------------------------------------------------------------------
API = [
    (0, {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
         "temperature": 0.5, "top_p": 1, "n": 2, "max_tokens": 10, "stop": ["a", "b"], "stream": True,
         "stream_options": {"include_usage": True}, "logprobs": True, "top_logprobs": 3, "seed": -5,
         "logit_bias": {"12": -100, "7": 3.5}, "response_format": {"type": "text"}, "tools": []}),
    (0, {"model": "m", "messages": [{"role": "assistant", "content": None}, {"role": "tool", "content": "x", "tool_call_id": "c"}],
         "max_completion_tokens": 1e300, "presence_penalty": -2, "frequency_penalty": 2.0000001}),
    (0, {"model": "m", "messages": [{"role": "user", "content": "w?"},
                                    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                                    {"role": "tool", "content": "21", "tool_call_id": "c1"}],
         "tools": [{"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": {
             "type": "object", "properties": {"city": {"type": "string", "maxLength": 9, "pattern": "^[A-Z]"}, "u": {"enum": ["c", "f"]},
                                             "n": {"type": "integer", "minimum": -3, "maximum": 77}, "l": {"type": "array", "items": {"$ref": "#/$defs/x"}, "maxItems": 3}},
             "required": ["city"], "additionalProperties": False, "$defs": {"x": {"anyOf": [{"type": "null"}, {"type": "number"}]}}}}},
                   {"type": "function", "function": {"name": "g"}}],
         "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": False,
         "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object", "properties": {"a": {"type": "boolean"}}}}}}),
    (0, {"model": "m", "messages": [{"role": "user", "content": "json please"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"not": {}}}}}}],
         "tool_choice": "auto", "response_format": {"type": "json_object"}}),
    (1, {"model": "m", "prompt": "Once", "max_tokens": 16, "logprobs": 5, "echo": False, "suffix": ""}),
    (1, {"model": "m", "prompt": [1, 2, 3, 49151], "n": 128}),
    (1, {"model": "m", "prompt": [1e20], "stop": "x"}),
    (2, {"model": "m", "training_file": "file-1", "validation_file": "file-2", "suffix": "my-model.v1", "seed": 42,
         "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.1}}},
         "metadata": {"k": "v"}, "integrations": [{"type": "wandb"}],
         "tailor": {"lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05, "lora_targets": ["q", "v"], "base_learning_rate": 0.0002,
                    "checkpoint_interval": 10, "use_best_checkpoint": True, "early_stopping_patience": 2}}),
    (2, {"model": "m", "training_file": "f", "hyperparameters": {"n_epochs": "auto", "batch_size": 256, "learning_rate_multiplier": 1e-9}}),
]
for i, (ep, body) in enumerate(API):
    put("FuzzAPIRequests", f"seed-{i:02d}", bytes([ep]) + json.dumps(body).encode())
put("FuzzAPIRequests", "upload-ok", b"\x03fine-tune\n86400\n" + b'{"messages":[{"role":"user","content":"hi"}]}\r\n\n{"prompt":"a","completion":"b"}\n')
put("FuzzAPIRequests", "upload-bad", b"\x03fine-tune\n\n" + b'{"a":1}\n[1,2]\n\xff\xfe\n')
put("FuzzAPIRequests", "empty-body", b"\x02")
put("FuzzAPIRequests", "json-values", b"\x04" + json.dumps({"a": [1, 2.5, -0.0, 1e308, True, None, "\u2028\ud83d\ude00\\\"\x01"], "b": {"c": {}}}).encode())

# --- chat templates ---------------------------------------------------------------------------------------------------
conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|im_end|> {{ x }}"},
                {"role": "assistant", "content": "Hello", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"}, {"role": "user", "content": [{"type": "text", "text": "t"}]}]
for i in range(0, 72, 9):
    put("FuzzTemplates", f"fixture-{i:02d}", bytes([0, i]) + json.dumps(conversation).encode())
put("FuzzTemplates", "fixture-vars", bytes([2, 5]) + json.dumps({"messages": conversation[:2], "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "add_generation_prompt": False, "enable_thinking": True}).encode())
put("FuzzTemplates", "fixture-weird", bytes([4, 40]) + json.dumps([{"role": 5, "content": {"a": [1]}}, {"content": None}, "x"]).encode())
SOURCES = [
    "{% for m in messages %}{{ m['role'] | upper }}: {{ m.content | trim }}{% if not loop.last %}\n{% endif %}{% endfor %}",
    "{%- set ns = namespace(a=1) -%}{{ ns.a + 2 }} {{ 'x' ~ 3 }} {{ [1,2,3][1:] }} {{ {'a': 1}.items() | list }}",
    "{% if messages[0].role == 'system' %}{{ raise_exception('no') }}{% elif x is defined %}y{% else %}{{ bos_token }}{% endif %}",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }}{# c #}{% raw %}{{{% endraw %}",
    "{{ 'a,b'.split(',') }}{{ '  x '.strip() }}{{ 10 // 3 }}{{ 2 ** 3 }}{{ 'abc'[::-1] }}{{ none is none }}",
]
for i, s in enumerate(SOURCES):
    put("FuzzTemplates", f"source-{i:02d}", b"\x01" + s.encode())

# --- tokenizer ---------------------------------------------------------------------------------------------------
TEXTS = ["Hello world", " leading  spaces\n\n\ttabs", "naïve café ☕ 日本語 🤖", "<|im_start|>user\nhi<|im_end|>", "1234567 3.14 $$$",
         "\u2581 x", "don't I'll we've", "\x00\x7f"]
for i, t in enumerate(TEXTS):
    put("FuzzTokenizer", f"seed-{i:02d}", bytes([i]) + t.encode())
put("FuzzTokenizer", "invalid-utf8", b"\x03\xff\xfe\xc3\x28 abc \xe2\x82")

# --- model files --------------------------------------------------------------------------------------------------
def gstr(s):
    b = s.encode(); return struct.pack("<Q", len(b)) + b
def kv(key, typ, payload):
    return gstr(key) + struct.pack("<I", typ) + payload
def tiny_gguf():
    dim, hidden, vocab = 8, 16, 4
    tokens = ["a", "b", "ab", "<s>"]
    meta = [kv("general.architecture", 8, gstr("llama")), kv("general.alignment", 4, struct.pack("<I", 32)),
            kv("llama.embedding_length", 4, struct.pack("<I", dim)), kv("llama.attention.head_count", 4, struct.pack("<I", 2)),
            kv("llama.feed_forward_length", 4, struct.pack("<I", hidden)), kv("llama.block_count", 4, struct.pack("<I", 1)),
            kv("llama.context_length", 4, struct.pack("<I", 64)), kv("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
            kv("tokenizer.ggml.model", 8, gstr("gpt2")), kv("tokenizer.ggml.pre", 8, gstr("gpt2")),
            kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, len(tokens)) + b"".join(gstr(t) for t in tokens)),
            kv("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, 1) + gstr("a b")),
            kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 4) + struct.pack("<4i", 1, 1, 1, 3)),
            kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 3))]
    shapes = [("token_embd.weight", [dim, vocab]), ("output_norm.weight", [dim]), ("blk.0.attn_norm.weight", [dim]),
              ("blk.0.attn_q.weight", [dim, dim]), ("blk.0.attn_k.weight", [dim, dim]), ("blk.0.attn_v.weight", [dim, dim]),
              ("blk.0.attn_output.weight", [dim, dim]), ("blk.0.ffn_norm.weight", [dim]), ("blk.0.ffn_gate.weight", [dim, hidden]),
              ("blk.0.ffn_up.weight", [dim, hidden]), ("blk.0.ffn_down.weight", [hidden, dim])]
    infos, data = b"", b""
    for name, dims in shapes:
        n = 1
        for d in dims: n *= d
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", 0, len(data))
        data += struct.pack(f"<{n}f", *[(i % 7 - 3) / 8 for i in range(n)])
        data += b"\0" * (-len(data) % 32)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(shapes), len(meta)) + b"".join(meta) + infos
    head += b"\0" * (-len(head) % 32)
    return head + data
g = tiny_gguf()
put("FuzzModelFiles", "gguf-tiny-llama", b"\x00" + g)
put("FuzzModelFiles", "gguf-truncated", b"\x00" + g[:700])
put("FuzzModelFiles", "gguf-header-only", b"\x00" + b"GGUF" + struct.pack("<IQQ", 2, 0, 0))
vocab = os.path.join(ROOT, "..", "Tests", "TailorEngineTests", "Fixtures", "vocab")
for name in ("tiny-spm.gguf",):
    put("FuzzModelFiles", "gguf-" + name, b"\x00" + open(os.path.join(vocab, name), "rb").read())
def proto_field(number, value):
    """One protobuf field: bytes are length-delimited, floats fixed32, ints varints."""
    def varint(n):
        n &= (1 << 64) - 1
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if isinstance(value, float):
        return varint(number << 3 | 5) + struct.pack("<f", value)
    return varint(number << 3) + varint(value)
def spiece(pieces, charsmap=b""):
    """A SentencePiece ModelProto: pieces (text, score, type), a Unigram trainer spec, a normaliser spec."""
    body = b"".join(proto_field(1, proto_field(1, t.encode()) + proto_field(2, s) + proto_field(3, k)) for t, s, k in pieces)
    body += proto_field(2, proto_field(3, 1) + proto_field(35, 1) + proto_field(40, 2) + proto_field(41, -1)
                        + proto_field(42, 1) + proto_field(43, 0))
    body += proto_field(3, proto_field(1, b"nmt_nfkc") + (proto_field(2, charsmap) if charsmap else b"") + proto_field(3, 1))
    return body
PIECES = [("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2), ("<0xE2>", 0.0, 6), ("\u2581", -1.0, 1),
          ("a", -2.0, 1), ("\u2581a", -1.5, 1), ("\u2581Hello", -3.0, 1)]
# A charsmap of one Darts unit pair and one replacement, for the fuzzer to mutate into other tries.
put("FuzzModelFiles", "spiece-tiny", b"\x02" + spiece(PIECES))
put("FuzzModelFiles", "spiece-charsmap", b"\x02" + spiece(PIECES, struct.pack("<I", 8) + struct.pack("<2I", 1 << 10, 0x141) + b"x\0"))
def st(tensors, meta={"format": "pt"}):
    header, data = {"__metadata__": meta}, b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data
put("FuzzModelFiles", "st-f32", b"\x01" + st([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), ("b", "F16", [3], b"\0<" * 3)]))
put("FuzzModelFiles", "st-bf16", b"\x01" + st([("x", "BF16", [1, 4], b"\x80?" * 4), ("i", "I64", [1], b"\1" * 8)]))
put("FuzzModelFiles", "st-empty", b"\x01" + st([]))
