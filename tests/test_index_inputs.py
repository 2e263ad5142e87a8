"""Any document, any size (issue 12), without the real models: a hashing embedder stands in for MiniLM, the
store is a real embedded Chroma. What a user sees: the report, the documents, the chunks, the search results."""
from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path

import pytest

from _fixtures_core import SEEDS
from pdf_fixture import FREEDONIA_HTML, make_pdf

from index.embedders import Embedder


class HashEmbedder(Embedder):
    """Bag of hashed words, normalised: deterministic, instant, good enough for nearest-neighbour tests."""

    id = "test:hash-64"

    def as_llama_index(self):  # pragma: no cover - not used
        raise NotImplementedError

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        v = [0.0] * 64
        for w in text.lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / n for x in v]


@pytest.fixture
def settings(tmp_path):
    from app.config import load_settings

    return load_settings(data_dir=tmp_path / "data", docs_path=tmp_path / "docs", backend="llamacpp")


def _ingest(settings, paths, **kw):
    from index.ingest import Ingestor
    from index.store import ChromaStore

    return Ingestor(settings, HashEmbedder(), ChromaStore(settings)).run([Path(p) for p in paths], **kw)


def _search(settings, query, k=3):
    from app.retrieval import HybridRetriever
    from index.store import ChromaStore

    return HybridRetriever(settings, HashEmbedder(), ChromaStore(settings)).search(query, k)


def _text(words: int, tag: str) -> str:
    """A long plain text of real-looking sentences, one paragraph per 60 words."""
    out, n = [], 0
    while n < words:
        out.append(f"In {tag} paragraph {n // 60} the survey counted {n} rivers and {n + 7} bridges across the valley "
                   f"of the northern provinces, and every count was checked twice by the regional office staff. "
                   f"The committee then published the figures for paragraph {n // 60} in its yearly bulletin.\n\n")
        n += 60
    return "".join(out)


# ---- 1. cleaning: linear, same decisions ----------------------------------------------------------------
def test_cleaning_keeps_an_authors_bio_but_not_the_page_furniture_after_it():
    from index.clean import kept_spans

    article = ("Quokka farms report their readings every ninety seconds. The relay keeps them for a week.\n\n"
               "Ada Brightwater designed the protocol in 2019, after two dry summers. It is still in use today.\n\n")
    bio = ("Share\nPicture of Jane Doe\nJane Doe\n"
           "Jane writes about farms and sensors for the weekly. She also holds a keen interest in beekeeping.\n"
           "Related Posts\nThe Quokka relay gets a new antenna\nSubscribe to our newsletter\n")
    tails = {  # page furniture after an article, each with the words that must not be indexed
        "Prev\n8.2. Configuring the Network\nNext8.3. Setting the Hostname and Configuring the Nam...\nUp\nHome\n":
            "Hostname",
        "Comments\nJohn\nGreat article! Thanks for sharing.\nLeave a Reply\nCancel reply\n": "Great article",
        "Share\nWe use cookies to give you the best experience on our website. By continuing to browse, you agree "
        "to our use of cookies.\nAccept\nSettings\n": "cookies",
        "About us\nCopyright © 2024 Example Media Inc. Reproduction without permission is prohibited.\nTerms\n": "Copyright",
    }

    def kept(text: str) -> str:
        spans, _ = kept_spans(text)
        return " ".join(text[s:e] for s, e in spans)

    page = kept(article + bio)
    assert "beekeeping" in page and "ninety seconds" in page and "Brightwater" in page
    for furniture in ("Related Posts", "new antenna", "Subscribe", "Picture of"):
        assert furniture not in page, furniture
    for tail, furniture in tails.items():
        page = kept(article + tail)
        assert furniture not in page and "Brightwater" in page, furniture


