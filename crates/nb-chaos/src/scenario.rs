//! Scenarios: which providers to impersonate and which faults to inject, from TOML.
//!
//! ```toml
//! seed = 7
//!
//! [[providers]]
//! name = "openai"            # stats and base URLs are keyed by it; each provider has its own port
//! format = "openai"          # openai | anthropic | gemini
//! api_key = "sk-chaos"       # optional: requests must carry it, else 401
//! personality = "terse"      # terse | chatty | markdown
//! latency = { base_ms = 5, jitter_ms = 5, tail_probability = 0.01, tail_ms = 500 }
//! tokens_per_second = 0      # stream pacing; 0 = as fast as possible
//! models = [{ name = "gpt-4o-mini", context_window = 128000 }]
//! tool_calls = "when-required" # always | when-required | never: see ToolCalls
//!
//! [[providers.tool_rules]]   # optional: a user message matching `pattern` calls a tool
//! pattern = "weather in (?P<city>\\w+)"  # named groups fill the arguments of that name
//! tool = "get_weather"       # optional (default: the tool `tool_choice` names, else the first)
//! arguments = { days = 3 }   # optional; a string "$city" / "$1" takes that group's text
//!
//! [[providers.faults]]
//! kind = "rate_limit"        # see FaultKind
//! probability = 0.2
//! retry_after_s = 2
//! window = { from_s = 0.0, to_s = 30.0 }     # optional, seconds since start
//! requests = { from = 0, to = 100 }          # optional, n-th request to this provider
//! models = ["gpt-4o-mini"]                   # optional
//! ```
//!
//! Unknown keys are errors, with the path to the bad key.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A provider wire format the simulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
    /// Gemini (`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`).
    Gemini,
    /// OpenAI Responses (`POST /v1/responses`).
    #[serde(rename = "openai_responses")]
    OpenAiResponses,
}

impl WireFormat {
    /// The path of the non-streaming chat endpoint (Gemini's holds the model name).
    pub fn chat_path(self) -> &'static str {
        match self {
            Self::OpenAi => "/v1/chat/completions",
            Self::Anthropic => "/v1/messages",
            Self::Gemini => "/v1beta/models/{model}:generateContent",
            Self::OpenAiResponses => "/v1/responses",
        }
    }
}

/// How a provider phrases its answers: the same truth in different forms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// Just the answer: `42`.
    #[default]
    Terse,
    /// A sentence around it: `The answer is 42.`
    Chatty,
    /// Markdown: `**Answer:** 42`, JSON in a fenced block.
    Markdown,
    /// Shows its working: an arithmetic answer written out as `6 * 7 = 42` (several
    /// numbers, which strict comparators cannot settle); other tasks as `Chatty`.
    Worked,
}

/// When a provider answers with a tool call instead of text. Only a request that offers
/// tools (OpenAI `tools`, Anthropic `tools`, Gemini `functionDeclarations`) ever gets
/// one, and never one whose `tool_choice` forbids tools (`none`) or whose last turn is a
/// tool result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolCalls {
    /// Whenever tools are offered.
    Always,
    /// When `tool_choice` requires a tool (OpenAI `"required"` or a named function,
    /// Anthropic `any` or `tool`, Gemini mode `ANY`), or the last user message matches one
    /// of the provider's [`ToolRule`]s (the default).
    #[default]
    WhenRequired,
    /// Never: always text, whatever `tool_choice` says (a model that ignores tools).
    Never,
}

/// A scripted tool call: when the last user message matches `pattern` (and tools are
/// offered), the provider calls `tool` — or the tool `tool_choice` names, or the first
/// tool offered — with `arguments`.
///
/// Arguments not given are derived from the tool's parameter schema, property by
/// property: a named capture group of `pattern` with the property's name, else the field
/// of the same name in a checkable task's JSON answer (see [`crate::tasks`]), else the
/// task's numeric answer for a number, else a placeholder of the property's type
/// (`"chaos"`, `0`, `false`, `[]`, `{}`). The same prompt therefore gets the same
/// arguments from every provider, unless a fault changes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// A regular expression searched for in the last user message.
    pub pattern: String,
    /// The tool to call (default: the one `tool_choice` names, else the first offered).
    #[serde(default)]
    pub tool: Option<String>,
    /// Arguments to send; a string value `"$name"` or `"$1"` is replaced by that capture
    /// group's text (as a number when it reads as one).
    #[serde(default)]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ToolRule {
    /// A rule calling the default tool with derived arguments when `pattern` matches.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            tool: None,
            arguments: None,
        }
    }

    /// Calls `tool`.
    pub fn calling(mut self, tool: impl Into<String>) -> Self {
        self.tool = Some(tool.into());
        self
    }

    /// Sends these arguments (a JSON object; anything else is ignored).
    pub fn with_arguments(mut self, arguments: serde_json::Value) -> Self {
        if let serde_json::Value::Object(m) = arguments {
            self.arguments = Some(m);
        }
        self
    }
}

