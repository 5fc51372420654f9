"""Exact duplicates, near-duplicates and repeated queries (aligntax.dedup + `aligntax dedup`)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from aligntax.dedup import DedupIndex, hash_words, ngram_hashes, text_hashes
from aligntax.io import read_conversations
from aligntax.record import Conversation, Turn


def conv(i: int, user: str, answer: str, source: str = "t") -> Conversation:
    return Conversation(id=f"{source}-{i}", source=source, index=i, turns=[Turn("user", user), Turn("assistant", answer)])


def real_convs(shared_data, n=None) -> list[Conversation]:
    return [c for c in read_conversations([shared_data / "hh_rlhf_harmless_base" / "test.jsonl"], limit=n)
            if isinstance(c, Conversation)]


def test_normalisation_folds_case_punctuation_whitespace_and_unicode_quotes():
    words = hash_words(["Hello, World!", "  hello\n\tWORLD ", "“Hello” — world…", "don’t stop", "don't stop", ""])
    h = text_hashes(words).tolist()
    assert h[0] == h[1] == h[2]
    assert h[3] == h[4]
    assert len(set(h)) == 3
    assert words.lengths().tolist() == [2, 2, 2, 3, 3, 0]


def test_ngram_hash_of_a_window_equals_hash_of_that_text_alone():
    words = hash_words(["alpha beta gamma delta", "beta gamma"])
    grams = ngram_hashes(words, 2)
    assert grams.hashes[1] == grams.hashes[grams.offsets[1]]  # "beta gamma" inside == alone
    short = ngram_hashes(words, 3, short="skip")
    assert short.lengths().tolist() == [2, 0]


def test_first_occurrence_is_representative_and_untagged():
    story = ("The old lighthouse keeper climbed the spiral stairs every evening to light the lamp, "
             "watching the fishing boats return to the harbour as the sun went down behind the cliffs")
    convs = [
        conv(0, "Tell me a story", story),
        conv(1, "TELL me a story!!", story.upper() + " "),  # exact after normalisation
        conv(2, "Tell me a story", story + " The end."),  # near duplicate + repeated query
        conv(3, "What is 2+2?", "4"),
        conv(4, "Something else entirely", "Gluons mediate the strong force between quarks in hadrons."),
    ]
    index = DedupIndex()
    index.add_batch(convs)
    result = index.finalize()
    assert result.tags_for(("t", 0, 0)) == set()
    assert result.tags_for(("t", 1, 0)) == {"duplicate", "repeated_query"}
    assert result.tags_for(("t", 2, 0)) == {"near_duplicate", "repeated_query"}
    assert result.tags_for(("t", 3, 0)) == result.tags_for(("t", 4, 0)) == set()
    for hit in result.hits:
        assert hit.representative_id == "t-0" and hit.cluster_id == 0
    near = next(h for h in result.hits if h.tag == "near_duplicate")
    assert 0.8 <= near.similarity < 1.0
    assert result.summary()["counts"] == {"duplicate": 1, "near_duplicate": 1, "repeated_query": 2}


def test_max_per_prompt_allows_that_many_rows_per_prompt():
    convs = [conv(i, "Write a haiku about autumn.", f"answer number {i} " * 5) for i in range(5)]
    index = DedupIndex(max_per_prompt=3, near_duplicates=False)
    index.add_batch(convs)
    tagged = [h.index for h in index.finalize().hits if h.tag == "repeated_query"]
    assert tagged == [3, 4]


def test_streaming_batches_give_the_same_answer_as_one_batch(shared_data):
    convs = real_convs(shared_data, 600)
    convs += [conv(10_000 + i, c.first_user(), c.turns[-1].content.lower(), source="copy") for i, c in enumerate(convs[:40])]
    one = DedupIndex()
    one.add_batch(convs)
    many = DedupIndex()
    many.add(convs, batch_size=97)
    a, b = one.finalize(), many.finalize()
    assert [(h.key, h.tag, h.representative_key) for h in a.hits] == [(h.key, h.tag, h.representative_key) for h in b.hits]
    # the 40 lower-cased copies of multi-turn conversations share only the last turn's text
    # and the first prompt: they must be repeated queries of their originals
    copies = [h for h in a.hits if h.source == "copy" and h.tag == "repeated_query"]
    assert len(copies) == 40


def test_real_hh_data_has_repeated_queries_but_no_exact_duplicates(shared_data):
    convs = real_convs(shared_data)
    index = DedupIndex()
    index.add(convs)
    result = index.finalize()
    counts = result.summary()["counts"]
    assert result.rows == len(convs) == 2312
    assert counts["duplicate"] == 0
    assert counts["repeated_query"] > 50  # red-team prompts are reused across HH dialogues
    for hit in (h for h in result.hits if h.tag == "repeated_query"):
        assert hit.representative_id != hit.id


def test_planted_near_duplicates_in_real_data_are_found_by_both_backends(shared_data):
    pytest.importorskip("datasketch")
    convs = real_convs(shared_data, 400)
    planted = []
    for i, c in enumerate(convs[:30]):
        turns = [Turn(t.role, t.content) for t in c.turns]
        words = turns[-1].content.split()
        turns[-1] = Turn("assistant", " ".join(words[: max(len(words) - 2, 1)]) + " Hope this helps!")
        planted.append(Conversation(id=f"p{i}", source="planted", index=i, turns=turns))
    found = {}
    for backend in ("rensa", "datasketch"):
        index = DedupIndex(backend=backend, threshold=0.7)
        index.add(convs + planted)
        result = index.finalize()
        found[backend] = {h.key for h in result.hits if h.tag in ("near_duplicate", "duplicate")}
    recall = {b: sum(k[0] == "planted" for k in keys) / len(planted) for b, keys in found.items()}
    assert recall["rensa"] >= 0.8 and recall["datasketch"] >= 0.8
    agreement = len(found["rensa"] & found["datasketch"]) / len(found["rensa"] | found["datasketch"])
    assert agreement >= 0.8


def test_empty_conversations_are_exact_duplicates_not_near_duplicate_clusters():
    convs = [conv(0, "", ""), conv(1, "", ""), conv(2, "hi", "hello there")]
    index = DedupIndex()
    index.add_batch(convs)
    result = index.finalize()
    assert [(h.index, h.tag) for h in result.hits] == [(1, "duplicate")]
    assert DedupIndex().finalize().rows == 0


def test_signature_memory_is_bounded_by_hashes_not_texts():
    index = DedupIndex(num_perm=64)
    index.add_batch([conv(i, f"prompt {i}", "word " * 2000) for i in range(50)])
    stored = sum(a.nbytes for a in index._signatures + index._band_keys + index._conv_hash + index._prompt_hash)
    assert stored < 50 * (64 * 4 + 64 * 8 + 16) and index._signatures[0].dtype == np.uint32


def test_cli_writes_duplicates_parquet_and_summary(tmp_path, write_jsonl):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    rows = [{"instruction": "Name a primary colour.", "input": "", "output": "Red is a primary colour."}] * 3
    rows.append({"instruction": "Add 2 and 3.", "input": "", "output": "5"})
    path = write_jsonl("train.jsonl", rows)
    result = CliRunner().invoke(app, ["dedup", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "duplicates.parquet").to_pylist()
    assert {(r["index"], r["tag"]) for r in table} == {(1, "duplicate"), (2, "duplicate"), (1, "repeated_query"),
                                                        (2, "repeated_query")}
    assert all(r["cluster_id"] == 0 and r["representative_id"] == table[0]["representative_id"] for r in table)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows"] == 4 and summary["counts"]["duplicate"] == 2