def test_cleaning_keeps_a_plain_documents_sentences_that_hold_dates():
    """A user's own policy text: its dated sentences are prose, not event listings, and its last sentences are not
    page furniture (dropping them answered "when does it take effect?" with other sentences)."""
    from index.clean import kept_spans

    policy = ("Larkspur Travel Policy\n"
              "Larkspur reimburses hotel stays of up to 180 euros per night for business travel within Europe.\n"
              "All expense claims must be submitted within 30 days of returning from the trip.\n"
              "The policy is owned by Greta Holm, the Head of Finance, who approved it on 12 March 2024.\n"
              "Employees who travel more than 10 times a year may fly business class on long flights.\n"
              "The policy takes effect on 1 April 2024 and will be reviewed every two years.\n")
    spans, dropped = kept_spans(policy)
    kept = " ".join(policy[s:e] for s, e in spans)
    for words in ("12 March 2024", "business class", "1 April 2024", "180 euros"):
        assert words in kept, words
    # an event listing, short or with its separators, still goes
    listing = "May 24, 2023 | Bengaluru | Cypher conference: India's biggest AI gathering\nJune 7, 2024\n"
    spans, dropped = kept_spans(policy + listing)
    assert [ln.reason for ln in dropped if "2023" in ln.text or "June" in ln.text] == ["event listing/date line"] * 2


def test_cleaning_makes_the_same_decisions_and_offsets_on_the_seeds():
    from index.clean import kept_spans, title_guess

    want = json.loads((Path(__file__).parent / "data" / "clean_seeds.json").read_text("utf-8"))
    for name, w in want.items():
        text = (SEEDS / name).read_text("utf-8")
        spans, dropped = kept_spans(text)
        assert [list(s) for s in spans] == w["spans"], name
        assert [[d.start, d.end, d.reason] for d in dropped] == w["dropped"], name
        assert title_guess(text) == w["title"]


def test_cleaning_a_long_text_finishes_and_keeps_its_paragraphs():
    """5 MB of text: with the old quadratic scan this took many minutes; the check is that it completes."""
    from index.clean import kept_spans

    text = _text(800_000, "long")
    spans, dropped = kept_spans(text)
    assert sum(e - s for s, e in spans) > 0.95 * len(text.strip())
    assert not dropped


def test_ingest_reports_progress_per_file_and_phase(settings, tmp_path):
    f = tmp_path / "report.txt"
    f.write_text(_text(3000, "progress"), "utf-8")
    seen = []
    _ingest(settings, [f], progress=lambda done, total, name: seen.append(name))
    phases = {n.split(": ", 1)[1].split(" ")[0] for n in seen if ": " in n}
    assert {"read", "clean", "chunk", "embed", "store"} <= phases, seen
    assert any(n.startswith("report.txt: embed ") and n.endswith(" chunks") for n in seen)


# ---- 2. batches, version rule, flat memory ------------------------------------------------------------
def test_a_long_document_goes_to_chroma_in_batches_within_the_client_limit(settings, tmp_path, monkeypatch):
    import index.ingest as ingest
    import index.store as store

    sizes = []
    real_payload = store._node_payload

    def spy(nodes):
        sizes.append(len(nodes))
        return real_payload(nodes)

    monkeypatch.setattr(store, "_node_payload", spy)
    monkeypatch.setattr(store.ChromaStore, "max_batch", lambda self: 40)
    monkeypatch.setattr(ingest, "EMBED_BATCH", 100)
    f = tmp_path / "book.txt"
    f.write_text(_text(30_000, "book") + "The last paragraph says the lighthouse keeper was named Orsolya Brandt.\n", "utf-8")
    report = _ingest(settings, [f])
    assert [r.status for r in report.files] == ["added"]
    n = report.files[0].chunks
    assert n > 120 and report.embedded == n
    assert max(sizes) <= 40 and sum(sizes) == n
    from index.store import ChromaStore

    assert ChromaStore(settings).documents()["book.txt"].chunks == n
    hits = _search(settings, "lighthouse keeper Orsolya Brandt")
    assert "Orsolya Brandt" in hits[0].text


