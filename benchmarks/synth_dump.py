"""Synthetic ConceptNet 5.7 assertion dumps in the official format, for ingest benchmarks.

Five tab-separated columns (assertion URI, relation URI, start, end, JSON metadata with dataset,
license, sources, weight and, for OMCS-style edges, surfaceText), gzip-compressed, sorted by
relation like the real dump. The mix approximates the real 5.7 dump: about a quarter ExternalURL
lines, most other lines multilingual Wiktionary/WordNet edges, and about 10% of all lines English
on both ends (3.4M of 34M in the real dump). Concept frequencies are Zipf-like, and some URIs
carry sense suffixes (/n, /n/wn/artifact, /v/wikt/en_1).

    python -m benchmarks.synth_dump OUT.csv.gz --lines 1000000 [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

# Approximate share of each relation in the 5.7 dump (ExternalURL, Synonym, RelatedTo, FormOf dominate).
RELATION_MIX: dict[str, float] = {
    "ExternalURL": 0.26, "RelatedTo": 0.18, "Synonym": 0.14, "FormOf": 0.11, "DerivedFrom": 0.09,
    "EtymologicallyRelatedTo": 0.03, "EtymologicallyDerivedFrom": 0.02, "HasContext": 0.03, "IsA": 0.07,
    "Antonym": 0.012, "DistinctFrom": 0.004, "SimilarTo": 0.002, "UsedFor": 0.003, "AtLocation": 0.002,
    "CapableOf": 0.002, "HasSubevent": 0.0008, "HasPrerequisite": 0.0007, "Causes": 0.0005, "HasProperty": 0.0005,
    "MotivatedByGoal": 0.0003, "PartOf": 0.0004, "HasA": 0.0002, "ReceivesAction": 0.0002, "MannerOf": 0.004,
    "Desires": 0.0001, "CausesDesire": 0.0001, "MadeOf": 0.0001, "HasFirstSubevent": 0.0001, "HasLastSubevent": 0.0001,
    "CreatedBy": 0.00005, "DefinedAs": 0.00005, "SymbolOf": 0.00001, "LocatedNear": 0.00005, "NotDesires": 0.0001,
    "NotCapableOf": 0.00001, "NotHasProperty": 0.00001, "NotUsedFor": 0.00001, "InstanceOf": 0.00001,
    "Entails": 0.0001, "ObstructedBy": 0.00005, "dbpedia/genre": 0.0002, "dbpedia/occupation": 0.0001,
    "dbpedia/capital": 0.00001, "dbpedia/field": 0.00005, "dbpedia/language": 0.00005,
}
OTHER_LANGS = ["fr", "de", "ja", "es", "it", "ru", "pt", "zh", "nl", "fi", "pl", "sv", "la", "ms", "cs", "ar"]
SENSES = ["", "", "", "", "/n", "/v", "/a", "/n/wn/artifact", "/n/wn/person", "/v/wn/motion", "/n/wikt/en_1"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "de", "bo", "an", "el", "ri", "ta", "mo", "sha", "que", "tri"]
ENGLISH_BOTH_ENDS = 0.10


def _vocabulary(rng: random.Random, n: int) -> list[str]:
    words = set()
    while len(words) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.15:
            w += "_" + "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
        words.add(w)
    return sorted(words)


def generate(out: str | Path, lines: int, seed: int = 0, vocab: int = 200_000) -> Path:
    """Write ``lines`` assertion lines to ``out`` (gzip when it ends in .gz) and return its path."""
    rng = random.Random(seed)
    words = _vocabulary(rng, vocab)
    n_words = len(words)
    # Zipf-like: index = n * u^3 concentrates mass on the first words.
    def word() -> str:
        return words[int(n_words * rng.random() ** 3)]

    total = sum(RELATION_MIX.values())
    counts = {r: int(round(lines * w / total)) for r, w in RELATION_MIX.items()}
    counts["RelatedTo"] += lines - sum(counts.values())
    non_url = lines - counts["ExternalURL"]
    p_en_en = min(1.0, ENGLISH_BOTH_ENDS * lines / max(non_url, 1))
    out = Path(out)
    opener = gzip.open if out.suffix == ".gz" else open
    with opener(out, "wt", encoding="utf-8", newline="\n") as fh:  # type: ignore[operator]
        for rel in sorted(counts, key=lambda r: f"/r/{r}"):
            rows = []
            for _ in range(counts[rel]):
                if rel == "ExternalURL":
                    lang = "en" if rng.random() < 0.3 else rng.choice(OTHER_LANGS)
                    a = word()
                    start, end = f"/c/{lang}/{a}", f"http://{lang}.dbpedia.org/resource/{a.title()}"
                    meta = {"dataset": f"/d/dbpedia/{lang}", "license": "cc:by-sa/4.0",
                            "sources": [{"contributor": f"/s/resource/dbpedia/2015/{lang}"}], "weight": 1.0}
                else:
                    if rng.random() < p_en_en:
                        la = lb = "en"
                    else:
                        la = rng.choice(OTHER_LANGS)
                        lb = "en" if rng.random() < 0.4 else (la if rng.random() < 0.7 else rng.choice(OTHER_LANGS))
                        if rng.random() < 0.5:
                            la, lb = lb, la
                    a, b = word(), word()
                    start, end = f"/c/{la}/{a}{rng.choice(SENSES)}", f"/c/{lb}/{b}{rng.choice(SENSES)}"
                    if la == lb == "en" and rng.random() < 0.5:
                        text = rel[0].lower() + rel[1:]
                        meta = {"dataset": "/d/conceptnet/4/en", "license": "cc:by/4.0",
                                "sources": [{"activity": "/s/activity/omcs/omcs1_possibly_free_text",
                                             "contributor": f"/s/contributor/omcs/user{rng.randint(1, 9999)}"}],
                                "surfaceEnd": b.replace("_", " "), "surfaceStart": a.replace("_", " "),
                                "surfaceText": f"[[{a.replace('_', ' ')}]] {text} [[{b.replace('_', ' ')}]]",
                                "weight": round(rng.choice([1.0, 1.0, 2.0, 2.828, 3.464, 0.5]), 3)}
                    else:
                        src = la if la != "en" else lb
                        meta = {"dataset": f"/d/wiktionary/{src}", "license": "cc:by-sa/4.0",
                                "sources": [{"contributor": f"/s/resource/wiktionary/{src}",
                                             "process": "/s/process/wikiparsec/2"}], "weight": 1.0}
                rows.append(f"/a/[/r/{rel}/,{start}/,{end}/]\t/r/{rel}\t{start}\t{end}\t{json.dumps(meta)}\n")
            rows.sort()
            fh.writelines(rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(generate(args.out, args.lines, args.seed))


if __name__ == "__main__":
    main()
