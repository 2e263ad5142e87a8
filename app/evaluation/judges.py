"""Who decides whether a cited passage supports a sentence: the pipeline's own checker, or a stronger model."""
from __future__ import annotations

from typing import Any, Protocol

from app.errors import BackendError, BackendUnavailable, InputError, ModelNotFound

SELF_JUDGE_NAME = "citeqa support checker (self-judged)"
MINICHECK_PROMPT = "Document: {document}\nClaim: {claim}"


class Judge(Protocol):
    name: str
    self_judged: bool

    def entails(self, passage: str, claim: str) -> bool: ...


class SelfJudge:
    """The pipeline's own support checker: figures it gives are marked self-judged."""

    self_judged = True

    def __init__(self, checker: Any):
        self.checker = checker
        self.name = SELF_JUDGE_NAME

    def entails(self, passage: str, claim: str) -> bool:
        return bool(self.checker.supports(claim, passage))


class OllamaJudge:
    """A MiniCheck-style fact checker served by Ollama (e.g. bespoke-minicheck): answers Yes or No."""

    self_judged = False

    def __init__(self, model: str, host: str, connect_timeout: float = 2.0, read_timeout: float = 120.0, client: Any = None):
        self.model = model
        self.host = host
        self.name = f"ollama:{model}"
        if client is None:
            try:
                import httpx
                import ollama
            except ImportError:
                raise BackendError("the 'ollama' package is not installed: pip install ollama, or drop --judge") from None
            client = ollama.Client(host=host, timeout=httpx.Timeout(read_timeout, connect=connect_timeout))
        self.client = client

    def check_available(self) -> None:
        """Fail fast, before anything runs, with one line that says what to do."""
        try:
            listed = self.client.list()
        except Exception as e:  # ConnectionError, httpx errors
            raise BackendUnavailable(
                f"judge {self.name}: cannot reach Ollama at {self.host} ({type(e).__name__}); start it with `ollama serve` or drop --judge"
            ) from None
        models = getattr(listed, "models", None)
        if models is None and isinstance(listed, dict):
            models = listed.get("models", [])
        names = set()
        for m in models or []:
            n = getattr(m, "model", None) or (m.get("model") or m.get("name") if isinstance(m, dict) else None)
            if n:
                names.add(n)
                names.add(n.split(":")[0])
        if names and self.model not in names and self.model.split(":")[0] not in names:
            raise ModelNotFound(f"judge {self.name}: Ollama at {self.host} has no model '{self.model}'; run `ollama pull {self.model}`")

    def entails(self, passage: str, claim: str) -> bool:
        try:
            resp = self.client.chat(
                model=self.model,
                messages=[{"role": "user", "content": MINICHECK_PROMPT.format(document=passage, claim=claim)}],
                options={"temperature": 0, "num_predict": 4},
            )
        except Exception as e:
            raise RuntimeError(f"judge {self.name} failed: {type(e).__name__}: {e}") from None
        msg = getattr(resp, "message", None)
        if msg is None and isinstance(resp, dict):
            msg = resp.get("message", {})
        content = getattr(msg, "content", None)
        if content is None and isinstance(msg, dict):
            content = msg.get("content", "")
        word = (content or "").strip().strip(".!* ").lower()
        if word.startswith("yes"):
            return True
        if word.startswith("no"):
            return False
        raise RuntimeError(f"judge {self.name} gave no Yes/No verdict: {content!r:.60}")


def parse_judge_spec(spec: str | None) -> tuple[str, str] | None:
    """'ollama:MODEL' -> ('ollama', MODEL); None/'' /'self' -> None. Raises InputError otherwise."""
    if spec is None or spec.strip() in ("", "self"):
        return None
    kind, _, model = spec.strip().partition(":")
    if kind.lower() != "ollama" or not model.strip():
        raise InputError(f"--judge {spec!r}: use ollama:MODEL (e.g. --judge ollama:bespoke-minicheck) or 'self'")
    return "ollama", model.strip()


def make_judge(spec: str | None, settings: Any, checker: Any = None, check: bool = True) -> Any:
    """Build the judge for `spec`; with `check`, an unreachable Ollama raises BackendError right away."""
    parsed = parse_judge_spec(spec)
    if parsed is None:
        if checker is None:
            raise InputError("the self judge needs the engine's support checker")
        return SelfJudge(checker)
    _, model = parsed
    judge = OllamaJudge(
        model,
        host=getattr(settings, "ollama_host", "http://127.0.0.1:11434"),
        connect_timeout=getattr(settings, "ollama_connect_timeout", 2.0),
        read_timeout=getattr(settings, "ollama_read_timeout", 120.0),
    )
    if check:
        judge.check_available()
    return judge
