from rag.distribution import ownership_problems


def test_import_packages_belong_to_this_distribution():
    assert ownership_problems() == []


def test_rag_does_not_import_the_packages_built_on_it():
    import subprocess
    import sys

    code = "import sys, rag.cli, rag.library, rag.index.collection_index; print([m for m in sys.modules " \
           "if m.split('.')[0] in ('ingest', 'evals')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