/// A model a provider serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The model's name as requests give it.
    pub name: String,
    /// Its context window in tokens (a prompt estimated larger gets a context error).
    #[serde(default = "default_context")]
    pub context_window: u64,
}

fn default_context() -> u64 {
    128_000
}

/// Response latency: `base + U(0, jitter)`, plus `tail_ms` with `tail_probability`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Always added.
    #[serde(default)]
    pub base_ms: u64,
    /// Uniform extra in `0..=jitter_ms`.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Chance of a heavy-tail delay.
    #[serde(default)]
    pub tail_probability: f64,
    /// The heavy-tail delay.
    #[serde(default)]
    pub tail_ms: u64,
}

/// A time window in seconds since the server started (`to_s` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, seconds since start.
    #[serde(default)]
    pub from_s: f64,
    /// End, seconds since start (absent: forever).
    #[serde(default)]
    pub to_s: Option<f64>,
}

impl Window {
    /// Whether `t` seconds since start falls inside.
    pub fn contains(&self, t: f64) -> bool {
        t >= self.from_s && self.to_s.is_none_or(|end| t < end)
    }
}

/// A range of request numbers (0-based, per provider, `to` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRange {
    /// First request number affected.
    #[serde(default)]
    pub from: u64,
    /// First request number no longer affected (absent: forever).
    #[serde(default)]
    pub to: Option<u64>,
}

impl RequestRange {
    /// Whether request number `n` falls inside.
    pub fn contains(&self, n: u64) -> bool {
        n >= self.from && self.to.is_none_or(|end| n < end)
    }
}

/// What a fault does. Each speaks the provider's own wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Adds `delay_ms` before answering (combines with an outcome fault).
    LatencySpike,
    /// Streams at `tokens_per_second` (combines with an outcome fault).
    SlowStream,
    /// Sends `count` SSE keep-alive comments (or blank lines, non-streamed) every
    /// `delay_ms` before the first token (combines with an outcome fault).
    KeepAlive,
    /// Accepts the request and never answers.
    Hang,
    /// Closes the listening socket: connections are refused. Needs a `window`.
    Outage,
    /// Sends the head and part of the body, then drops the connection.
    ResetMidBody,
    /// 429 rate limit with `retry-after` (`retry_after_s`) and rate-limit headers.
    RateLimit,
    /// 429 quota or billing exhausted: OpenAI `insufficient_quota`, Anthropic spend limit
    /// (no `retry-after`), Gemini per-day quota.
    Quota,
    /// Anthropic 529 `overloaded_error`; 503 for OpenAI and Gemini.
    Overloaded,
    /// `status` (500, 502 or 504); with `html = true` a proxy's HTML page.
    ServerError,
    /// 401 invalid key.
    Unauthorized,
    /// 403 permission denied.
    Forbidden,
    /// 404 model not found.
    ModelNotFound,
    /// 400 context length exceeded (also automatic when a prompt exceeds the window).
    ContextLength,
    /// 400 invalid request.
    InvalidRequest,
    /// The answer is withheld by a safety system (finish reason / block reason).
    ContentFilter,
    /// The model refuses.
    Refusal,
    /// 200 with a body cut mid-JSON.
    MalformedJson,
    /// 200 with no choices / content blocks / candidates.
    EmptyChoices,
    /// 200 whose content is only white space.
    BlankContent,
    /// A stream that stops before its terminator.
    TruncatedStream,
    /// An error event inside a 200 stream after `after_chunks` content chunks.
    MidStreamError,
    /// A valid response whose JSON breaks the requested shape.
    SchemaViolation,
    /// A well-formed, confident, wrong answer (a tool call's arguments drift too, as with
    /// `wrong_tool_arguments`).
    SemanticDrift,
    /// Answers in text where it would have called a tool, even when `tool_choice`
    /// requires one.
    TextInsteadOfTool,
    /// Calls the right tool with a wrong argument: the first argument changes (a number
    /// by one, a string to another value, a boolean flipped). No effect on text answers.
    WrongToolArguments,
    /// As a judge or an entailment model, gives the wrong verdict (`SAME` ↔ `DIFFERENT`,
    /// `YES` ↔ `NO`; `UNSURE` stays). With `probability` p this is a judge with error
    /// rate p, drawn from the seed per request. No effect on other prompts.
    WrongVerdict,
}