def test_a_new_version_is_visible_only_when_complete(settings, tmp_path, monkeypatch):
    import index.ingest as ingest
    from index.store import Build, ChromaStore

    monkeypatch.setattr(ingest, "EMBED_BATCH", 10)
    f = tmp_path / "doc.txt"
    f.write_text(_text(6000, "first"), "utf-8")
    _ingest(settings, [f])
    old = ChromaStore(settings).documents()["doc.txt"]
    f.write_text(_text(6000, "second"), "utf-8")
    seen, real = [], Build.write

    def write(self, nodes):
        real(self, nodes)
        seen.append(ChromaStore(settings).documents()["doc.txt"].hash)  # what a reader sees meanwhile

    monkeypatch.setattr(Build, "write", write)
    report = _ingest(settings, [f])
    assert report.files[0].status == "updated"
    assert len(seen) > 2 and set(seen[:-1]) == {old.hash} and seen[-1] != old.hash
    docs = ChromaStore(settings).documents()
    assert docs["doc.txt"].hash == seen[-1] and ChromaStore(settings).count() == docs["doc.txt"].chunks


# ---- 3. every file alone ------------------------------------------------------------------------------
def test_a_missing_path_fails_alone_and_the_other_files_are_stored(settings, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(_text(400, "good"), "utf-8")
    binary = tmp_path / "bad.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    report = _ingest(settings, [tmp_path / "missing.txt", binary, good])
    st = {Path(r.path).name: r for r in report.files}
    assert st["good.txt"].status == "added"
    assert st["missing.txt"].status == "failed" and "missing.txt: no such file or folder" in st["missing.txt"].error
    assert st["bad.txt"].status == "failed" and "binary" in st["bad.txt"].error
    from index.store import ChromaStore

    assert list(ChromaStore(settings).documents()) == ["good.txt"]


def test_a_catalog_entry_is_applied_when_edited_and_a_wrong_one_is_told(settings, tmp_path):
    """A new user's trial: `[handbook]` instead of `["handbook.md"]` was ignored silently, and after fixing it
    `ingest` said "unchanged" and kept no author until `--rebuild`."""
    from index.store import ChromaStore

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.md").write_text(_text(200, "handbook"), "utf-8")
    (docs / "catalog.toml").write_text('[handbook]\nauthor = "Ann Lee"\n', "utf-8")
    report = _ingest(settings, [docs])
    (row,) = report.files
    assert row.status == "added" and any("[\"handbook\"] names no file" in w for w in row.warnings), row.warnings
    assert ChromaStore(settings).documents()["handbook.md"].author == ""
    (docs / "catalog.toml").write_text('["handbook.md"]\nauthor = "Ann Lee"\nauthr = "x"\n', "utf-8")
    (row,) = _ingest(settings, [docs]).files
    assert row.status == "updated" and any("authr is not a catalog field" in w for w in row.warnings), row
    assert ChromaStore(settings).documents()["handbook.md"].author == "Ann Lee"
    (row,) = _ingest(settings, [docs]).files
    assert row.status == "unchanged"


def test_a_file_named_like_a_document_from_another_folder_never_silently_replaces_it(settings, tmp_path):
    """Document ids are file names: another folder's garden.md is refused with what to do, the indexed one
    stays; --replace lets it in; a moved file (the indexed one gone) updates as before."""
    from index.store import ChromaStore

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "garden.md").write_text("# Community garden\n\n" + _text(120, "garden"), "utf-8")
    (b / "garden.md").write_text("# Chess club\n\n" + _text(120, "chess"), "utf-8")
    assert _ingest(settings, [a / "garden.md"]).files[0].status == "added"
    r = _ingest(settings, [b / "garden.md"]).files[0]
    assert r.status == "failed" and "already indexed from" in r.error and "--replace" in r.error
    assert ChromaStore(settings).documents()["garden.md"].title == "Community garden"
    r = _ingest(settings, [b / "garden.md"], rebuild=True).files  # a rebuild does not get round it either
    assert {Path(x.path).parent.name: x.status for x in r} == {"b": "failed", "a": "added"}
    assert ChromaStore(settings).documents()["garden.md"].title == "Community garden"
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "garden.md").write_bytes((a / "garden.md").read_bytes())  # the same text: unchanged
    assert _ingest(settings, [tmp_path / "copy" / "garden.md"]).files[0].status == "unchanged"
    both = _ingest(settings, [tmp_path / "c" / "x", a / "garden.md", b / "garden.md"], replace=True).files
    by_path = {Path(x.path).parent.name: x for x in both if x.path.endswith("garden.md")}
    assert by_path["b"].status == "failed" and "same name" in by_path["b"].error  # never two in one run
    assert by_path["a"].status == "unchanged"
    assert _ingest(settings, [b / "garden.md"], replace=True).files[0].status == "updated"
    assert ChromaStore(settings).documents()["garden.md"].title == "Chess club"
    (a / "garden.md").unlink()
    (b / "garden.md").rename(a / "garden.md")
    (a / "garden.md").write_text("# Chess club, moved\n\n" + _text(130, "chess"), "utf-8")
    assert _ingest(settings, [a / "garden.md"]).files[0].status == "updated"
    # a rebuild whose replacing file fails keeps the indexed document
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "garden.md").write_bytes(b"\x00\x01\x02" * 100)
    r = _ingest(settings, [tmp_path / "bad" / "garden.md"], rebuild=True, replace=True).files
    assert {Path(x.path).parent.name: x.status for x in r} == {"bad": "failed", "a": "added"}
    assert ChromaStore(settings).documents()["garden.md"].title == "Chess club, moved"


