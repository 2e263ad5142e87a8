"""Evaluation of the chat pipeline: `citeqa eval`. Public API for the CLI and the chat app's Evaluate tab."""
from .compare import check_gates, compare_runs, format_comparison
from .judges import SELF_JUDGE_NAME, OllamaJudge, SelfJudge, make_judge
from .metrics import (
    alce_citation_scores, cited_doc_precision, cited_doc_recall, hit_at_k, mrr, normalize_answer, recall_at_k,
    reference_recall, rouge_l, token_f1,
)
from .qa_file import QAItem, load_qa
from .files import load_run, read_results
from .report import render_html, render_markdown
from .runner import run_eval, summarize

__all__ = [
    "QAItem", "load_qa", "run_eval", "compare_runs", "check_gates", "format_comparison", "summarize", "read_results",
    "load_run", "render_html", "render_markdown", "make_judge", "SelfJudge", "OllamaJudge", "SELF_JUDGE_NAME",
    "normalize_answer", "reference_recall", "token_f1", "rouge_l", "hit_at_k", "mrr", "recall_at_k",
    "cited_doc_precision", "cited_doc_recall", "alce_citation_scores",
]
