"""Duplicate detection: hybrid dense + lexical scoring over the vector store."""
