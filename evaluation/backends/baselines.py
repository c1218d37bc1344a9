"""``random`` (seeded) and ``--predictions FILE`` (responses produced elsewhere)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from mmrakit.errors import InputError

from .base import BatchBackend, Request


class RandomBackend(BatchBackend):
    """Uniform over the options / Yes-No; for ReMI a label drawn from the item's task (chance level).

    Each item's draw depends only on (seed, item id), so runs are reproducible and order-free.
    """

    answers_per_item = True

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.spec = "random"
        self.fingerprint = f"random#{seed}"
        self.batch_size = 256
        self.generation = {"seed": seed}

    def generate_batch(self, requests: list[Request]) -> list[str]:
        out = []
        for r in requests:
            rng = random.Random(hashlib.sha256(f"{self.seed}:{r.item_id}".encode()).digest())
            if r.choices:
                out.append(rng.choice(r.choices))
            else:
                pool = r.label_pool or ["0"]
                out.append(json.dumps({"explanation": "random baseline", "answer": rng.choice(pool)}))
        return out


class PredictionsBackend(BatchBackend):
    """Reads a JSONL of {"id": ..., "response": ...}; scoring then runs as for any backend."""

    RESPONSE_KEYS = ("response", "raw_response", "prediction", "output")
    answers_per_item = True  # the id, not the prompt, names a saved response

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read predictions ({exc.strerror})") from None
        self.responses: dict[str, str] = {}
        for lineno, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{self.path} line {lineno}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "id" not in row:
                raise InputError(f"{self.path} line {lineno}: needs an 'id' field",
                                 hint='each line is {"id": ITEM_ID, "response": RAW_TEXT}')
            key = next((k for k in self.RESPONSE_KEYS if k in row), None)
            if key is None:
                raise InputError(f"{self.path} line {lineno}: no response field (one of {', '.join(self.RESPONSE_KEYS)})")
            self.responses[str(row["id"])] = "" if row[key] is None else str(row[key])
        self.spec = f"predictions:{self.path.name}"
        self.fingerprint = f"predictions:{hashlib.sha256(raw).hexdigest()[:16]}"
        self.batch_size = 10_000
        self.generation = {}

    def check_ids(self, ids: list[str]) -> None:
        missing = [i for i in ids if i not in self.responses]
        if missing:
            raise InputError(f"{self.path}: no response for {len(missing)} of {len(ids)} items (first: {missing[:5]})",
                             hint="ids are the dataset's 'id' column, else the row number (0-based)")

    def generate_batch(self, requests: list[Request]) -> list[str]:
        return [self.responses[r.item_id] for r in requests]