def test_prune_never_removes_a_document_this_run_found_elsewhere(settings, tmp_path):
    from index.store import ChromaStore

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "notes.txt").write_text(_text(120, "notes"), "utf-8")
    assert _ingest(settings, [a]).files[0].status == "added"
    (b / "notes.txt").write_bytes((a / "notes.txt").read_bytes())  # the folder copied, then the old one removed
    (a / "notes.txt").unlink()
    statuses = [x.status for x in _ingest(settings, [b], prune=True).files]
    assert statuses == ["unchanged"] and "notes.txt" in ChromaStore(settings).documents()


# ---- 4. HTML ------------------------------------------------------------------------------------------
def test_html_inline_elements_never_split_text_and_blocks_do(tmp_path):
    from index.clean import kept_spans
    from index.loaders import load_file

    p = tmp_path / "freedonia.html"
    p.write_text(FREEDONIA_HTML, "utf-8")
    f = load_file(p)
    lines = f.text.split("\n")
    assert ("The capital of Freedonia is Fredville, a river port of about two hundred thousand people, founded in "
            "1822 by salt merchants.") in lines
    assert "Its parliament, the Grand Assembly, meets in Fredville every spring since 1901." in lines
    assert f.title == "Freedonia: a country profile"
    assert "Home" not in f.text and "newsletter" not in f.text and "rights reserved" not in f.text
    spans, _ = kept_spans(f.text)
    kept = " ".join(f.text[s:e] for s, e in spans)
    assert "The capital of Freedonia is Fredville" in kept


