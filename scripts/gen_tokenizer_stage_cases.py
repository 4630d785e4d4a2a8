#!/usr/bin/env python3
"""Generates Tests/TokenizationTests/GeneratedStageCases.swift: small handwritten tokenizer.json documents that
exercise pipeline stages the two reference fixtures do not (Metaspace, Digits, Punctuation, Whitespace, NFKC,
Lowercase, Strip, added-token lstrip/rstrip/single_word, string merges, continuing_subword_prefix, ...), with the
ids / tokens / decoded text the Hugging Face `tokenizers` library produces for them. The Swift tests compare
against these literals; they do not need Python at run time.

    pip install tokenizers==0.23.3
    python3 scripts/gen_tokenizer_stage_cases.py      # writes both generated files below

Writes Tests/TokenizationTests/GeneratedStageCases.swift (stage documents) and
Tests/TokenizationTests/GeneratedScannerCases.swift (how the GPT-2, Llama-3 and Qwen2 split regexes cut random
strings, from `pre_tokenizers.Split(Regex(pattern), "isolated")`, i.e. onig).
"""
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

CORPUS = [
    "Hello, World! It's 2024-05-06. Don't STOP, you'll see... (maybe?) the quick brown fox",
    "naive cafe resume facade ANGSTROM x=3.14159; y=[1,22,333] hello there worlds apart",
    "tab\tnew\nline end leading and trailing spaces words wording worded sword",
    "east west 12345 67890 ++ -- == != <= >= ## @@ the then there their they them",
    "café naïve Ωmega Σίσυφος 東京 タワー ünïcödé résumé",
]

INPUTS = [
    "",
    "a",
    "Hello, World! It's 2024-05-06.",
    "  leading and trailing  ",
    "naïve café ÅNGSTRÖM ﬁ ½ ① Ⅻ x²",
    "don't STOP, you'll see... (maybe?)",
    "x=3.14159; y=[1,22,333]",
    "tab\tnew\nline\r\nend",
    "Σίσυφος ΣΑΣ İstanbul",
    "東京 123 ４５６",
    "emoji 😀👍🏽 done",
    "wordy words wording sword",
    "a--b---c - d",
]

ADDED_INPUTS = [
    "[SPECIAL] in text",
    "text   [SPECIAL]   more",
    "a<mask> and   <mask>b",
    "WORD word words sword word.",
    "singing ing ringing",
    "[special] lowercase is not special",
]


def train(pre, **model_kwargs):
    prefix = model_kwargs.get("continuing_subword_prefix")
    suffix = model_kwargs.get("end_of_word_suffix")
    tok = Tokenizer(models.BPE(**model_kwargs))
    tok.pre_tokenizer = pre
    alphabet = [chr(c) for c in range(0x20, 0x7F)]
    if isinstance(pre, pre_tokenizers.ByteLevel):
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    extra = {}
    if prefix:
        extra["continuing_subword_prefix"] = prefix
    if suffix:
        extra["end_of_word_suffix"] = suffix
    trainer = trainers.BpeTrainer(vocab_size=260, special_tokens=["[UNK]", "[CLS]", "[SEP]", "<s>", "</s>"],
                                  initial_alphabet=alphabet, show_progress=False, **extra)
    tok.train_from_iterator(CORPUS, trainer)
    return json.loads(tok.to_str())["model"]


def byte_fallback_model():
    m = train(pre_tokenizers.Metaspace(), unk_token="[UNK]")
    m["byte_fallback"] = True
    m["fuse_unk"] = True
    next_id = max(m["vocab"].values()) + 1
    for b in range(256):
        tok = f"<0x{b:02X}>"
        if tok not in m["vocab"]:
            m["vocab"][tok] = next_id
            next_id += 1
    return m


MODELS = {
    "plain": train(pre_tokenizers.Whitespace(), unk_token="[UNK]"),
    "meta": train(pre_tokenizers.Metaspace(), unk_token="[UNK]"),
    "bytefallback": byte_fallback_model(),
    "prefix": train(pre_tokenizers.Whitespace(), unk_token="[UNK]", continuing_subword_prefix="##"),
    "suffix": train(pre_tokenizers.Whitespace(), unk_token="[UNK]", end_of_word_suffix="</w>"),
    "bytelevel": train(pre_tokenizers.ByteLevel(add_prefix_space=False)),
}


def variant(name, **changes):
    m = json.loads(json.dumps(MODELS[name]))
    m.update(changes)
    return m


# Model variants.
plain_string_merges = variant("plain")
plain_string_merges["merges"] = [" ".join(pair) for pair in plain_string_merges["merges"]]
MODELS["plain_string_merges"] = plain_string_merges
MODELS["plain_fuse_unk"] = variant("plain", fuse_unk=True)
MODELS["bytelevel_ignore_merges"] = variant("bytelevel", ignore_merges=True)
MODELS["plain_no_unk"] = variant("plain", unk_token=None)

