"""Simulated providers for tests and examples: ``nb-chaos serve`` as a child process.

``nb-chaos`` (a binary of this repository: ``cargo build -p nb-chaos``) impersonates the
OpenAI, Anthropic and Gemini wire formats on loopback, with scripted faults. It answers
the arithmetic, sentiment, extraction and yes/no prompts it recognises::

    from neuralbridge import SmartRouter
    from neuralbridge.chaos import Chaos

    with Chaos('''
    [[providers]]
    name = "openai"
    format = "openai"
    models = [{ name = "gpt-4o-mini" }]
    faults = [{ kind = "outage", window = { from_s = 0.0 } }]

    [[providers]]
    name = "anthropic"
    format = "anthropic"
    models = [{ name = "claude-sonnet-4-5" }]
    ''') as chaos:
        router = SmartRouter(providers=[chaos.provider("openai", "gpt-4o-mini"),
                                        chaos.provider("anthropic", "claude-sonnet-4-5")])
        print(router.call("What is 17 + 25? Reply with the number only.").text)

The binary is ``$NB_CHAOS_BIN``, else ``nb-chaos`` on ``PATH``, else the one built under
the repository's ``target/`` (or ``$CARGO_TARGET_DIR``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional

__all__ = ["Chaos", "find_binary", "KEY_ENV"]

#: The environment variable the simulated providers' key is read from (any value works:
#: the simulator checks keys only when its scenario sets ``api_key``).
KEY_ENV = "NB_CHAOS_KEY"


def find_binary() -> str:
    """The ``nb-chaos`` binary to run, or ``FileNotFoundError`` saying how to build it."""
    env = os.environ.get("NB_CHAOS_BIN")
    if env:
        return env
    on_path = shutil.which("nb-chaos")
    if on_path:
        return on_path
    roots = []
    if os.environ.get("CARGO_TARGET_DIR"):
        roots.append(Path(os.environ["CARGO_TARGET_DIR"]))
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *Path.cwd().parents, *here.parents]:
        roots.append(parent / "target")
    for root in roots:
        for profile in ("debug", "release"):
            candidate = root / profile / "nb-chaos"
            if candidate.is_file():
                return str(candidate)
    raise FileNotFoundError(
        "nb-chaos not found: build it with `cargo build -p nb-chaos`, or set NB_CHAOS_BIN"
    )


class Chaos:
    """``nb-chaos serve`` over a scenario (TOML text), started on enter, stopped on exit."""

    def __init__(self, scenario: str, binary: Optional[str] = None) -> None:
        self.scenario = scenario
        self.binary = binary or find_binary()
        self.bases: Dict[str, str] = {}
        self.formats: Dict[str, str] = {}
        self._proc: Optional[subprocess.Popen[str]] = None
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None

    def start(self) -> "Chaos":
        """Starts the simulator and reads each provider's base URL."""
        self._dir = tempfile.TemporaryDirectory(prefix="nb-chaos-")
        path = os.path.join(self._dir.name, "scenario.toml")
        with open(path, "w") as f:
            f.write(self.scenario)
        self._proc = subprocess.Popen(
            [self.binary, "serve", "--scenario", path],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        while True:
            line = self._proc.stdout.readline()
            if not line:
                self.close()
                raise RuntimeError("nb-chaos exited before it listed its providers")
            if line.startswith("stats:"):
                break
            m = re.match(r"(\S+)\s+(\S+)\s+(http://\S+)", line)
            if m:
                self.bases[m.group(1)] = m.group(3)
                self.formats[m.group(1)] = m.group(2).lower()
        os.environ.setdefault(KEY_ENV, "sk-chaos-not-a-real-key")
        return self

    def base_url(self, name: str) -> str:
        """The base URL a client of provider ``name`` uses (OpenAI's ends in ``/v1``)."""
        base = self.bases[name]
        return base + "/v1" if self.formats.get(name) == "openai" else base

    def provider(self, name: str, model: str, **extra: Any) -> Dict[str, Any]:
        """A ``SmartRouter`` provider dict for simulated provider ``name``."""
        kind = self.formats.get(name, "openai")
        entry: Dict[str, Any] = {
            "name": name,
            "kind": kind,
            "model": model,
            "base_url": self.base_url(name),
            "api_key_env": KEY_ENV,
        }
        entry.update(extra)
        return entry

    def stats(self, name: str) -> Any:
        """The simulator's counters for provider ``name`` (requests, faults injected)."""
        with urllib.request.urlopen(self.bases[name] + "/_chaos/stats", timeout=5) as r:
            return json.loads(r.read())

    def close(self) -> None:
        """Stops the simulator (by its own process id) and removes its files."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "Chaos":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
