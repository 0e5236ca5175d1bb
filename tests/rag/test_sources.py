"""A source names a file, or one record of a dataset file; a '#' in an ordinary file name stays in the name."""

from pathlib import Path

from rag.sources import record_source, source_file, source_key, split_source


def test_a_dataset_record_and_its_file():
    source = record_source(Path("/data/scifact/corpus.jsonl"), "4983")
    assert split_source(source) == ("/data/scifact/corpus.jsonl", "4983")
    assert source_file(source) == Path("/data/scifact/corpus.jsonl") and source_key(source) == "4983"


def test_a_hash_in_a_file_name_is_part_of_the_name():
    assert source_file("/notes/C# tips.txt") == Path("/notes/C# tips.txt")
    assert source_file("/notes/issue#12.pdf").name == "issue#12.pdf"
    assert source_key("/notes/issue#12.pdf") == "/notes/issue#12.pdf"
