"""Reference prompt logprobs for `echo` (Tests/Fixtures/tiny-llama/prompt_logprobs.json).

Run with the peers' venv (torch, transformers):
    /work/peers/venv/bin/python Tests/Fixtures/make_prompt_logprobs.py
For each prompt (token ids) and each variant (base model, adapter a0-r4-all), the fp32 log-softmax of the logits at
position i-1 for the token at position i (i >= 1), and the top-3 alternatives there.
"""
import json, pathlib, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

root = pathlib.Path(__file__).resolve().parent / "tiny-llama"
refs = json.loads((root / "refs.json").read_text())
prompts = [refs["prompts"][i]["ids"] for i in (0, 3, 5)] + [[2037, 39, 500, 77, 1203, 9, 9, 9, 64]]
out = {"prompts": prompts, "variants": {}}
for variant in ["__base__", "a0-r4-all"]:
    model = AutoModelForCausalLM.from_pretrained(root, torch_dtype=torch.float32)
    if variant != "__base__":
        model = PeftModel.from_pretrained(model, root / "adapters" / variant)
    model.eval()
    rows = []
    for ids in prompts:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)
        token_lps = [lp[i - 1, ids[i]].item() for i in range(1, len(ids))]
        top = [[[int(t), v] for v, t in zip(*[x.tolist() for x in lp[i - 1].topk(3)])] for i in range(1, len(ids))]
        rows.append({"token_logprobs": token_lps, "top3": top})
    out["variants"][variant] = rows
(root / "prompt_logprobs.json").write_text(json.dumps(out))
print("wrote", root / "prompt_logprobs.json")
