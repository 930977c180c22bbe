//! An in-process target that answers the simulator's tasks on tokio's clock, for tests
//! of vouching and drift on paused time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use nb_chaos::Personality;
use nb_chaos::tasks::Task;
use nb_core::{
    ApiError, CallError, ChatRequest, ChatResponse, HeaderFacts, Provider, ProviderError,
    ResponseFormat, Role,
};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// Answers a task prompt ([`nb_chaos::tasks`]) as a simulated provider with `personality`
/// would, after `latency` of tokio time: the true answer, or — with probability `drift`
/// per request, drawn from its seed in the order requests arrive — a confident wrong
/// one ([`Task::drift`]); and with probability `failures` a 500 instead (drawn from
/// the same seed). Other prompts (probes) get a fixed sentence.
#[derive(Debug, Clone)]
pub struct TaskAnswers {
    personality: Personality,
    latency: Duration,
    drift: f64,
    failures: f64,
    rng: Arc<Mutex<ChaCha8Rng>>,
    requests: Arc<AtomicUsize>,
}

impl TaskAnswers {
    /// Right every time, at once.
    pub fn new(personality: Personality) -> Self {
        Self {
            personality,
            latency: Duration::ZERO,
            drift: 0.0,
            failures: 0.0,
            rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(0))),
            requests: Arc::default(),
        }
    }

    /// Wrong with probability `p` per request, drawn from `seed`.
    pub fn with_drift(mut self, p: f64, seed: u64) -> Self {
        self.drift = p;
        self.rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed)));
        self
    }

    /// Fails with an HTTP 500 with probability `p` per request, drawn from `seed`.
    pub fn with_failures(mut self, p: f64, seed: u64) -> Self {
        self.failures = p;
        self.rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed)));
        self
    }

    /// Answers after `latency`.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Provider for TaskAnswers {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let fail = self.failures > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random_bool(self.failures);
        if fail {
            tokio::time::sleep(self.latency).await;
            return Err(server_error());
        }
        let task = req
            .messages
            .iter()
            .rev()
            .filter(|m| m.role == Role::User)
            .find_map(|m| Task::parse(&m.text()));
        let text = match task {
            Some(t) => {
                let answer = {
                    let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
                    if self.drift > 0.0 && rng.random_bool(self.drift) {
                        t.drift(&mut *rng)
                    } else {
                        t.truth()
                    }
                };
                let json = !matches!(req.response_format, ResponseFormat::Text);
                t.phrase(&answer, self.personality, json)
            }
            None => "This is a simulated answer.".to_owned(),
        };
        tokio::time::sleep(self.latency).await;
        Ok(ChatResponse::text(text))
    }
}

/// An HTTP 500 as OpenAI sends it.
fn server_error() -> CallError {
    CallError::Api(Box::new(ApiError {
        status: Some(500),
        headers: HeaderFacts::default(),
        error: ProviderError {
            r#type: Some("server_error".into()),
            message: Some("The server had an error while processing your request.".into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}
