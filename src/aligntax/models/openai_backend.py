"""Generation through any OpenAI-compatible ``/chat/completions`` endpoint (vLLM serve, TGI,
llama.cpp server, OpenAI itself). Stdlib HTTP only; the API key is read from an environment
variable at request time and never stored in results, logs or ``repr``."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aligntax.errors import AligntaxError
from aligntax.models.backends import BACKENDS, GenerationBackend, as_messages


@BACKENDS.register("openai")
class OpenAIBackend(GenerationBackend):
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 3,
        concurrency: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        last_error = ""
        for attempt in range(self.max_retries):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
                if exc.code not in (429, 500, 502, 503, 504):
                    break
            except (urllib.error.URLError, TimeoutError) as exc:
                last_error = type(exc).__name__ + ": " + str(getattr(exc, "reason", exc))
            time.sleep(min(2**attempt, 8))
        raise AligntaxError(f"OpenAI-compatible endpoint {self.base_url} failed: {last_error}")

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, seed=0, progress=None):
        def one(prompt) -> str:
            payload = {
                "model": self.model,
                "messages": as_messages(prompt),
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "top_p": top_p,
                "seed": seed,
            }
            data = self._post(payload)
            if progress is not None:
                progress(1)
            return (data["choices"][0]["message"].get("content") or "").strip()

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, prompts))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "base_url": self.base_url, "model": self.model}