def test_list_items_and_table_rows_are_content_but_a_menu_is_not(tmp_path):
    """A new user's trial: a recipe's ingredients ("10 g of fine sea salt"), table rows ("Laptop | replaced every 3
    years") and an FAQ's short answer were dropped as "short line (menu, heading or caption)", so no question
    could find them. A list item or row that is not a link is content; a list of links is a menu."""
    from index.clean import byline, kept_spans
    from index.loaders import load_file

    md = tmp_path / "focaccia.md"
    md.write_text("# Focaccia di Recco\n\nBy Rosa Bellini\n\nThis focaccia comes from the village of Recco, near "
                  "Genoa, and is made with a very thin dough.\n\n## Ingredients\n\n- 500 g of flour\n"
                  "- 10 g of fine sea salt\n- [Buy flour online](https://example.org/shop)\n\n"
                  "| Item | Replacement cycle |\n|---|---|\n| Laptop | replaced every 3 years |\n\n"
                  "## FAQ\n\nWhich VPN client do we use?\n\nWe use WireGuard.\n\nWho fixes a broken laptop?\n\n"
                  "The help desk.\n", "utf-8")
    html = tmp_path / "office.html"
    html.write_text("<html><body><ul><li><a href='/'>Home</a></li><li><a href='/a'>About us</a></li></ul>"
                    "<p>This guide explains how the office works for new staff members in the first week.</p>"
                    "<ul><li>Lunch is at noon</li></ul><table><tr><th>Device</th><th>Where</th></tr>"
                    "<tr><td>Brother HL-L2350</td><td>4th floor</td></tr></table></body></html>", "utf-8")
    kept = {}
    for p in (md, html):
        f = load_file(p)
        spans, _ = kept_spans(f.text, f.content_lines)
        kept[p.name] = [f.text[a:b] for a, b in spans]
    text = "\n".join(kept["focaccia.md"])
    assert "10 g of fine sea salt" in text and "Laptop | replaced every 3 years" in text
    assert "Which VPN client do we use?\nWe use WireGuard." in text
    assert "Buy flour online" not in text  # a link
    # ... but a lone question and answer closing a page is furniture
    f = tmp_path / "post.txt"
    f.write_text("The kettle boils a litre of water in three minutes and switches itself off when done.\n"
                 "Its base turns all the way round, so it suits left and right hands alike.\n"
                 "Have a question for our team?\nEmail the editor.\nShare\nTweet\n", "utf-8")
    spans, _ = kept_spans(f.read_text())
    assert "Email the editor" not in " ".join(f.read_text()[a:b] for a, b in spans)
    text = "\n".join(kept["office.html"])
    assert "Lunch is at noon" in text and "Brother HL-L2350 | 4th floor" in text
    assert "Home" not in text and "About us" not in text
    assert byline(load_file(md).text) == "Rosa Bellini"  # the author, when no catalog names one
    assert "By Rosa Bellini" in "\n".join(kept["focaccia.md"])  # kept, for "who wrote it?" to cite
    # a "related posts" list with dates is furniture, and a table laying out a page is read block by block
    page = tmp_path / "kettle.html"
    page.write_text("<p>The kettle boils a litre of water in three minutes and switches itself off when done.</p>"
                    "<ul><li><a href='/t'>Meta launches Threads</a> - 12 comments, 3 July 2023</li></ul>"
                    "<table><tr><td><h2>Warranty</h2><p>The kettle is guaranteed for two years from the date of "
                    "purchase.</p><ul><li><a href='/'>Home</a></li></ul></td></tr></table>", "utf-8")
    f = load_file(page)
    spans, _ = kept_spans(f.text, f.content_lines)
    text = "\n".join(f.text[a:b] for a, b in spans)
    assert "Meta launches Threads" not in text and "Home" not in text
    assert "The kettle is guaranteed for two years from the date of purchase." in text.split("\n")


def test_html_title_falls_back_to_the_first_h1(tmp_path):
    from index.loaders import load_file

    p = tmp_path / "page.htm"
    p.write_text("<html><body><p>Intro text that is long enough to be a paragraph of content.</p>"
                 "<h1>The <em>real</em> heading</h1><h1>Second</h1></body></html>", "utf-8")
    assert load_file(p).title == "The real heading"


def test_a_markdown_document_is_read_without_its_markup(tmp_path):
    """Quotes and titles of a .md file carry no markup: no "# ", "**", list markers or link URLs."""
    from index.loaders import load_file

    p = tmp_path / "bake.md"
    p.write_text("# Baking sourdough at home\n\nThe dough proves for **five hours** at room temperature.\n\n"
                 "- Bake at 250 °C for 20 minutes.\n- See [the guide](https://example.org/g) for more.\n", "utf-8")
    f = load_file(p)
    assert f.title == "Baking sourdough at home"
    assert "The dough proves for five hours at room temperature." in f.text
    assert "Bake at 250 °C for 20 minutes." in f.text and "See the guide for more." in f.text
    assert not any(mark in f.text for mark in ("#", "**", "- ", "https://"))


def test_an_html_page_is_searchable_by_its_inline_sentence(settings, tmp_path):
    p = tmp_path / "freedonia.html"
    p.write_text(FREEDONIA_HTML, "utf-8")
    report = _ingest(settings, [p])
    assert report.files[0].title == "Freedonia: a country profile"
    hits = _search(settings, "What is the capital of Freedonia?")
    assert "The capital of Freedonia is Fredville" in hits[0].text


