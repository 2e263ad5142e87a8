"""Builds and stores the index: load -> clean -> chunk -> embed -> Chroma."""
