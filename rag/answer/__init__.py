"""Answers held to their sources: the contract (`contract`), the evidence and verification both answerers
share (`evidence`), the extractive and generative answerers, the model's own checks, the citation grammar, the
reader prompt and source packing, and the choice of answerer (`choice`)."""