WS = {"type": "Whitespace"}
WSS = {"type": "WhitespaceSplit"}


def seq(*pts):
    return {"type": "Sequence", "pretokenizers": list(pts)}


def nseq(*ns):
    return {"type": "Sequence", "normalizers": list(ns)}


def dseq(*ds):
    return {"type": "Sequence", "decoders": list(ds)}


def punct(behavior):
    return {"type": "Punctuation", "behavior": behavior}


def split(pattern, behavior, invert=False, regex=False):
    return {"type": "Split", "pattern": {"Regex" if regex else "String": pattern}, "behavior": behavior, "invert": invert}


def metaspace(scheme="always", split_=True):
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": split_}


def template(single, specials):
    return {"type": "TemplateProcessing", "single": single, "pair": single,
            "special_tokens": {name: {"id": name, "ids": [i], "tokens": [name]} for name, i in specials}}


def added(content, id_, special, **flags):
    d = {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": not special, "special": special}
    d.update(flags)
    return d


SPM_DECODER = dseq({"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
                   {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0})

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def case(name, model, normalizer=None, pre=None, post=None, decoder=None, added_tokens=None, inputs=None):
    return dict(name=name, model=model, normalizer=normalizer, pre=pre, post=post, decoder=decoder,
                added=added_tokens or [], inputs=inputs if inputs is not None else INPUTS)


def cls_sep(model):
    v = MODELS[model]["vocab"]
    return v["[CLS]"], v["[SEP]"]


def special_ids(model, *names):
    v = MODELS[model]["vocab"]
    return [v[n] for n in names]


CASES = [
    case("metaspace_always", "meta", pre=metaspace("always"), decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}),
    case("metaspace_first_no_split", "meta", pre=metaspace("first", False),
         decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
         added_tokens=[added("[SPECIAL]", 300, True)], inputs=INPUTS + ["[SPECIAL] in text", "text [SPECIAL]   more"]),
    case("metaspace_never_after_whitespace_split", "meta", pre=seq(WSS, metaspace("never")),
         decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}),
    case("metaspace_first_after_whitespace_split", "meta", pre=seq(WSS, metaspace("first")),
         decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}),
    case("digits_individual", "plain", pre=seq(WS, {"type": "Digits", "individual_digits": True})),
    case("digits_contiguous", "plain", pre={"type": "Digits", "individual_digits": False}),
    case("punctuation_isolated", "plain", pre=seq(WSS, punct("Isolated"))),
    case("punctuation_contiguous", "plain", pre=seq(WSS, punct("Contiguous"))),
    case("punctuation_removed", "plain", pre=seq(WSS, punct("Removed"))),
    case("punctuation_merged_with_previous", "plain", pre=seq(WSS, punct("MergedWithPrevious"))),
    case("punctuation_merged_with_next", "plain", pre=seq(WSS, punct("MergedWithNext"))),
    case("whitespace", "plain", pre=WS),
    case("whitespace_split", "plain", pre=WSS),
    case("bert_lowercase", "plain", normalizer={"type": "Lowercase"}, pre={"type": "BertPreTokenizer"},
         post={"type": "BertProcessing", "sep": ["[SEP]", cls_sep("plain")[1]], "cls": ["[CLS]", cls_sep("plain")[0]]}),
    case("char_delimiter", "plain", pre={"type": "CharDelimiterSplit", "delimiter": "-"}),
    case("nfkc_lowercase", "plain", normalizer=nseq({"type": "NFKC"}, {"type": "Lowercase"}), pre=WS),
    case("nfd_strip_accents", "plain", normalizer=nseq({"type": "NFD"}, {"type": "StripAccents"}), pre=WS),
    case("nfc", "meta", normalizer={"type": "NFC"}, pre=metaspace()),
    case("nfkd", "plain", normalizer={"type": "NFKD"}, pre=WS),
    case("strip_prepend_replace_byte_fallback", "bytefallback",
         normalizer=nseq({"type": "Strip", "strip_left": True, "strip_right": True}, {"type": "Prepend", "prepend": "\u2581"},
                         {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}),
         decoder=SPM_DECODER,
         post=template([{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                       [("<s>", MODELS["bytefallback"]["vocab"]["<s>"]), ("</s>", MODELS["bytefallback"]["vocab"]["</s>"])])),
    case("strip_left_only", "meta", normalizer={"type": "Strip", "strip_left": True, "strip_right": False}, pre=metaspace()),
    case("replace_regex_normalizer", "plain",
         normalizer={"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}, pre=WSS),
    case("byte_fallback_metaspace_decoder", "bytefallback", pre=metaspace(),
         decoder=dseq({"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True})),
    case("added_tokens", "plain", normalizer={"type": "Lowercase"}, pre=WS,
         added_tokens=[added("[SPECIAL]", 300, True, lstrip=True, rstrip=True, normalized=False),
                       added("<mask>", 301, True, lstrip=True),
                       added("word", 302, False, single_word=True, normalized=True),
                       added("ing", 303, False, normalized=False),
                       added("[special]", 304, False, normalized=False, rstrip=True)],
         inputs=INPUTS + ADDED_INPUTS),
    case("string_merges", "plain_string_merges", pre=WS),
    case("continuing_subword_prefix", "prefix", pre=WS),
    case("end_of_word_suffix", "suffix", pre=WS, decoder={"type": "BPEDecoder", "suffix": "</w>"}),
    case("unk_fused", "plain_fuse_unk", pre=WS),
    case("no_unk_token_drops", "plain_no_unk", pre=WS),
    case("bytelevel_gpt2", "bytelevel", pre={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
         post={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
         decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
    case("bytelevel_ignore_merges", "bytelevel_ignore_merges",
         pre=seq(split(GPT2, "Isolated", regex=True), {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}),
         decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}),
    case("qwen2_split_nfc", "bytelevel", normalizer={"type": "NFC"},
         pre=seq(split(QWEN2, "Isolated", regex=True), {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}),
         decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}),
    case("regex_fallback_split", "bytelevel",
         pre=seq(split(r"[0-9]+|[a-zA-Z]+", "Isolated", regex=True), {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}),
         decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
    case("split_string_removed", "plain", pre=split("-", "Removed")),
    case("split_string_merged_with_previous", "plain", pre=split("-", "MergedWithPrevious")),
    case("split_string_merged_with_next", "plain", pre=split("-", "MergedWithNext")),
    case("split_string_contiguous", "plain", pre=split("-", "Contiguous")),
    case("split_regex_invert", "plain", pre=split(r"[a-z]+", "Removed", invert=True, regex=True)),
    case("template_cls_sep", "plain", pre=WS,
         post=template([{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                       [("[CLS]", cls_sep("plain")[0]), ("[SEP]", cls_sep("plain")[1])])),
    case("roberta_processing", "bytelevel", pre={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
         post={"type": "RobertaProcessing", "sep": ["</s>", special_ids("bytelevel", "</s>")[0]],
               "cls": ["<s>", special_ids("bytelevel", "<s>")[0]], "trim_offsets": True, "add_prefix_space": False},
         decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
    case("no_decoder", "meta", pre=metaspace()),
    case("bytelevel_mapping_then_digits", "bytelevel",
         pre=seq({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
                 {"type": "Digits", "individual_digits": True}),
         decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
    case("added_tokens_duplicates", "plain", pre=WS,
         added_tokens=[added("<p>", 900, False, normalized=False), added("<q>", 5, True),
                       added("<p>", 3, True, lstrip=True), added("he", 7, False, normalized=False),
                       added("", 8, True)],
         inputs=["<p><q> he said  <p>x", "the hello <q>", ""]),
]


def doc_without_model(c):
    return json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": c["added"],
                       "normalizer": c["normalizer"], "pre_tokenizer": c["pre"], "post_processor": c["post"],
                       "decoder": c["decoder"]}, ensure_ascii=False)


def compose(parts, model_json):
    # Same composition as StageCases.document(_:model:) in Swift.
    return parts[:-1] + ', "model": ' + model_json + "}"


def swift_string(s):
    """A Swift string literal (escapes everything that could be ambiguous in source)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o < 0xA0 or o in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= o < 0xE000:
            out.append("\\u{%X}" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def swift_json_literal(value):
    """An ASCII-only JSON text as a Swift raw string literal (one line: fast to compile)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    assert '"####' not in text
    return '####"' + text + '"####'


def main():
    model_json = {name: json.dumps(m, ensure_ascii=False) for name, m in MODELS.items()}
    cases = []
    for c in CASES:
        parts = doc_without_model(c)
        tok = Tokenizer.from_str(compose(parts, model_json[c["model"]]))
        inputs = []
        for text in c["inputs"]:
            enc = tok.encode(text, add_special_tokens=False)
            with_special = tok.encode(text, add_special_tokens=True).ids
            inputs.append({"text": text, "ids": enc.ids, "tokens": [tok.id_to_token(i) for i in enc.ids],
                           "idsWithSpecial": with_special,
                           "decoded": tok.decode(enc.ids, skip_special_tokens=False),
                           "decodedSkipSpecial": tok.decode(with_special, skip_special_tokens=True)})
        cases.append({"name": c["name"], "model": c["model"], "parts": parts, "inputs": inputs})
    out = []
    w = out.append
    w("// Generated by scripts/gen_tokenizer_stage_cases.py with Hugging Face tokenizers %s; do not edit by hand." % tokenizers.__version__)
    w("// Expected values are what tokenizers.Tokenizer.from_str(document) produced: encode ids with and without special")
    w("// tokens, id_to_token of each id, decode with skip_special_tokens False and True. Stored as JSON text (quick to")
    w("// compile) and decoded on first use.")
    w("import Foundation")
    w("")
    w("enum StageCases {")
    w("    struct Input: Decodable, Sendable {")
    w("        let text: String")
    w("        let ids: [Int]")
    w("        let tokens: [String]")
    w("        let idsWithSpecial: [Int]")
    w("        let decoded: String")
    w("        let decodedSkipSpecial: String")
    w("    }")
    w("")
    w("    struct Case: Decodable, Sendable, CustomStringConvertible {")
    w("        let name: String")
    w("        let model: String")
    w("        /// The tokenizer.json members other than \"model\".")
    w("        let parts: String")
    w("        let inputs: [Input]")
    w("        var description: String { name }")
    w("        var document: String { StageCases.document(parts, model: StageCases.models[model]!) }")
    w("    }")
    w("")
    w("    /// The tokenizer.json members other than \"model\", then the model appended.")
    w("    static func document(_ parts: String, model: String) -> String {")
    w('        String(parts.dropLast()) + ", \\"model\\": " + model + "}"')
    w("    }")
    w("")
    w("    static let models: [String: String] = try! JSONDecoder().decode([String: String].self, from: Data(modelsJSON.utf8))")
    w("    static let all: [Case] = try! JSONDecoder().decode([Case].self, from: Data(casesJSON.utf8))")
    w("")
    w("    private static let modelsJSON = " + swift_json_literal(model_json))
    w("    private static let casesJSON = " + swift_json_literal(cases))
    w("}")
    return "\n".join(out) + "\n"


LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

POOL = (list("abcxyzABCXYZ") + ["é", "ß", "Σ", "ſ", "東京", "ﬁ", "e\u0301", "\u0301", "Ⅻ", "ª"] + list("0123456789")
        + ["٣", "²", "½", "12345", " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\n\n", "\u00a0", "\u3000", "\u2028",
           "\x0b", "\x85", "\x1c"] + list("'\".,!?-_()[]{}@#$%^&*+=<>/\\|`~;:")
        + ["'s", "'S", "'ll", "'LL", "'lL", "'re", "'RE", "'ve", "'m", "'d", "'t", "'T", "'ſ", "'x", " '", "''"]
        + ["😀", "👍🏽", "\u200d", "\ufe0f", "\x00", "\ufeff", "…", "—", "«", "»", "¿", "§"])


def scanner_cases():
    rng = random.Random(20240506)
    texts = []
    for _ in range(150):
        n = rng.randint(1, 30)
        texts.append("".join(rng.choice(POOL) for _ in range(n)))
    texts += ["'s's'S", "  \n \n  x", "a \t\n  b", "x  ", "   ", "\n", " 1 22 333 4444", "don't I'M you'LL"]
    out = []
    w = out.append
    w("// Generated by scripts/gen_tokenizer_stage_cases.py with Hugging Face tokenizers %s; do not edit by hand." % tokenizers.__version__)
    w("// How onig (tokenizers' Split pre-tokenizer, behavior Isolated) cuts each text with each split regex.")
    w("import Foundation")
    w("")
    w("enum ScannerCases {")
    w("    static let patterns: [String: String] = [")
    for name, pattern in (("gpt2", GPT2), ("llama3", LLAMA3), ("qwen2", QWEN2)):
        w("        %s: %s," % (swift_string(name), swift_string(pattern)))
    w("    ]")
    w("")
    rows = []
    for name, pattern in (("gpt2", GPT2), ("llama3", LLAMA3), ("qwen2", QWEN2)):
        pt = pre_tokenizers.Split(tokenizers.Regex(pattern), "isolated")
        for text in texts:
            rows.append([name, text, [p for p, _ in pt.pre_tokenize_str(text)]])
    w("    /// (pattern name, text, pieces)")
    w("    static let all: [(String, String, [String])] = (try! JSONSerialization.jsonObject(with: Data(rowsJSON.utf8)) as! [[Any]])")
    w("        .map { ($0[0] as! String, $0[1] as! String, $0[2] as! [String]) }")
    w("")
    w("    private static let rowsJSON = " + swift_json_literal(rows))
    w("}")
    return "\n".join(out) + "\n"


def write_outputs():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tests = os.path.join(root, "Tests", "TokenizationTests")
    with open(os.path.join(tests, "GeneratedStageCases.swift"), "w", encoding="utf-8") as f:
        f.write(main())
    with open(os.path.join(tests, "GeneratedScannerCases.swift"), "w", encoding="utf-8") as f:
        f.write(scanner_cases())


if __name__ == "__main__":
    write_outputs()
