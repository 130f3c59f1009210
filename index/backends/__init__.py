"""Retrieval backends: where chunks, vectors and the lexical index of a generation live.

`protocol` is the contract, `uri` reads NEWSQA_BACKEND, `embedded` keeps a generation in
files on one box (FAISS + bm25s), `milvus` keeps it in a Milvus collection (server or lite).
"""