# ---- 5. PDF pages --------------------------------------------------------------------------------------
def _three_pages(tmp_path, empty_second: bool = False) -> Path:
    p = tmp_path / "atlas.pdf"
    p.write_bytes(make_pdf([
        ["The atlas opens with a survey of the western coast and its fishing towns.",
         "Each town is described with its harbour, its market days and its festivals."],
        [] if empty_second else ["The second chapter follows the old trade road inland through the hills.",
                                 "Caravans stopped at seven wells, each a day's walk from the next."],
        ["The third chapter is about the observatory on Mount Kessel.",
         "The observatory's main telescope has a mirror of 2.4 metres, cast in 1931."],
    ]))
    return p


def test_each_pdf_chunk_knows_its_page_and_its_offsets_are_exact(settings, tmp_path):
    from index.documents import document_text
    from index.store import ChromaStore

    report = _ingest(settings, [_three_pages(tmp_path)])
    assert report.files[0].status == "added"
    info = ChromaStore(settings).documents()["atlas.pdf"]
    text = document_text(settings, info)
    chunks = ChromaStore(settings).chunks()
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert text[c.metadata["start"]:c.metadata["end"]] == c.text
    hit = _search(settings, "observatory telescope mirror metres")[0]
    assert hit.page == 3 and "2.4 metres" in hit.text


def test_a_pdf_page_without_text_is_reported(settings, tmp_path):
    report = _ingest(settings, [_three_pages(tmp_path, empty_second=True)])
    r = report.files[0]
    assert r.status == "added"
    assert any("page 2 has no text: scanned image?" in w for w in r.warnings), r.warnings


def test_a_citation_carries_the_page_of_its_source():
    from app.grounding.citations import CitationBook
    from app.types import Evidence, Source

    src = Source("a.pdf", "A", "a.pdf#x#00001", "Some text here.", 10, 25, 0.9, page=3)
    book = CitationBook([Evidence(1, src, "Some text here.", 10, 25, 0.9)])
    book.cite(book_ev := Evidence(1, src, "Some text here.", 10, 25, 0.9), True, 0.9)
    assert book.citations[0].page == 3 and book.citations[0].to_dict()["page"] == 3
    assert book_ev.source.page == 3


def test_the_chat_shows_the_page_of_a_pdf_citation():
    from app.chat import render as R
    from app.types import Answer, Citation, Source, Timings

    src = Source("a.pdf", "Atlas", "c1", "The telescope mirror is 2.4 metres.", 0, 35, 0.9, page=3)
    cit = Citation(1, "a.pdf", "Atlas", "c1", 0, 35, "The telescope mirror is 2.4 metres.", True, 0.9, page=3)
    a = Answer("q", "The mirror is 2.4 metres [1].", False, [cit], [src], "llamacpp", "m", "en", Timings())
    assert "p. 3" in R.sources_html(a, lambda d: src.text)


# ---- 6. invalid bytes, pypdf noise ----------------------------------------------------------------------
def test_a_few_invalid_bytes_are_replaced_with_one_warning(tmp_path):
    from index.loaders import load_file

    p = tmp_path / "notes.txt"
    p.write_bytes(("Caffè latte costs 3 euros in Milan. " * 40).encode("utf-8") + b"\x81\x8d bad " + b"ok text.")
    f = load_file(p)
    assert f.warnings == [f"{p}: 2 invalid bytes replaced with \ufffd (not UTF-8)"]
    assert "Caffè latte" in f.text  # the rest stays UTF-8, not mojibake


def test_many_invalid_bytes_are_a_one_line_error(tmp_path):
    from app.errors import DocumentError
    from index.loaders import load_file

    p = tmp_path / "noise.txt"
    p.write_bytes(b"some words here " + b"\x81\x8d\x8f\x90\x9d" * 20 + b" and more words")
    with pytest.raises(DocumentError, match="invalid bytes") as e:
        load_file(p)
    assert "\n" not in str(e.value)


def test_a_legacy_encoded_file_still_reads(tmp_path):
    from index.loaders import load_file

    p = tmp_path / "fr.txt"
    p.write_bytes("Le café est très bon à Paris, déjà célèbre.".encode("cp1252"))
    f = load_file(p)
    assert "café" in f.text and not f.warnings


