"""The texts Tailor's tokenizers are checked on, and the text the tiny test vocabularies are trained on.

CORPUS is built to hit every branch of the pre-tokenizers and the special-token splitter: scripts with and
without spaces, combining marks, emoji sequences, digit runs, whitespace runs, contractions, code, and the
special tokens written inside text. llama.cpp's own tokenizer test texts (tests/test-tokenizer-0, shipped
as models/ggml-vocab-*.gguf.inp in the llama.cpp source) are appended by make_fixtures.py.
"""

CORPUS = [
    ("empty", ""),
    ("space", " "),
    ("two-spaces", "  "),
    ("newline", "\n"),
    ("tab", "\t"),
    ("hello", "Hello world"),
    ("hello-leading-space", " Hello world"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("contractions", "I'm sure it's fine, we're done, they'll see, you've won, he'd know, don't."),
    ("contractions-upper", "IT'S WE'RE THEY'LL I'M DON'T YOU'VE HE'D 'S 'Re 'lL"),
    ("apostrophes", "rock'n'roll ''' 's 'tis l'été don\u2019t it\u2019s 'x '"),
    ("accents", "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m fa\u00e7ade jalape\u00f1o \u00d8resund Stra\u00dfe \u0141\u00f3d\u017a"),
    ("combining", "e\u0301 a\u0308 n\u0303 \u1e9b\u0323 \u0915\u093f"),
    ("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a."),
    ("greek", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5\u00b7 \u03be\u03b5\u03c3\u03ba\u03b5\u03c0\u03ac\u03b6\u03c9 \u03c4\u03b7\u03bd \u03c8\u03c5\u03c7\u03bf\u03c6\u03b8\u03cc\u03c1\u03b1 \u03b2\u03b4\u03b5\u03bb\u03c5\u03b3\u03bc\u03af\u03b1."),
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f \u0661\u0662\u0663\u0664 \u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u064e\u0651\u0629"),
    ("hebrew", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05de\u05d4 \u05e9\u05dc\u05d5\u05de\u05da? \u05e2\u05b4\u05d1\u05b0\u05e8\u05b4\u05d9\u05ea"),
    ("devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e\u0964 \u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0932\u093f\u0916\u093e \u0917\u092f\u093e \u0935\u093e\u0915\u094d\u092f \u096a\u096b\u096c\u0964"),
    ("chinese", "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6211\u4eec\u4eca\u5929\u5b66\u4e60\u5206\u8bcd\u3002\u6c49\u5b57\u6ca1\u6709\u7a7a\u683c\u3002"),
    ("japanese", "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\u3001\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002\uff8a\uff9d\uff76\uff78\u30ab\u30ca"),
    ("korean", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! \ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4."),
    ("thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07\u0e23\u0e30\u0e2b\u0e27\u0e48\u0e32\u0e07\u0e04\u0e33"),
    ("emoji", "\U0001f44b\U0001f30d\U0001f389 ok \U0001f44d\U0001f3fd \U0001f469\u200d\U0001f4bb \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f3f3\ufe0f\u200d\U0001f308 \u2764\ufe0f \U0001f1eb\U0001f1f7 1\ufe0f\u20e3"),
    ("emoji-skin", "\U0001f44b\U0001f3fb\U0001f44b\U0001f3fc\U0001f44b\U0001f3fd\U0001f44b\U0001f3fe\U0001f44b\U0001f3ff \U0001f9d1\U0001f3fd\u200d\U0001f91d\u200d\U0001f9d1\U0001f3ff"),
    ("digits", "3.14159265358979 1234567890 000123 12,345,678.90 2024-06-01T12:30:00Z 1e10 0x1F -42 +7"),
    ("digit-run", "31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679"),
    ("numbers-unicode", "\u00b2\u00b3 \u00bd \u216b \u0663\u0664 \u096a\u0968 \u4e00\u4e8c\u4e09 \u2460\u2461 \uff11\uff12\uff13"),
    ("spaces-inner", "a  b   c    d     e"),
    ("spaces-trailing", "trailing spaces   "),
    ("spaces-leading", "   leading spaces"),
    ("spaces-only", "        "),
    ("tabs", "\t\tindented\twith\ttabs\t"),
    ("newlines", "\n\n\nparagraph one\n\nparagraph two\n\n\n"),
    ("crlf", "line one\r\nline two\r\n\r\nline four\r"),
    ("mixed-whitespace", " \t \n \u00a0 x \u3000 y\u2003z \u2028 end \u0085"),
    ("space-newline-word", "x \n\n  y\t\n z  \n"),
    ("python", "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint(f\"{fib(10)=}\")  # 55\n"),
    ("swift", "struct Point: Hashable {\n\tvar x, y: Double\n\tstatic func + (l: Point, r: Point) -> Point { .init(x: l.x + r.x, y: l.y + r.y) }\n}\nlet p = Point(x: 1.5, y: -2)\n"),
    ("c", "#include <stdio.h>\nint main(int argc, char **argv) {\n    for (int i = 0; i < argc; ++i) printf(\"%s\\n\", argv[i]);\n    return 0;\n}\n"),
    ("javascript", "const add = (a, b) => a + b;\nexport default async function main() {\n  const res = await fetch('/v1/models');\n  console.log(`${res.status} ${JSON.stringify(await res.json())}`);\n}\n"),
    ("rust", "fn main() {\n    let v: Vec<u32> = (1..=10).filter(|x| x % 2 == 0).collect();\n    println!(\"{:?}\", v);\n}\n"),
    ("sql-shell", "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY id DESC LIMIT 10;\n$ ls -la ~/models | grep -E '\\.gguf$' && echo \"ok\" >> /tmp/log.txt 2>&1\n"),
    ("html", "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>T&amp;C</title></head><body><p class='x'>Hi&nbsp;there</p></body></html>"),
    ("url", "See https://example.com/path/to/page?query=1&b=two#frag or http://127.0.0.1:8080/v1/chat/completions and mailto:someone@example.org."),
    ("json", "{\"model\": \"smollm2\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi \\u00e9\"}], \"temperature\": 0.7, \"n\": 1, \"stop\": null, \"ok\": true}"),
    ("json-pretty", "{\n  \"id\": \"ftjob-abc123\",\n  \"status\": \"running\",\n  \"hyperparameters\": {\n    \"n_epochs\": 3,\n    \"learning_rate_multiplier\": 2.0e-4\n  }\n}"),
    ("markdown", "# Title\n\n| col A | col B |\n|------:|:------|\n| **bold** | _it_ |\n\n- [x] done\n- [ ] todo\n\n> quote\n\n```bash\nmake test\n```\n"),
    ("latex", "$$\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$$ and $\\alpha \\le \\beta$"),
    ("repeats", "!!!!!!!!!!!! ============ aaaaaaaaaaaaaaaaaaaaaaaaa ........ ------ ~~~~ ____ '''' \"\"\"\""),
    ("punctuation-mix", "Wait... what?! (Yes) [no] {maybe} <tag> a/b\\c @user #tag $5 50% ^_^ a*b+c=d | e~f `code`"),
    ("unicode-punct", "\u00ab\u00a0Bonjour\u00a0\u00bb \u2014 \u201cquoted\u201d \u2018single\u2019 \u2026 \u00bfQu\u00e9? \u00a1S\u00ed! \u3010\u62ec\u5f27\u3011 \u300c\u5f15\u7528\u300d \u2022 \u00a7 \u00b6 \u2020"),
    ("symbols", "\u20ac100 \u00a35 \u00a5300 \u20b9 \u2211 \u221a \u221e \u2248 \u2260 \u2264 \u2265 \u00b1 \u00d7 \u00f7 \u00b0C \u2122 \u00a9 \u00ae \u2190\u2192 \u2605 \u266b"),
    ("format-controls", "zero\u200bwidth soft\u00adhyphen \ufeffbom ltr\u200emark word\u200djoiner \u2060"),
    ("ascii-controls", "bell\x07 null\x00 esc\x1b[31m del\x7f vt\x0b ff\x0c"),
    ("private-use", "\ue000\uf8ff \U000f0000 tag\U000e0041"),
    ("mixed-scripts", "English, \u0420\u0443\u0441\u0441\u043a\u0438\u0439, \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, \u0627\u0644\u0639\u0631\u0628\u064a\u0629, \u05e2\u05d1\u05e8\u05d9\u05ea, \u0939\u093f\u0928\u094d\u0926\u0940, \u4e2d\u6587, \u65e5\u672c\u8a9e, \ud55c\uad6d\uc5b4, \u0e44\u0e17\u0e22 \u2014 all in one line 123."),
    ("special-chat", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"),
    ("special-inline", "abc<|endoftext|>def <|im_end|>ghi"),
    ("special-adjacent", "<|im_end|><|im_end|><|im_start|><|endoftext|>"),
    ("special-partial", "<|im_start <|im_end| im_start|> <| |> <|im_start|"),
    ("special-spaces", " <|im_start|> user <|im_end|> \n"),
    ("special-spm", "<s>Hello</s> <unk> [INST] question [/INST]"),
    ("special-other", "<repo_name>tailor<file_sep>main.swift<reponame><|endoftext|><|begin_of_text|><|eot_id|><|start_header_id|>"),
    ("long-word", "Pneumonoultramicroscopicsilicovolcanoconiosis Donaudampfschifffahrtsgesellschaftskapit\u00e4nswitwe"),
    ("paragraph", "Tailor is a self-hosted, OpenAI-compatible fine-tuning server. It accepts JSONL training files "
                  "(chat or prompt/completion), trains LoRA adapters on a base model such as SmolLM2-135M-Instruct, "
                  "and serves /v1/chat/completions with streaming. Costs: $0.00; latency ~12ms/token on 2 cores.\n"
                  "Il supporte aussi le fran\u00e7ais, \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u044f\u0437\u044b\u043a, \u4e2d\u6587 und Deutsch \u2014 \u00fcberall gleich.\n"),
]


TRAINING_TEXT = """\
The tokenizer turns text into numbers, and the model turns numbers into text again.
A byte-level vocabulary can spell every string, because every byte has a token of its own.
Merges join the most frequent pairs first: t h becomes th, th e becomes the, and so on.
She said it's late; we're tired, they'll wait, and you've seen how I'd answer.
Numbers such as 2024, 3.14159 and 1,000,000 are split into digits by some tokenizers.
Code is text too: for i in range(10): print(i * 2) # comment
func greet(_ name: String) -> String { return "Hello, \\(name)!" }
if (x != 0 && y <= 10) { return x / y; } else { return -1; }
{"role": "user", "content": "What is the capital of France?"}
https://www.example.com/index.html?lang=en&page=2
Le français utilise des accents : é, è, ê, à, ç, ô, î, ù.
Deutsche Wörter sind oft lang: Straßenbahnhaltestelle, Überraschung, Größe.
Español: ¿Dónde está la estación? ¡Muy bien, gracias!
Русский язык использует кириллицу: привет, спасибо, пожалуйста.
Ελληνικά: καλημέρα, ευχαριστώ, παρακαλώ.
العربية تكتب من اليمين إلى اليسار: مرحبا، شكرا.
עברית נכתבת מימין לשמאל: שלום, תודה.
हिन्दी देवनागरी लिपि में लिखी जाती है: नमस्ते, धन्यवाद।
中文没有空格，每个汉字都是一个词素。我们学习分词。
日本語はひらがな、カタカナ、漢字を使います。ありがとう。
한국어는 한글을 사용합니다. 감사합니다. 안녕하세요.
ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ สวัสดีครับ ขอบคุณ
Emoji carry meaning too 😀 😂 👍 🎉 ❤️ 🌍
Whitespace matters:  two spaces,   three spaces,\ttabs,\nnewlines.
The quick brown fox jumps over the lazy dog. The lazy dog sleeps.
Fine-tuning adapts a pretrained model to a task with a small learning rate.
Low-rank adapters add two small matrices next to each large weight matrix.
The server streams tokens as they are generated, one event at a time.
Training loss goes down; validation loss tells you when to stop.
"""
