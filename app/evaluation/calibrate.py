"""Fit the evidence score's weights and choose the answer-or-refuse threshold on a development QA set.

    python -m app.evaluation.calibrate seeds/qa_dev.jsonl [--dev-also FILE@DATA_DIR] [--test FILE[@DATA_DIR]]
                                       [--out runs/calibration.json]

Runs the answering pipeline's own evidence step (`Engine.gather`: documents named, candidate passages, ranked
sentences) for every question, without the language model, and labels each candidate sentence 1 when it
holds a reference answer (every sentence of an unanswerable question is 0). The `rank_*` weights over the
features of grounding/evidence.py are fitted to rank each question's answering sentences first (`fit_ranking`:
what the answer quotes is the top sentence, so evidence@1 is what matters), then scaled to a probability; the
answer-or-refuse threshold `min_evidence` is the point of the development half's curve with the most
questions handled right (answerable ones answered with the reference quoted, unanswerable ones refused). That
curve is drawn from out-of-fold scores (each question scored by weights fitted without its fact),
because in-sample scores are optimistic. It prints the policy lines to paste into app/grounding/policy.py, and
the same figures for `--test` (never used for fitting) beside them.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.evaluation.metrics import contains_reference
from app.evaluation.qa_file import load_qa
from app.grounding.answerability import refusal_reason
from app.grounding.evidence import FEATURES, evidence_score, select
from app.grounding.fallback import quote_fallback
from app.grounding.question import metadata_field
from index import language


def collect(engine, items) -> list[dict]:
    """Every question's ranked candidate sentences with their features, each labelled a hit when it holds a
    reference answer. A question about a document itself (its author, title, language) is answered from the
    document its best sentences come from, so there a hit is a sentence of the document asked about (`meta`
    rows: they weigh in the fit of the ranking, not in the answer-or-refuse figures)."""
    rows = []
    for it in items:
        meta = bool(metadata_field(it.question))
        if meta and not (it.answerable and it.sources):
            continue
        lang = language.detect(it.question)
        question = engine.names_as_written(it.question)  # as the answering path reads it
        _, _, ranked = engine.gather(question, lang, engine.settings.top_k)
        for c in ranked:
            c.hit = (c.source.doc_id in it.sources) if meta else bool(
                it.answerable and any(contains_reference(c.text, r) for r in it.references))
        cands = [{"f": [c.feats[k] for k in FEATURES], "hit": c.hit} for c in ranked]
        rows.append({"id": it.id, "question": question, "lang": lang, "answerable": it.answerable,
                     "cands": cands, "ranked": ranked, "known": engine.unrequired_names({c.source.doc_id for c in select(ranked, engine.policy)}),
                     "ask": engine.asked(question, lang), "meta": meta})
    return rows


def fit(rows: list[dict], l2: float = 1e-3, steps: int = 50) -> tuple[float, np.ndarray]:
    """Weighted logistic regression by Newton's method, every weight >= 0: each feature is built so that more
    of it means more likely the answer (similarity, coverage, asked-for type, rank ...), and a negative weight
    would only learn how the development questions happen to be worded. A feature whose weight comes out
    negative is held at 0 and the rest refitted (active set)."""
    X = np.array([c["f"] for r in rows for c in r["cands"]], dtype=np.float64)
    y = np.array([c["hit"] for r in rows for c in r["cands"]], dtype=np.float64)
    # each question weighs the same, however many candidate sentences it has; the classes weigh the same
    sw = np.concatenate([np.full(len(r["cands"]), 1.0 / max(1, len(r["cands"]))) for r in rows])
    pos = y == 1
    sw[pos] *= sw[~pos].sum() / max(sw[pos].sum(), 1e-9)
    sw *= len(sw) / sw.sum()
    active = list(range(X.shape[1]))
    while True:
        Xb = np.hstack([X[:, active], np.ones((len(X), 1))])
        beta = np.zeros(Xb.shape[1])
        ridge = l2 * len(sw) * np.eye(Xb.shape[1])
        ridge[-1, -1] = 0.0
        for _ in range(steps):
            pr = 1 / (1 + np.exp(-(Xb @ beta)))
            g = Xb.T @ (sw * (pr - y)) + ridge @ beta
            H = (Xb * (sw * pr * (1 - pr))[:, None]).T @ Xb + ridge
            step = np.linalg.solve(H, g)
            beta -= step
            if np.abs(step).max() < 1e-8:
                break
        negative = [active[i] for i, v in enumerate(beta[:-1]) if v < 0]
        if not negative:
            break
        worst = active[int(np.argmin(beta[:-1]))]
        active.remove(worst)
    w = np.zeros(X.shape[1])
    w[active] = beta[:-1]
    return float(beta[-1]), w


def fit_ranking(rows: list[dict], l2: float = 1e-3, steps: int = 3000, lr: float = 0.05) -> tuple[float, np.ndarray]:
    """Weights that rank each answerable question's answering sentences first (conditional logit: maximise, per
    question, the softmax probability of its hits among its own candidates; for a question about a document
    itself, that document's sentences), every weight >= 0 (projected
    gradient). Evidence@1 is what the answer quotes, so that is what is fitted, rather than each sentence's
    hit-or-not on its own. Then one scale and bias map the ranking score to a probability of holding the answer
    (a one-feature logistic fit over every candidate, unanswerable questions' included), so that `min_evidence`
    can be read on a common scale across questions."""
    groups = []
    for r in rows:
        hits = np.array([c["hit"] for c in r["cands"]], dtype=bool)
        if r["answerable"] and hits.any() and not hits.all():
            groups.append((np.array([c["f"] for c in r["cands"]], dtype=np.float64), hits))
    d = len(FEATURES)
    w = np.full(d, 0.5)
    m = np.zeros(d)
    v = np.zeros(d)
    for t in range(1, steps + 1):  # Adam on the mean negative log-likelihood, projected onto w >= 0
        g = 2 * l2 * w
        for X, hits in groups:
            s = X @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = np.where(hits, p, 0.0)
            q /= q.sum()
            g += X.T @ (p - q) / len(groups)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = np.maximum(w - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8), 0.0)
    # the probability scale is that of holding the answer: questions about a document itself (whose hits are its
    # sentences, answer or not) rank, but do not set it
    ev = [r for r in rows if not r.get("meta")] or rows
    X = np.array([c["f"] for r in ev for c in r["cands"]], dtype=np.float64)
    y = np.array([c["hit"] for r in ev for c in r["cands"]], dtype=np.float64)
    z = X @ w
    sc = [{"f": [zi], "hit": yi} for zi, yi in zip(z, y)]
    b, a = fit([{"cands": sc}], l2=1e-6)
    return b, w * float(a[0])


def score(rows: list[dict], policy) -> list[dict]:
    """Re-score every question's candidates with `policy`'s weights and run the answering path's own
    evidence choice and quote fallback on them (no language model): is the answer quoted, or refused?"""
    out = []
    for r in rows:
        if r.get("meta"):
            continue  # answered from the catalog: no threshold, no quote
        for c in r["ranked"]:
            c.score = evidence_score(c.feats, policy)
        ranked = sorted(r["ranked"], key=lambda c: -c.score)
        best = ranked[0].score if ranked else 0.0
        shown = select(ranked, policy)
        refused = bool(refusal_reason(r["question"], ranked, replace(policy, min_evidence=0.0), r["known"]))
        quoted = [] if refused else quote_fallback(shown, r["lang"], policy, r["question"], r.get("ask"),
                                                   r["known"])
        out.append({"id": r["id"], "answerable": r["answerable"], "best": best,
                    "top_hit": bool(ranked and ranked[0].hit), "hit_at3": any(c.hit for c in ranked[:3]),
                    "quotable": bool(quoted), "quote_hit": any(c.hit for e in quoted for c in ranked if c.text in e.text)})
    return out


def figures(scored: list[dict], threshold: float) -> dict:
    ans = [s for s in scored if s["answerable"]]
    una = [s for s in scored if not s["answerable"]]

    def answered(s):
        return s["best"] >= threshold and s["quotable"]

    return {
        "questions": len(scored),
        "evidence_at_1": round(sum(s["top_hit"] for s in ans) / max(1, len(ans)), 3),
        "evidence_at_3": round(sum(s["hit_at3"] for s in ans) / max(1, len(ans)), 3),
        "answer_recall_quoted": round(sum(answered(s) and s["quote_hit"] for s in ans) / max(1, len(ans)), 3),
        "false_refusals": round(sum(not answered(s) for s in ans) / max(1, len(ans)), 3),
        "correct_refusals": round(sum(not answered(s) for s in una) / max(1, len(una)), 3),
    }


def choose_threshold(scored: list[dict]) -> float:
    """The threshold with the most questions handled right: answerable ones answered with the reference answer
    quoted, plus unanswerable ones refused. A wrong answer and a refusal of an answerable question count the
    same (neither gives the user the fact); of equally good thresholds, the lowest (fewest refusals)."""
    ans = [s for s in scored if s["answerable"]]
    una = [s for s in scored if not s["answerable"]]

    def right(t: float) -> int:
        return (sum(s["best"] >= t and s["quotable"] and s["quote_hit"] for s in ans)
                + sum(not (s["best"] >= t and s["quotable"]) for s in una))

    cuts = [0.0] + sorted({math.floor(s["best"] * 1e4) / 1e4 for s in scored})  # down: a cut never passes its own score
    return max(cuts, key=lambda t: (right(t), -t))


def _group(row_id: str) -> str:
    """The fact a question belongs to: its id without the phrasing number ("codename-2" -> "codename")."""
    return re.sub(r"[-_#]\d+$", "", row_id)


def _weighted(policy, b: float, w) -> "object":
    return replace(policy, rank_bias=round(b, 3), **{f"rank_w_{f}": round(float(v), 3) for f, v in zip(FEATURES, w)})


def out_of_fold(rows: list[dict], policy, l2: float, folds: int = 5) -> list[dict]:
    """Every development question scored by weights fitted without it: 5-fold cross-validation by fact (a fact's
    phrasings are never split between fitting and scoring). Scores of the questions a model was fitted on are
    optimistic, and a threshold read off them refuses more answerable questions on new ones than it did there."""
    facts = sorted({_group(r["id"]) for r in rows})
    fold_of = {f: i % folds for i, f in enumerate(facts)}
    out = []
    for k in range(folds):
        train = [r for r in rows if fold_of[_group(r["id"])] != k]
        held = [r for r in rows if fold_of[_group(r["id"])] == k]
        out += score(held, _weighted(policy, *fit_ranking(train, l2=l2)))
    return out


def choose_l2(rows: list[dict], policy, grid=(1e-4, 1e-3, 1e-2), folds: int = 5) -> tuple[float, dict]:
    """The ridge strength with the best out-of-fold evidence@1 within the development half."""
    result = {}
    for l2 in grid:
        sc = [x for x in out_of_fold(rows, policy, l2, folds) if x["answerable"]]
        result[l2] = round(sum(x["top_hit"] for x in sc) / max(1, len(sc)), 3)
    return max(result, key=lambda k: (result[k], -k)), result


def main(argv: list[str] | None = None) -> int:
    from app.config import load_settings
    from app.engine import Engine

    ap = argparse.ArgumentParser(prog="python -m app.evaluation.calibrate")
    ap.add_argument("dev")
    ap.add_argument("--dev-also", action="append", default=[], metavar="FILE@DATA_DIR",
                    help="another development set, over the index in DATA_DIR (another corpus): fitted on too")
    ap.add_argument("--test", action="append", default=[], metavar="FILE[@DATA_DIR]",
                    help="a set to report beside the development one, never fitted on")
    ap.add_argument("--out")
    ap.add_argument("--keep-weights", action="store_true", help="score with the current policy, fit nothing")
    ap.add_argument("--rounds", type=int, default=2, help="fit, collect the candidates again under the new "
                                                          "weights, and fit again (default 2 rounds)")
    a = ap.parse_args(argv)
    engines: dict[str, Engine] = {}

    def engine_for(data_dir: str = "") -> Engine:
        if data_dir not in engines:
            engines[data_dir] = Engine(load_settings(data_dir=Path(data_dir)) if data_dir else load_settings())
        return engines[data_dir]

    def spec(text: str) -> tuple[str, str]:
        path, at, data_dir = text.rpartition("@")
        return (path, data_dir) if at else (text, "")

    sets = [(a.dev, "")] + [spec(x) for x in a.dev_also]
    if any(not d for _, d in sets[1:]):
        ap.error("--dev-also needs FILE@DATA_DIR: the index of the corpus its questions are about")
    items = [(engine_for(d), load_qa(p)) for p, d in sets]

    def collect_all() -> tuple[list[list[dict]], list[dict]]:
        """Each development set's rows, and all of them together (what is fitted)."""
        per_set = [collect(eng, its) for eng, its in items]
        return per_set, [r for rows in per_set for r in rows]

    def set_policy(policy) -> None:
        for eng in engines.values():
            eng.policy = eng.checker.policy = policy

    per_set, dev = collect_all()
    policy = engine_for().policy
    cv = {}
    for _ in range(0 if a.keep_weights else a.rounds):
        l2, cv = choose_l2(dev, policy)
        policy = _weighted(policy, *fit_ranking(dev, l2=l2))
        # the candidates depend on the weights (a named document's sentences are kept when nearly as good as
        # the best): collect them again under the new weights, as the answering path will see them
        set_policy(policy)
        per_set, dev = collect_all()
        # the threshold is read off out-of-fold scores (as new questions will score) of these candidates
        policy = replace(policy, min_evidence=choose_threshold(out_of_fold(dev, policy, l2)))
        set_policy(policy)
    t = policy.min_evidence
    report = {"weights": {k: getattr(policy, k) for k in ["rank_bias", *(f"rank_w_{f}" for f in FEATURES)]},
              "min_evidence": t, "cross_validated_evidence_at_1_by_l2": cv, "dev": figures(score(dev, policy), t)}
    if len(sets) > 1:
        for (path, _), rows in zip(sets, per_set):
            report["dev: " + Path(path).name] = figures(score(rows, policy), t)
    for text in a.test:
        path, data_dir = spec(text)
        report[Path(path).name] = figures(score(collect(engine_for(data_dir), load_qa(path)), policy), t)
    json.dump(report, sys.stdout, indent=2)
    print()
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
