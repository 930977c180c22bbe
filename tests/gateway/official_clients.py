"""`nb serve` driven by the official OpenAI and Anthropic Python clients.

Run by `cargo xtask test` (which builds the binaries and installs the clients into a
local virtual environment): starts `nb-chaos serve` with a scenario and `nb serve` over it
as real processes, calls the gateway with `openai` and `anthropic` exactly as an existing
service would after changing its base URL, and stops both processes by their own PIDs.
Every check is an assertion; any failure exits non-zero.

Usage: official_clients.py NB_BINARY NB_CHAOS_BINARY WORKDIR
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

import anthropic
import openai

NB, NB_CHAOS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
KEY = "nb-gateway-test-key"
Q = "What is 17 + 25? Reply with the number only."

SCENARIO = """
description = "the gateway's official-client test"
seed = 7

[[providers]]
name = "down"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
faults = [{ kind = "outage", window = { from_s = 0.0 } }]

[[providers]]
name = "openai"
format = "openai"
models = [{ name = "gpt-4o-mini" }]

[[providers]]
name = "claude"
format = "anthropic"
models = [{ name = "claude-sonnet-4-5" }]

[[providers]]
name = "gemini"
format = "gemini"
models = [{ name = "gemini-2.5-flash" }]

[[providers]]
name = "drift"
format = "anthropic"
models = [{ name = "claude-sonnet-4-5" }]
faults = [{ kind = "semantic_drift" }]

[[providers]]
name = "storm"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
faults = [{ kind = "rate_limit", retry_after_s = 30 }]
"""


TWO_PROVIDERS = """
description = "two providers, the usual setup: a flaky first choice, a fallback sometimes wrong"
seed = 11

[[providers]]
name = "flaky"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
faults = [{ kind = "server_error", status = 500, probability = 0.3 }]

[[providers]]
name = "second"
format = "anthropic"
models = [{ name = "claude-sonnet-4-5" }]
faults = [{ kind = "semantic_drift", probability = 0.1 }]
"""


def start_chaos(scenario=SCENARIO, name="scenario.toml"):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(scenario)
    p = subprocess.Popen([NB_CHAOS, "serve", "--scenario", path],
                         stdout=subprocess.PIPE, text=True)
    bases = {}
    while True:
        line = p.stdout.readline()
        if not line:
            raise SystemExit("nb-chaos exited before it listed its providers")
        if line.startswith("stats:"):
            return p, bases
        m = re.match(r"(\S+)\s+\S+\s+(http://\S+)", line)
        if m:
            bases[m.group(1)] = m.group(2)


def config(bases):
    kinds = {"down": "openai", "openai": "openai", "claude": "anthropic",
             "gemini": "gemini", "drift": "anthropic", "storm": "openai"}
    models = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5",
              "gemini": "gemini-2.5-flash"}
    out = []
    for name, kind in kinds.items():
        base = bases[name] + ("/v1" if kind == "openai" else "")
        out.append(f'[providers.{name}]\nkind = "{kind}"\nbase_url = "{base}"\n'
                   f'api_key_env = "NB_UPSTREAM_KEY"\n')
    for name, kind in kinds.items():
        out.append(f'[[targets]]\nprovider = "{name}"\nmodel = "{models[kind]}"\n')
    out.append("""
