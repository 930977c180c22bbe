"""Shared by the examples: simulated providers (nb-chaos) standing in for the real ones."""

from neuralbridge.chaos import Chaos

#: OpenAI is down; Anthropic, DeepSeek (OpenAI's wire format) and Gemini answer;
#: `drifting` answers confidently and wrongly; `limited` is rate-limited.
SCENARIO = """
seed = 7

[[providers]]
name = "openai"
format = "openai"
models = [{ name = "gpt-4o" }]
faults = [{ kind = "outage", window = { from_s = 0.0 } }]

[[providers]]
name = "anthropic"
format = "anthropic"
models = [{ name = "claude-opus-4" }]

[[providers]]
name = "deepseek"
format = "openai"
models = [{ name = "deepseek-v3" }]

[[providers]]
name = "gemini"
format = "gemini"
models = [{ name = "gemini-2.5-flash" }]

[[providers]]
name = "drifting"
format = "anthropic"
models = [{ name = "claude-opus-4" }]
faults = [{ kind = "semantic_drift" }]

[[providers]]
name = "limited"
format = "openai"
models = [{ name = "gpt-4o" }]
faults = [{ kind = "rate_limit", retry_after_s = 20 }]
"""


def simulate() -> Chaos:
    """The simulated providers; use as `with simulate() as chaos:`."""
    return Chaos(SCENARIO)
