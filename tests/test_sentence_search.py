"""The sentence leg of retrieval (app/sentence_search.py), with the fake embedder: no model weights."""
from __future__ import annotations

import numpy as np

from fakes import FakeEmbedder

from app.sentence_search import SentenceSearch


class _Node:
    def __init__(self, text: str):
        self.text = text

    def get_content(self) -> str:
        return self.text


def _search(embedder: FakeEmbedder) -> SentenceSearch:
    return SentenceSearch(lambda texts: [np.asarray(v) for v in embedder.embed_documents(texts)], min_words=4)


NODES = [
    _Node("Meta released Llama 2 as an open model. The weather in Menlo Park was sunny that week."),
    _Node("Threads crossed ten million users within seven hours. Musk is suing Meta for copying its platform."),
    _Node("Zuckerberg spoke on a podcast about open source. He praised Mastodon and Bluesky for decentralisation."),
]


def test_the_passage_holding_the_nearest_sentence_comes_first_and_each_passage_once():
    emb = FakeEmbedder()
    finder = _search(emb)
    q = np.asarray(emb.embed_query("Why is Musk suing Meta?"))
    got = finder.passages(("v1",), NODES, q, 3)
    assert got[0] == 1 and sorted(got) == [0, 1, 2]
    assert finder.passages(("v1",), NODES, q, 1) == [1]


def test_fragments_are_not_searched():
    emb = FakeEmbedder()
    q = np.asarray(emb.embed_query("Mastodon Bluesky"))
    assert _search(emb).passages(("v1",), [_Node("Mastodon Bluesky.")], q, 2) == []  # shorter than a sentence


def test_one_index_version_is_embedded_once_and_a_new_version_is_read_again():
    emb = FakeEmbedder()
    finder = _search(emb)
    q = np.asarray(emb.embed_query("Mastodon Bluesky decentralisation"))
    assert finder.passages(("v1",), NODES, q, 1) == [2]
    calls = emb.calls
    assert finder.passages(("v1",), NODES, q, 1) == [2]
    assert emb.calls == calls  # same version: not embedded again
    changed = [NODES[2], NODES[0]]  # a new version of the index: other chunks at other positions
    assert finder.passages(("v2",), changed, q, 1) == [0]
    assert emb.calls > calls
