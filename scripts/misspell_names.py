"""Write a QA file whose questions each have one name misspelt: the measure of "Questions with a misspelt name"
in the README.

    python scripts/misspell_names.py seeds/qa_test.jsonl runs/qa_test_misspelt.jsonl [--docs seeds]

Each question with a capitalised name of five letters or more that the documents hold (not its first word)
gets its longest such name's two middle letters swapped ("Zuckerberg" -> "Zuckebrerg"; a doubled middle letter
is dropped instead); the other questions are left out. Ids get "-typo". Mechanical: nothing is read or chosen.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

WORD = re.compile(r"(?<![\w'’\-])[^\W\d_][\w\-]*")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--docs", default="seeds", help="folder of the documents whose words count as names")
    a = ap.parse_args()
    vocab: set[str] = set()
    for f in Path(a.docs).glob("*"):
        if f.suffix in (".txt", ".md", ".html"):
            vocab |= set(WORD.findall(f.read_text("utf-8", errors="ignore").lower()))
    out = []
    for line in Path(a.src).read_text("utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        q = r["question"]
        names = [m for m in list(WORD.finditer(q))[1:] if m.group(0)[0].isupper() and len(m.group(0)) >= 5
                 and m.group(0).lower() in vocab and m.group(0).isalpha()]
        if not names:
            continue
        m = max(names, key=lambda m: len(m.group(0)))
        w, i = m.group(0), len(m.group(0)) // 2
        typo = w[:i] + w[i + 1] + w[i] + w[i + 2:] if w[i] != w[i + 1] else w[:i] + w[i + 1:]
        r["question"], r["id"] = q[:m.start()] + typo + q[m.end():], r["id"] + "-typo"
        out.append(json.dumps(r, ensure_ascii=False))
    Path(a.dst).parent.mkdir(parents=True, exist_ok=True)
    Path(a.dst).write_text("\n".join(out) + "\n", "utf-8")
    print(f"{len(out)} questions with a misspelt name -> {a.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