def test_a_utf16_file_with_its_byte_order_mark_reads(tmp_path):
    """Windows Notepad ("Unicode") and PowerShell's `>` write UTF-16 with a byte-order mark: it was refused as
    "looks like a binary file"."""
    from index.loaders import load_file

    for enc in ("utf-16", "utf-16-be"):
        p = tmp_path / f"{enc}.txt"
        body = "Le café est très bon à Paris, déjà célèbre.\r\nThe kettle is guaranteed for two years."
        p.write_bytes((b"\xfe\xff" if enc.endswith("be") else b"") + body.encode(enc))
        f = load_file(p)
        assert "café" in f.text and "guaranteed for two years" in f.text and "\r" not in f.text, (enc, f.text)


def test_pypdf_warnings_go_to_the_debug_log_not_the_terminal(tmp_path, capfd, caplog):
    from index.loaders import load_file

    raw = make_pdf([["A damaged file still has this sentence on its first page."]])
    raw = raw.replace(b"startxref\n", b"startxref\n9") # a wrong xref offset: pypdf warns and rebuilds it
    p = tmp_path / "damaged.pdf"
    p.write_bytes(raw)
    with caplog.at_level(logging.DEBUG, logger="citeqa.loaders"):
        f = load_file(p)
    assert "damaged file" in f.text
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("pypdf" in r.getMessage() for r in caplog.records)