impl FaultKind {
    /// Modifiers change how an answer arrives and combine with one outcome fault.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Self::LatencySpike | Self::SlowStream | Self::KeepAlive
        )
    }

    /// The snake_case name, as in scenarios and stats.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One fault: what, how often, when, for which models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// What it does.
    pub kind: FaultKind,
    /// Chance per request in `0.0..=1.0` (default 1: every request in its window).
    #[serde(default = "one")]
    pub probability: f64,
    /// Only in this time window.
    #[serde(default)]
    pub window: Option<Window>,
    /// Only for these request numbers.
    #[serde(default)]
    pub requests: Option<RequestRange>,
    /// Only for these models (default: all).
    #[serde(default)]
    pub models: Vec<String>,
    /// `retry-after` seconds for `rate_limit` (absent: no header).
    #[serde(default)]
    pub retry_after_s: Option<f64>,
    /// HTTP status for `server_error` (default 500).
    #[serde(default)]
    pub status: Option<u16>,
    /// `server_error` with an HTML body.
    #[serde(default)]
    pub html: bool,
    /// Delay for `latency_spike`, interval for `keep_alive` (default 50).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Number of keep-alives for `keep_alive` (default 3).
    #[serde(default)]
    pub count: Option<u32>,
    /// Content chunks before a `mid_stream_error` or `truncated_stream` (default 0 / 1).
    #[serde(default)]
    pub after_chunks: Option<u32>,
    /// Stream pacing for `slow_stream`.
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl Fault {
    /// A fault of `kind` on every request.
    pub fn always(kind: FaultKind) -> Self {
        Self {
            kind,
            probability: 1.0,
            window: None,
            requests: None,
            models: Vec::new(),
            retry_after_s: None,
            status: None,
            html: false,
            delay_ms: None,
            count: None,
            after_chunks: None,
            tokens_per_second: None,
        }
    }

    /// The same fault with this probability.
    pub fn with_probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    /// The same fault, only inside this time window.
    pub fn in_window(mut self, from_s: f64, to_s: Option<f64>) -> Self {
        self.window = Some(Window { from_s, to_s });
        self
    }

    /// The same fault, only for request numbers `from..to`.
    pub fn for_requests(mut self, from: u64, to: Option<u64>) -> Self {
        self.requests = Some(RequestRange { from, to });
        self
    }

    /// Sets `retry_after_s`.
    pub fn with_retry_after(mut self, s: f64) -> Self {
        self.retry_after_s = Some(s);
        self
    }

    /// Sets `status`.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets `html`.
    pub fn with_html(mut self) -> Self {
        self.html = true;
        self
    }

    /// Sets `after_chunks`.
    pub fn after_chunks(mut self, n: u32) -> Self {
        self.after_chunks = Some(n);
        self
    }

    /// Sets `delay_ms`.
    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = Some(ms);
        self
    }

    /// Sets `count`.
    pub fn with_count(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }
}

/// One simulated provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// Its name (stats and base URLs are keyed by it).
    pub name: String,
    /// Its wire format.
    pub format: WireFormat,
    /// The key requests must carry (absent: any key, or none, is accepted).
    #[serde(default)]
    pub api_key: Option<String>,
    /// How it phrases answers.
    #[serde(default)]
    pub personality: Personality,
    /// Its latency model.
    #[serde(default)]
    pub latency: Latency,
    /// Stream pacing (0: as fast as possible).
    #[serde(default)]
    pub tokens_per_second: f64,
    /// The models it serves; any other model gets a 404.
    pub models: Vec<ModelSpec>,
    /// Its faults, checked in order: modifiers all apply, the first outcome fault wins.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// A fixed port (default: any free port).
    #[serde(default)]
    pub port: Option<u16>,
    /// When it answers with a tool call (default `when-required`).
    #[serde(default)]
    pub tool_calls: ToolCalls,
    /// Scripted tool calls, checked in order; the first match wins.
    #[serde(default)]
    pub tool_rules: Vec<ToolRule>,
}

impl ProviderSpec {
    /// A healthy, instant provider serving one model.
    pub fn new(name: impl Into<String>, format: WireFormat, model: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            format,
            api_key: None,
            personality: Personality::Terse,
            latency: Latency::default(),
            tokens_per_second: 0.0,
            models: vec![ModelSpec {
                name: model.into(),
                context_window: default_context(),
            }],
            faults: Vec::new(),
            port: None,
            tool_calls: ToolCalls::default(),
            tool_rules: Vec::new(),
        }
    }

    /// Adds a fault.
    pub fn with_fault(mut self, f: Fault) -> Self {
        self.faults.push(f);
        self
    }

    /// Requires this key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the personality.
    pub fn with_personality(mut self, p: Personality) -> Self {
        self.personality = p;
        self
    }

    /// Sets the latency model.
    pub fn with_latency(mut self, l: Latency) -> Self {
        self.latency = l;
        self
    }

    /// Sets when it answers with a tool call.
    pub fn with_tool_calls(mut self, t: ToolCalls) -> Self {
        self.tool_calls = t;
        self
    }

    /// Adds a scripted tool call.
    pub fn with_tool_rule(mut self, r: ToolRule) -> Self {
        self.tool_rules.push(r);
        self
    }

    /// Adds a model.
    pub fn with_model(mut self, name: impl Into<String>, context_window: u64) -> Self {
        self.models.push(ModelSpec {
            name: name.into(),
            context_window,
        });
        self
    }
}

