"""A router from an nb.toml file: the same file `nb serve` reads (docs/config.md)."""

import os
import tempfile

from _sim import simulate

from neuralbridge import SmartRouter

with simulate() as chaos, tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "nb.toml")
    with open(path, "w") as f:
        f.write(f"""
[providers.openai]
kind = "openai"
base_url = "{chaos.base_url('openai')}"
api_key_env = "NB_CHAOS_KEY"

[providers.anthropic]
kind = "anthropic"
base_url = "{chaos.base_url('anthropic')}"
api_key_env = "NB_CHAOS_KEY"

[[targets]]
provider = "openai"
model = "gpt-4o"

[[targets]]
provider = "anthropic"
model = "claude-opus-4"

[policy]
attempt_timeout_ms = 5000
""")
    router = SmartRouter.from_config(path)
    print(router)
    print(router.call("What is 3 + 4? Reply with the number only.").report)