# ---- 7. eval on an empty index --------------------------------------------------------------------------
def test_eval_on_an_empty_index_says_to_ingest_and_writes_nothing(tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "run"
    code = main(["eval", str(SEEDS / "qa.jsonl"), "--out", str(out), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert err == ["citeqa: error: the index is empty: run citeqa ingest (or pass --ingest)"]
    assert not out.exists()


# ---- 8. auto says why -------------------------------------------------------------------------------------
def test_a_bad_setting_names_only_the_places_it_can_be_fixed(monkeypatch, tmp_path):
    """A new user's trial: `CITEQA_N_THREADS=0` said "check ... or --n-threads", a flag that does not exist, and a
    CITEQA_CONFIG naming a missing file was silently ignored."""
    from app.cli import build_parser, settings_from_args
    from app.config import load_settings
    from app.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITEQA_N_THREADS", "0")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "CITEQA_N_THREADS" in str(e.value) and "--" not in str(e.value)
    monkeypatch.delenv("CITEQA_N_THREADS")
    monkeypatch.setenv("CITEQA_TOP_K", "0")
    with pytest.raises(ConfigError) as e:  # a setting the command line takes names its flag too
        settings_from_args(build_parser().parse_args(["search", "q"]))
    assert "--top-k" in str(e.value)
    monkeypatch.delenv("CITEQA_TOP_K")
    monkeypatch.setenv("CITEQA_CONFIG", str(tmp_path / "nonexistent.toml"))
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "nonexistent.toml" in str(e.value) and "\n" not in str(e.value)


def test_auto_says_once_which_backend_it_chose_and_why(monkeypatch, capsys):
    from app.chat import render as R
    from app.config import load_settings
    from app.llm import select

    monkeypatch.setattr(select, "_embedded", lambda settings, model: object())
    monkeypatch.setattr(select, "_ANNOUNCED", set())
    s = load_settings(backend="auto", ollama_host="http://127.0.0.1:9")
    _, why = select.make_backend(s)
    select.make_backend(s)
    assert why == "Ollama not reachable at http://127.0.0.1:9: using the embedded SmolLM2-135M"
    assert capsys.readouterr().err.splitlines() == [f"citeqa: {why}"]
    assert "Ollama not reachable at http://127.0.0.1:9" in R.status_line(None, {"documents": 1, "backend_reason": why})


# ---- 9. /chat argument checks ---------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    ((None, None, None, None), "question must be text, not NoneType"),
    (("q", "abc", None, None), "history must be a list"),
    (("q", [["a"]], None, None), "history[0] must be a [question, answer] pair"),
    (("q", None, "abc", None), "top_k must be a number from 1 to 50, not 'abc'"),
    (("q", None, 2.5, None), "top_k must be a whole number"),
    (("q", None, 0, None), "top_k must be from 1 to 50"),
    (("q", None, None, "hot"), "temperature must be a number from 0 to 2, not 'hot'"),
    (("q", None, None, [1]), "temperature must be a number from 0 to 2, not list"),
])
def test_chat_api_arguments_are_checked_with_a_clear_message(args, message):
    from app.chat.service import api_arguments
    from app.errors import InputError

    with pytest.raises(InputError) as e:
        api_arguments(*args)
    assert message in str(e.value)


def test_chat_api_arguments_accept_numbers_as_text():
    from app.chat.service import api_arguments

    q, h, opts = api_arguments("q", [["a", "b"]], "7", "0.3")
    assert (q, h, opts.top_k, opts.temperature) == ("q", [["a", "b"]], 7, 0.3)


# ---- 11. control and ANSI escapes -------------------------------------------------------------------------
def test_ansi_and_control_sequences_are_stripped_from_questions():
    from types import SimpleNamespace

    from app.config import Settings
    from app.engine import Engine
    from app.sanitize import strip_controls

    assert strip_controls("\x1b[31mHow quickly\x1b[0m did \x1b]0;title\x07Threads\x07 grow?\x1b[2K") == \
        "How quickly did Threads grow?"
    fake = SimpleNamespace(settings=Settings())
    assert Engine.validate(fake, "\x1b[1;31mHow quickly did Threads cross 10 million users?\x1b[0m\x00") == \
        "How quickly did Threads cross 10 million users?"
    from app.errors import InputError

    for blank in ("   ?", "...", "\x1b[2K ?!"):  # nothing to search for: the empty-question message, not a refusal
        with pytest.raises(InputError, match="the question is empty"):
            Engine.validate(fake, blank)


# ---- 12. precision by CPU ---------------------------------------------------------------------------------
def test_a_new_index_takes_int8_only_where_the_cpu_has_int8_instructions(settings, monkeypatch, tmp_path):
    from index import precision

    settings = settings.model_copy(update={"model_cache": tmp_path / "cache"})  # the probe file goes there

    monkeypatch.setattr(precision, "cpu", lambda: ("AMD EPYC", frozenset({"avx2", "fma"})))
    assert precision.for_new_index(settings)[0] == "fp32"
    monkeypatch.setattr(precision, "cpu", lambda: ("Xeon", frozenset({"avx2", "avx512_vnni"})))
    assert precision.for_new_index(settings)[0] == "int8"
    precision.record_probe(settings, int8_cps=22.0, fp32_cps=26.0)  # measured slower on this CPU: fp32
    assert precision.for_new_index(settings) == ("fp32", "measured on this CPU: int8 22.0 vs fp32 26.0 chunks/s")


def test_an_existing_index_keeps_the_precision_it_records(settings, tmp_path, monkeypatch):
    from index import precision
    from index.ingest import Ingestor
    from index.store import ChromaStore

    class Fp32Named(HashEmbedder):
        id = "local:all-MiniLM-L6-v2"

    f = tmp_path / "a.txt"
    f.write_text(_text(300, "p"), "utf-8")
    Ingestor(settings, Fp32Named(), ChromaStore(settings)).run([f])
    monkeypatch.setattr(precision, "cpu", lambda: ("Xeon", frozenset({"avx512_vnni"})))
    assert precision.resolve(settings) == ("fp32", "recorded in the index")


# ---- issue 10 (A): one owner for Chroma ---------------------------------------------------------------
def test_chroma_is_known_only_to_index_store():
    import re

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("app", "index", "bench"):
        for p in (root / folder).rglob("*.py"):
            if p.relative_to(root).as_posix() == "index/store.py":
                continue
            text = p.read_text("utf-8")
            for pattern in (r"^\s*(import|from)\s+chromadb", r"vector_stores\.chroma", r"['\"]\$(and|or|ne|eq|in)['\"]",
                            r"chroma\.sqlite3", r"get_collection|get_or_create_collection"):
                if re.search(pattern, text, re.M):
                    offenders.append(f"{p.relative_to(root)}: {pattern}")
    assert offenders == []
