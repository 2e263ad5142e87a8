"""citeqa: answers only from its documents, and proves every sentence with a checked citation."""
import os

__version__ = "0.1.0"

# Offline by construction: nothing in this stack may reach for a hub, a tokenizer download or telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
for _var in ("TIKTOKEN_CACHE_DIR", "NLTK_DATA"):
    if os.environ.get(_var) == "":
        del os.environ[_var]  # an empty value would make them fetch from the internet
