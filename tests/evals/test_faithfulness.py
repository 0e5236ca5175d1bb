"""Judge agreement with human labels: the metrics by hand, loading pair files, the three judges on small
labelled fixtures, and the LLM judge's reply always parsing."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest

from evals.faithfulness import DatasetError, Pair, agreement, balanced_accuracy, load_pairs, roc_auc, split_pairs
from evals.train_judge import perturb, synthetic_pairs
from rag.judges.alignment import EvidenceAlignmentJudge, judge_text

SOURCE = ("The Fresnel lens was invented by Augustin-Jean Fresnel in 1822. It was first used in the Cordouan "
          "lighthouse in 1823. Its light could be seen from more than 30 kilometres away.")
FIXTURE = [
    Pair("1", SOURCE, "Augustin-Jean Fresnel invented the Fresnel lens in 1822.", 1),
    Pair("2", SOURCE, "The lens was first used in the Cordouan lighthouse in 1823.", 1),
    Pair("3", SOURCE, "Its light was visible from more than 30 kilometres.", 1),
    Pair("4", SOURCE, "The Fresnel lens was invented in 1905.", 0),
    Pair("5", SOURCE, "The lens was first used in a lighthouse in Boston.", 0),
    Pair("6", SOURCE, "Honeybees communicate with a waggle dance.", 0),
]


def test_roc_auc_and_balanced_accuracy_by_hand():
    labels = np.array([1, 1, 0, 0])
    assert roc_auc(labels, np.array([0.9, 0.4, 0.5, 0.1])) == 0.75
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert balanced_accuracy(np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0])) == pytest.approx((1 / 3 + 1) / 2)


def test_pair_files_plain_and_gzipped_with_clear_errors(tmp_path):
    rows = [{"id": "a", "context": "c", "claim": "x", "label": 1}, {"id": "b", "context": "c", "claim": "y",
                                                                     "label": 0}]
    plain = tmp_path / "pairs.jsonl"
    plain.write_text("\n".join(json.dumps(r) for r in rows))
    packed = tmp_path / "pairs.jsonl.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows))
    assert [p.label for p in load_pairs(plain)] == [p.label for p in load_pairs(packed)] == [1, 0]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"context": "c", "claim": "x"}\n')
    with pytest.raises(DatasetError, match="broken.jsonl:1: not a faithfulness pair"):
        load_pairs(broken)


def test_split_is_seeded_and_disjoint():
    pairs = [Pair(str(i), "c", "x", i % 2) for i in range(100)]
    part, rest = split_pairs(pairs, 0.5, seed=3)
    assert len(part) == 50 and {p.id for p in part}.isdisjoint({p.id for p in rest})
    assert split_pairs(pairs, 0.5, seed=3)[0] == part and split_pairs(pairs, 0.5, seed=4)[0] != part


def test_the_default_judge_separates_the_fixture(real_embedder):
    result = agreement(EvidenceAlignmentJudge(real_embedder), FIXTURE)
    assert result["roc_auc"] == 1.0 and result["n"] == 6 and result["judge"] == "evidence-alignment"


def test_a_text_is_as_supported_as_its_weakest_sentence(real_embedder):
    judge = EvidenceAlignmentJudge(real_embedder)
    both = judge_text(judge, FIXTURE[0].claim + " " + FIXTURE[3].claim, SOURCE)
    assert both.score == judge.judge(FIXTURE[3].claim, SOURCE).score and not both.supported


def test_perturbations_change_what_a_sentence_says():
    rng = random.Random(0)
    changed = {perturb("Fresnel was born in 1788 and Arago was his friend.", rng) for _ in range(20)}
    assert changed - {None} and "Fresnel was born in 1788 and Arago was his friend." not in changed
    pairs = synthetic_pairs([SOURCE + " " + SOURCE.replace("1822", "1821"), "Bees dance. Bees forage far away. "
                             "Hives hold thousands of bees."], 40, seed=1)
    assert len(pairs) == 40 and {p.label for p in pairs} == {0, 1}
    assert all(p.claim in p.context for p in pairs if p.label == 1)


def test_the_llm_judge_always_parses_and_is_reproducible(tiny_gguf):
    """Even random weights give a verdict: it is scored from the next-token probabilities, not parsed."""
    from rag.generation.generators import LlamaCppGenerator
    from rag.judges.llm import LlmJudge
    from rag.settings import GeneratorSettings

    judge = LlmJudge(LlamaCppGenerator(tiny_gguf, GeneratorSettings(context_tokens=8192, temperature=1.0)))
    verdicts = [judge.judge(p.claim, p.context) for p in FIXTURE[:4]]
    assert all(0 <= v.score <= 1 and v.rationale.startswith("model says") for v in verdicts)
    assert judge.judge(FIXTURE[0].claim, FIXTURE[0].context) == verdicts[0]


def test_train_judge_saves_a_judge_with_its_card_that_then_judges(tmp_path):
    from evals.train_judge import train_judge
    from rag.embedder import resolve_model
    from rag.judges.cross_encoder import CrossEncoderJudge

    pairs = FIXTURE * 4 + synthetic_pairs([SOURCE * 3], 16, seed=2)
    card = train_judge(pairs, tmp_path / "judge", resolve_model("default")[0], max_steps=2, batch_size=8,
                       sources=["fixture"])
    assert card["steps"] == 2 and card["held_out_pairs"] > 0 and 0 <= card["threshold"] <= 1
    assert "ece" in card["held_out"] and card["held_out"]["reliability"]
    judge = CrossEncoderJudge(tmp_path / "judge")
    verdict = judge.judge(FIXTURE[0].claim, SOURCE * 20)  # longer than the model reads: windows
    assert 0 <= verdict.score <= 1 and verdict.evidence and verdict.evidence in SOURCE * 20


def test_a_directory_that_is_not_a_trained_judge_is_refused(tmp_path):
    from rag.errors import ConfigError
    from rag.judges.cross_encoder import CrossEncoderJudge

    with pytest.raises(ConfigError, match="not a trained judge"):
        CrossEncoderJudge(tmp_path).judge("x", "y")


def test_alignment_weights_fitted_on_labelled_pairs_are_saved_and_judge(tmp_path, real_embedder):
    from evals.train_judge import fit_alignment
    from rag.errors import ConfigError
    from rag.judges.alignment import FEATURES, AlignmentWeights, read_card
    from rag.judges.choice import build_judge

    pairs = [Pair(f"{p.id}-{i}", p.context, p.claim, p.label, f"set{i % 2}") for i in range(4) for p in FIXTURE]
    card = fit_alignment(pairs, EvidenceAlignmentJudge(real_embedder), tmp_path / "alignment", held_out=0.5,
                         sources=["fixture"])
    assert card["kind"] == "alignment" and set(card["coefficients"]) == set(FEATURES)
    # support raises the score, a missing name or number lowers it
    assert card["coefficients"]["coverage_source"] > 0 > card["coefficients"]["numbers_missing"]
    assert card["held_out"]["roc_auc"] == 1.0
    assert read_card(tmp_path / "alignment")["coefficients"] == card["coefficients"]
    judge = build_judge(str(tmp_path / "alignment"), real_embedder)  # what RAG_ANSWER__JUDGE=DIR gives
    assert judge.weights.coefficients == card["coefficients"]
    assert judge.judge(FIXTURE[0].claim, SOURCE).supported and not judge.judge(FIXTURE[5].claim, SOURCE).supported
    with pytest.raises(ConfigError, match="neither alignment, llm, combined nor a directory"):
        build_judge(str(tmp_path / "missing"), real_embedder)
    with pytest.raises(ConfigError, match="unknown judge features"):
        AlignmentWeights.from_card({"coefficients": {"vibes": 1.0}, "bias": 0})


def test_a_multi_sentence_claim_embeds_its_source_once(real_embedder):
    embedded: list[str] = []

    class Counting:
        def embed(self, texts):
            embedded.extend(texts)
            return real_embedder.embed(texts)

    source = " ".join(f"Sentence number {i} talks about lighthouses." for i in range(30)) + " " + SOURCE
    claim = " ".join(p.claim for p in FIXTURE[:3])
    verdict = judge_text(EvidenceAlignmentJudge(Counting()), claim, source)
    assert verdict.supported and len(embedded) == 33 + 3  # the source's sentences once, then each claim sentence


def test_combined_weights_fitted_with_a_real_model_are_saved_and_judge(tmp_path, real_embedder, tiny_model):
    from evals.train_judge import fit_alignment
    from rag.generation.generators import LlamaCppGenerator
    from rag.judges.choice import build_judge
    from rag.judges.combined import COMBINED_FEATURES, CombinedJudge
    from rag.judges.llm import LlmJudge
    from rag.settings import GeneratorSettings

    generator = LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))
    pairs = [Pair(f"{p.id}-{i}", p.context, p.claim, p.label, f"set{i}") for i in range(2) for p in FIXTURE]
    card = fit_alignment(pairs, EvidenceAlignmentJudge(real_embedder), tmp_path / "combined", held_out=0.5,
                         llm=LlmJudge(generator, real_embedder))
    assert card["kind"] == "combined" and set(card["coefficients"]) == set(COMBINED_FEATURES)
    assert card["generation_model"] == generator.name and 0 <= card["threshold"] <= 1
    judge = build_judge(str(tmp_path / "combined"), real_embedder, generator)
    assert isinstance(judge, CombinedJudge) and judge.weights.coefficients == card["coefficients"]
    verdict = judge.judge(FIXTURE[3].claim, SOURCE)  # "invented in 1905": the number veto stays
    assert verdict.score <= 0.05 and "numbers not in the source" in verdict.rationale
