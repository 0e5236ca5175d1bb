"""Vector indexes: the FAISS index itself (`faiss_index`) and a collection's saved, checksummed generations
(`collection_index`)."""
