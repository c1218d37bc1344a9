"""Builders for the evaluation tests: tiny MMRA/ReMI datasets, a tiny Qwen2-VL and a tiny open_clip
model, all made on the spot (no downloads). Imported by the other test_eval* modules."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SUBTASKS = ["UsageSimilarity", "SubEvent", "Environment", "Layout", "SimilarMaterial", "ObservationAngle"]


def png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def mmra_rows(n: int = 24, *, with_ids: bool = False, twins: bool = False) -> list[dict]:
    """Alternating Choice QA (gold = letter i%4) and Yes/No (gold alternates) items over six subtasks."""
    rows = []
    for i in range(n):
        choice = i % 2 == 0
        row = {
            "Task": SUBTASKS[i % len(SUBTASKS)],
            "QA_type": "Choice QA" if choice else "True or false QA",
            "question": f"Question number {i}: how are the two images related?",
            "image1": {"bytes": png(((i * 37) % 256, 10, 10)), "path": None},
            "image2": {"bytes": png((10, (i * 53) % 256, 10 + i)), "path": None},
            "options": str({"A": f"cut {i}", "B": f"eat {i}", "C": f"sit {i}", "D": f"run {i}"}) if choice else None,
            "answer": "ABCD"[(i // 2) % 4] if choice else ("Yes" if (i // 2) % 2 == 0 else "No"),
        }
        if with_ids or twins:
            row["id"] = f"item-{i}"
        if twins:
            row["order_probe"] = False
            row["twin_of"] = None
        rows.append(row)
    if twins:  # swapped-order twins of the first four items
        for src in list(rows[:4]):
            twin = dict(src, id=src["id"] + "-swap", image1=src["image2"], image2=src["image1"], order_probe=True,
                        twin_of=src["id"])
            rows.append(twin)
    return rows


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


REMI_EXAMPLES = [  # task, question, label, number of images
    ("Clocks", "How many minutes from <image1> to <image2>?", "45", 2),
    ("RefCoco", "Which box in <image1> matches the man in <image2>?", "2,3", 2),
    ("GeomShape", "Area of the shape in <image1> given <image2> and <image3>?", "100", 3),
    ("Maps", "Which city is closest in <image1>?", "Paris", 1),
]


def remi_rows(repeat: int = 2) -> list[dict]:
    rows = []
    for r in range(repeat):
        for t, (task, question, label, n_img) in enumerate(REMI_EXAMPLES):
            row = {"task": task, "question": question, "label": label}
            for k in range(1, 7):
                row[f"image_{k}"] = {"bytes": png((k * 30, t * 40, r * 50)), "path": None} if k <= n_img else None
            rows.append(row)
    return rows


def remi_json(answer: str) -> str:
    return json.dumps({"explanation": "because", "answer": answer})


def build_tiny_qwen2vl(out: Path) -> Path:
    """A 0.2M-parameter random-weight Qwen2-VL with its tokenizer and processor, saved to ``out``
    (see shared/docs/review-eval-notes.md, Question 1)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration,
                              Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor)

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
    corpus = ["You will be giving one question, two images, and four answers. Your answer is A B C D Yes No",
              "Question: Output only a valid JSON string with two fields explanation answer",
              "You are a helpful assistant. system user assistant"] * 30
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    template = (
        "{% for message in messages %}"
        "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
        "<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for c in message['content'] %}"
        "{% if c['type'] == 'image' or 'image' in c or 'image_url' in c %}<|vision_start|><|image_pad|><|vision_end|>"
        "{% elif c['type'] == 'video' or 'video' in c %}<|vision_start|><|video_pad|><|vision_end|>"
        "{% elif 'text' in c %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=specials[1:])
    tok.chat_template = template
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    proc = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 56), tokenizer=tok,
                            video_processor=Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
                            chat_template=template)
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def build_tiny_open_clip(out: Path) -> Path:
    """A random-init open_clip model saved as a local-dir (open_clip_config.json + weights)."""
    import open_clip
    import torch

    model_cfg = {"embed_dim": 32,
                 "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
                 "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": model_cfg,
        "preprocess_cfg": {"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]}}))
    torch.manual_seed(0)
    model = open_clip.CLIP(**model_cfg)
    torch.save(model.state_dict(), out / "open_clip_pytorch_model.bin")
    return out


def coco_mmra_rows(coco_dir: Path, n_pairs: int = 12) -> list[dict]:
    """An MMRA-format sample from coco-mini: image paths relative to ``coco_dir``, questions whose
    answers follow from the COCO object annotations (Choice QA: the object both images share;
    Yes/No: does the second image also show the first image's object)."""
    images = [json.loads(line) for line in (coco_dir / "images.jsonl").read_text().splitlines()]
    rows = []
    for i in range(len(images) - 1):
        a, b = images[i], images[i + 1]
        shared = sorted(set(a["objects"]) & set(b["objects"]))
        only_a = sorted(set(a["objects"]) - set(b["objects"]))
        pool = sorted({o for im in images for o in im["objects"]} - set(a["objects"]) - set(b["objects"]))
        if shared and len(pool) >= 3 and len(rows) % 2 == 0:
            options = {"A": shared[0], "B": pool[0], "C": pool[1], "D": pool[2]}
            letters = "ABCD"
            k = (len(rows) // 2) % 4  # rotate the gold letter
            texts = list(options.values())
            texts[0], texts[k] = texts[k], texts[0]
            rows.append({"Task": "NearSameEntity", "QA_type": "Choice QA",
                         "question": "Which object appears in both images?", "image1": a["image"], "image2": b["image"],
                         "options": str(dict(zip(letters, texts))), "answer": letters[k]})
        elif len(rows) % 2 == 1 and (shared or only_a):
            obj = shared[0] if (shared and len(rows) % 4 == 1) or not only_a else only_a[0]
            rows.append({"Task": "Environment", "QA_type": "True or false QA",
                         "question": f"The first image shows a {obj}. Does the second image show one too?",
                         "image1": a["image"], "image2": b["image"], "options": None,
                         "answer": "Yes" if obj in b["objects"] else "No"})
        if len(rows) == n_pairs:
            break
    return rows


def build_tiny_qwen2_lm(out: Path) -> Path:
    """A tiny random-weight text-only Qwen2 causal LM with a chat template (the QO setting's LLMs)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(["You will be giving one question. Your answer is A B C D Yes No"] * 20,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
