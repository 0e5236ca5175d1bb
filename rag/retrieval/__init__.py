"""Retrieval: hybrid lexical + dense search with fusion, MMR and neighbour expansion (`hybrid`), and rerankers."""
