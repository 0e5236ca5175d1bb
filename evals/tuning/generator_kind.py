"""`rag tune generator`'s kind: what the tuner trains, measures, gates and adopts for the local model."""

from __future__ import annotations

from pathlib import Path

from evals.tuning import answer_check
from evals.tuning.answer_examples import AnswerExample, AnswerExamples, HeuristicAnswerQuestions
from evals.tuning.examples import Example
from evals.tuning.lora import GeneratorTraining
from evals.tuning.run_protocol import Progress, TuningError
from rag.tuned_models import check_files, weights_file
from rag.workspace import Workspace


class GeneratorKind:
    """The local generation model: a LoRA trained on cited answers and abstentions in the product's own prompt
    (`evals.tuning.answer_examples`), measured through the real answerer on held-out questions asked with and
    without their document (`evals.tuning.answer_check`). Adopted, llama.cpp applies the adapter to the
    collection's answers; it stays tied to the model file it was trained from (its SHA-256)."""

    name = "generator"
    metric = "held-out grounded-answer score"
    trainable = GeneratorTraining()
    heuristic = HeuristicAnswerQuestions
    examples_per_question = 4  # an answer and an abstention, each with the answerability check's verdict
    default_margin = 0.02
    # Sized for CPU: a step of 4 examples takes about 80 s with the 1.5B model on 2 cores (measured).
    defaults = {"examples": 200, "batch_size": 4, "learning_rate": 2e-4, "epochs": 1}
    negatives = False
    train_type = AnswerExample

    def base(self, workspace: Workspace) -> tuple[str, str, str]:
        model = workspace.active_model()
        if model is None:
            raise TuningError("no generation model is installed to tune: `rag models install`")
        if workspace.settings.generator.lora_path:
            raise TuningError("RAG_GENERATOR__LORA_PATH applies an adapter to every answer; unset it to tune "
                              "from the base model")
        if not model.sha256:
            raise TuningError(f"{model.path}: its SHA-256 is not known; choose it with `rag models use FILE`, "
                              "which checks it")
        return model.name, str(model.path), model.sha256

    def training_examples(self, workspace: Workspace, coll, questions: list[Example], progress: Progress) -> list:
        from rag.judges.choice import build_judge

        answerer = workspace.answerer(coll.name, generator=workspace.generator())
        with workspace.store.session() as session:
            liked = workspace.store.liked_answers(session, coll.id)
        progress.stage("answers and abstentions in the answer format", len(questions))
        made = AnswerExamples(answerer, build_judge("alignment", workspace.embedder))
        return made.make(questions, liked, lambda n: progress.advance(n))

    def prepare(self, workspace: Workspace, row, coll, progress: Progress) -> tuple[Path, str]:
        """The adapter file (its SHA-256 checked against the card) and the tuned model's id."""
        return check_files(workspace.settings, row) / weights_file(self.name), row.model_id

    def measure(self, workspace: Workspace, coll, tuned, held_out: list[Example], dataset, items: list[dict]
                ) -> dict:
        generator = (workspace.generator() if tuned is None
                     else workspace.generator(adapter=tuned[0], adapter_name=tuned[1]))
        return {"model": generator.name,
                "held_out": answer_check.measure(workspace, coll.name, generator, held_out, items)}

    def adopt(self, workspace: Workspace, coll, tuned, row) -> None:
        with workspace.store.session() as session:
            workspace.store.set_adopted(session, coll.id, self.name, row.id)

    def reject(self, workspace: Workspace, row) -> None:
        pass

    def gate(self, card: dict, margin: float) -> dict:
        before, after = card["before"]["held_out"], card["after"]["held_out"]
        delta = round(after["grounded_score"] - before["grounded_score"], 4)
        passed = delta >= margin
        reason = (f"{self.metric} {before['grounded_score']:.4f} -> {after['grounded_score']:.4f} ({delta:+.4f}): "
                  + (f"at least the margin {margin:+.4f}" if passed else
                     f"below the margin {margin:+.4f}, so the base model answers alone"))
        if passed and after["answerable_correct"] < before["answerable_correct"] - max(margin, 0.0):
            passed = False
            reason += (f", but answerable questions answered right fell {before['answerable_correct']:.2f} -> "
                       f"{after['answerable_correct']:.2f} (it abstains more), so the base model answers alone")
        return {"gate": {"metric": self.metric, "margin": margin, "delta": delta, "passed": passed,
                         "before": before["grounded_score"], "after": after["grounded_score"], "reason": reason}}

    def figures(self, card: dict) -> list[list]:
        before, after = card["before"]["held_out"], card["after"]["held_out"]
        names = ("grounded_score", "answerable_correct", "unanswerable_abstained", "citation_validity",
                 "verified_share", "f1", "gold_cited", "seconds_p50")
        return [[f"held-out {name}", before[name], after[name]] for name in names]