/// A named stretch of scenario time, for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Its caption.
    pub name: String,
    /// Start, seconds since start.
    pub from_s: f64,
    /// End, seconds since start.
    pub to_s: f64,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds every random choice: the same scenario and seed replay the same faults.
    #[serde(default)]
    pub seed: u64,
    /// A one-line description.
    #[serde(default)]
    pub description: Option<String>,
    /// The providers.
    pub providers: Vec<ProviderSpec>,
    /// Named phases, for captions.
    #[serde(default)]
    pub phases: Vec<Phase>,
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped keys.
    #[error("invalid scenario: {0}")]
    Parse(String),
    /// The scenario parses but makes no sense.
    #[error("invalid scenario: {0}")]
    Invalid(String),
}

impl Scenario {
    /// A scenario of these providers with seed 0.
    pub fn new(providers: Vec<ProviderSpec>) -> Self {
        Self {
            seed: 0,
            description: None,
            providers,
            phases: Vec::new(),
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The demo's story (`scenarios/demo-story.toml`, embedded): healthy, a rate-limit
    /// storm, a primary outage, a revoked key while a fallback drifts, recovery — 60 s.
    pub fn demo_story() -> Self {
        // The file ships with the crate and is checked by the test suite.
        Self::from_toml(include_str!("../scenarios/demo-story.toml"))
            .unwrap_or_else(|_| Self::new(Vec::new()))
    }

    /// The same scenario with every time window and phase scaled by `factor` (0.2: a
    /// 60 s story in 12 s).
    pub fn scaled(mut self, factor: f64) -> Self {
        let f = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        for p in &mut self.providers {
            for fault in &mut p.faults {
                if let Some(w) = &mut fault.window {
                    w.from_s *= f;
                    w.to_s = w.to_s.map(|t| t * f);
                }
            }
        }
        for ph in &mut self.phases {
            ph.from_s *= f;
            ph.to_s *= f;
        }
        self
    }

    /// The phase at `t` seconds since start.
    pub fn phase_at(&self, t: f64) -> Option<&Phase> {
        self.phases.iter().find(|p| t >= p.from_s && t < p.to_s)
    }

    /// Parses TOML text; unknown keys are errors that name the key and where it is.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p).map_err(|source| ScenarioError::Io {
            path: p.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Checks what serde cannot: names, probabilities, windows.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::Invalid(m));
        if self.providers.is_empty() {
            return bad("a scenario needs at least one provider".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            if p.name.is_empty() || !names.insert(p.name.as_str()) {
                return bad(format!(
                    "providers[{i}]: name {:?} is empty or repeated",
                    p.name
                ));
            }
            if p.models.is_empty() {
                return bad(format!("providers[{i}] ({}): no models", p.name));
            }
            if !p.tokens_per_second.is_finite()
                || p.tokens_per_second < 0.0
                || !(0.0..=1.0).contains(&p.latency.tail_probability)
            {
                return bad(format!(
                    "providers[{i}] ({}): negative pacing or a tail probability outside 0..1",
                    p.name
                ));
            }
            for (j, r) in p.tool_rules.iter().enumerate() {
                if let Err(e) = regex::Regex::new(&r.pattern) {
                    return bad(format!(
                        "providers[{i}].tool_rules[{j}] ({}): pattern: {e}",
                        p.name
                    ));
                }
            }
            for (j, f) in p.faults.iter().enumerate() {
                let at = format!("providers[{i}].faults[{j}] ({})", f.kind.name());
                if !(0.0..=1.0).contains(&f.probability) {
                    return bad(format!(
                        "{at}: probability {} is outside 0..1",
                        f.probability
                    ));
                }
                if f.kind == FaultKind::Outage && f.window.is_none() {
                    return bad(format!(
                        "{at}: an outage needs a window (connections are refused per listener, not per request)"
                    ));
                }
                if let Some(w) = f.window {
                    if w.to_s.is_some_and(|t| t < w.from_s) {
                        return bad(format!("{at}: window ends before it starts"));
                    }
                }
                if let Some(st) = f.status {
                    if !(400..600).contains(&st) {
                        return bad(format!("{at}: status {st} is not an error status"));
                    }
                }
            }
        }
        Ok(())
    }
}
