"""citeqa: answers only from its documents, and proves every sentence with a checked citation."""
from app import offline

__version__ = "0.1.0"

offline.apply()  # before anything imports chromadb, gradio or transformers