[routes]
main = ["down/gpt-4o-mini", "openai/gpt-4o-mini", "claude/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
wrong = ["down/gpt-4o-mini", "drift/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
storm = ["storm/gpt-4o-mini"]

[policy]
attempt_timeout_ms = 2000
deadline_ms = 5000

[vouch]
equivalence = "strict"

[[gateway.keys]]
name = "official-clients"
env = "NB_GATEWAY_KEY"
""")
    path = os.path.join(WORK, "nb.toml")
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


def two_provider_config(bases):
    """Two providers and nothing else: no `[vouch]` section (the gateway's default)."""
    out = f"""
[providers.flaky]
kind = "openai"
base_url = "{bases['flaky']}/v1"
api_key_env = "NB_UPSTREAM_KEY"

[providers.second]
kind = "anthropic"
base_url = "{bases['second']}"
api_key_env = "NB_UPSTREAM_KEY"

[[targets]]
provider = "flaky"
model = "gpt-4o-mini"

[[targets]]
provider = "second"
model = "claude-sonnet-4-5"

[routes]
two = ["flaky/gpt-4o-mini", "second/claude-sonnet-4-5"]

[[gateway.keys]]
name = "official-clients"
env = "NB_GATEWAY_KEY"
"""
    path = os.path.join(WORK, "nb-two.toml")
    with open(path, "w") as f:
        f.write(out)
    return path


def two_providers(gw, n=300):
    """Issue #17's bar with the official openai client and the gateway's defaults: over
    a flaky first choice and a fallback that is sometimes wrong, >= 95% of requests are
    answered, no wrong answer comes back as vouched or first choice, and every answer
    nobody vouched for is flagged."""
    from concurrent.futures import ThreadPoolExecutor

    client = openai.OpenAI(base_url=gw + "/v1", api_key=KEY, max_retries=0)

    def ask(k):
        a, b = 100 + k, 7 * k + 3
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="two", messages=[{"role": "user", "content":
                                        f"What is {a} + {b}? Reply with the number only."}])
        except openai.APIStatusError as e:
            return ("refused", e.status_code, None, None, None, e.message)
        c = raw.parse()
        text = (c.choices[0].message.content or "").strip()
        right = re.search(r"-?\d+", text)
        right = right is not None and int(right.group()) == a + b
        return ("answered", 200, right, raw.headers.get("x-nb-verdict"),
                raw.headers.get("x-nb-served-by"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, range(n)))
    answered = [r for r in results if r[0] == "answered"]
    refused = [r for r in results if r[0] == "refused"]
    trusted = {"first-choice", "equivalent", "vouched-by-reference", "self-consistent"}
    flagged = {"unvouchable", "unchecked"}
    wrong_trusted = [r for r in answered if not r[2] and r[3] in trusted]
    silent = [r for r in answered if r[3] not in trusted | flagged]
    failover_trusted = [r for r in answered
                        if r[4] != "flaky/gpt-4o-mini" and r[3] == "first-choice"]
    by_verdict = {}
    for r in answered:
        by_verdict[r[3]] = by_verdict.get(r[3], 0) + 1
    wrong_flagged = sum(1 for r in answered if not r[2] and r[3] in flagged)
    print(f"two providers: {len(answered)}/{n} answered ({by_verdict}), "
          f"{len(refused)} refused {sorted({r[1] for r in refused})}, "
          f"{wrong_flagged} wrong answers served flagged")
    check("two providers: >= 95% answered", len(answered) >= 0.95 * n,
          f"{len(answered)}/{n}; refused: {refused[:5]}")
    check("two providers: no wrong answer returned as vouched or first choice",
          not wrong_trusted, wrong_trusted[:5])
    check("two providers: every answer says how it was checked", not silent, silent[:5])
    check("two providers: a failover answer never claims first choice",
          not failover_trusted, failover_trusted[:5])
    check("two providers: refusals are unvouched answers, not retryable errors",
          all(r[1] == 502 for r in refused), refused[:5])


def start_gateway(cfg):
    env = dict(os.environ, NB_UPSTREAM_KEY="sk-upstream", NB_GATEWAY_KEY=KEY)
    p = subprocess.Popen([NB, "serve", "--listen", "127.0.0.1:0", "--config", cfg],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    line = p.stderr.readline()
    m = re.search(r"listening on (http://\S+)", line)
    if not m:
        raise SystemExit(f"nb serve did not start: {line}{p.stderr.read()}")
    # Drain its logs so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, m.group(1)


def upstream_requests(bases, name):
    with urllib.request.urlopen(bases[name] + "/_chaos/stats") as r:
        return json.load(r)[name]["requests"]


def curl(url):
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", url],
                         capture_output=True, text=True, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok  {name}")


def run(gw, bases):
    oa = openai.OpenAI(base_url=gw + "/v1", api_key=KEY)
    an = anthropic.Anthropic(base_url=gw, api_key=KEY)

    # OpenAI, not streamed: the dead first choice is failed over, the answer vouched.
    raw = oa.chat.completions.with_raw_response.create(
        model="main", messages=[{"role": "user", "content": Q}])
    c = raw.parse()
    check("openai: failover answer", c.choices[0].message.content == "42", c)
    check("openai: served by a fallback",
          raw.headers.get("x-nb-served-by") == "openai/gpt-4o-mini", raw.headers)
    check("openai: vouched", raw.headers.get("x-nb-verdict") == "equivalent", raw.headers)
    check("openai: usage", c.usage is not None and c.usage.prompt_tokens > 0, c.usage)

    # OpenAI, streamed.
    text = ""
    for chunk in oa.chat.completions.create(
            model="openai/gpt-4o-mini", stream=True,
            messages=[{"role": "user", "content": Q}]):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    check("openai: streamed answer", text == "42", text)

    # OpenAI, a conversation with a tool call and its result, translated to Anthropic.
    c = oa.chat.completions.create(
        model="claude/claude-sonnet-4-5",
        tools=[{"type": "function", "function": {
            "name": "add", "description": "Adds two numbers",
            "parameters": {"type": "object", "properties": {
                "a": {"type": "number"}, "b": {"type": "number"}}}}}],
        messages=[
            {"role": "user", "content": "Add 17 and 25."},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "add", "arguments": "{\"a\": 17, \"b\": 25}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            {"role": "user", "content": Q},
        ])
    check("openai: tool call and result translated", c.choices[0].message.content == "42", c)

    # Anthropic, not streamed, over the same route.
    raw = an.messages.with_raw_response.create(
        model="main", max_tokens=64, messages=[{"role": "user", "content": Q}])
    m = raw.parse()
    check("anthropic: failover answer", m.content[0].text == "42", m)
    check("anthropic: report headers", int(raw.headers.get("x-nb-attempts", "0")) >= 2, raw.headers)

    # Anthropic, streamed.
    with an.messages.stream(model="claude/claude-sonnet-4-5", max_tokens=64,
                            messages=[{"role": "user", "content": Q}]) as s:
        final = s.get_final_message()
    check("anthropic: streamed answer", final.content[0].text.strip() == "42", final)
    check("anthropic: stop reason", final.stop_reason == "end_turn", final)

    # An answer nobody can vouch for surfaces as an error, never a 200; the clients
    # do not retry it (x-should-retry: false).
    before = upstream_requests(bases, "drift")
    try:
        openai.OpenAI(base_url=gw + "/v1", api_key=KEY).chat.completions.create(
            model="wrong", messages=[{"role": "user", "content": Q}])
        check("openai: unvouched is an error", False, "got a 200")
    except openai.APIStatusError as e:
        check("openai: unvouched is an error",
              e.status_code == 502 and e.body["type"] == "unvouched_answer", e.body)
    check("openai: unvouched not retried",
          upstream_requests(bases, "drift") - before <= 2, upstream_requests(bases, "drift") - before)
    try:
        an.messages.create(model="wrong", max_tokens=16, messages=[{"role": "user", "content": Q}])
        check("anthropic: unvouched is an error", False, "got a 200")
    except anthropic.APIStatusError as e:
        check("anthropic: unvouched is an error",
              e.status_code == 502 and e.body["error"]["type"] == "unvouched_answer", e.body)

    # A 429 storm: the client sees retry-after, and while told to wait the gateway sends
    # nothing upstream.
    quick = openai.OpenAI(base_url=gw + "/v1", api_key=KEY, max_retries=0)
    try:
        quick.chat.completions.create(model="storm", messages=[{"role": "user", "content": Q}])
        check("openai: storm is a 429", False, "got a 200")
    except openai.RateLimitError as e:
        wait = int(e.response.headers["retry-after"])
        check("openai: storm is a 429 with retry-after", 25 <= wait <= 30, wait)
    sent = upstream_requests(bases, "storm")
    for _ in range(5):
        try:
            quick.chat.completions.create(model="storm", messages=[{"role": "user", "content": Q}])
        except openai.RateLimitError:
            pass
        try:
            anthropic.Anthropic(base_url=gw, api_key=KEY, max_retries=0).messages.create(
                model="storm", max_tokens=8, messages=[{"role": "user", "content": Q}])
        except anthropic.RateLimitError as e:
            check("anthropic: storm is a 429 with retry-after",
                  int(e.response.headers["retry-after"]) >= 1, e.response.headers)
    check("nothing sent upstream while told to wait",
          upstream_requests(bases, "storm") == sent, upstream_requests(bases, "storm") - sent)

    # A key the gateway does not know: 401, as each client raises it.
    try:
        openai.OpenAI(base_url=gw + "/v1", api_key="wrong", max_retries=0).models.list()
        check("openai: unknown key refused", False, "got a 200")
    except openai.AuthenticationError:
        check("openai: unknown key refused", True)
    models = [m.id for m in oa.models.list()]
    check("openai: routes as models", "main" in models and "openai/gpt-4o-mini" in models, models)

    code, body = curl(gw + "/healthz")
    check("curl /healthz", code == 200 and body == "ok", (code, body))
    code, body = curl(gw + "/metrics")
    check("curl /metrics", code == 200 and "neuralbridge_calls" in body, body[:300])


def main():
    os.makedirs(WORK, exist_ok=True)
    procs = []
    try:
        chaos, bases = start_chaos()
        procs.append(chaos)
        gateway, gw = start_gateway(config(bases))
        procs.append(gateway)
        run(gw, bases)
        chaos2, bases2 = start_chaos(TWO_PROVIDERS, "two-providers.toml")
        procs.append(chaos2)
        gateway2, gw2 = start_gateway(two_provider_config(bases2))
        procs.append(gateway2)
        two_providers(gw2)
        print("official clients: every check passed")
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
