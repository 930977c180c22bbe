//! An in-process target whose behaviour follows tokio's clock, for tests on paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TransportKind};
use tokio::time::Instant;

/// What a [`Timed`] target does with a request that arrives in one phase.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers `text` after `latency`.
    Answer {
        /// How long it takes.
        latency: Duration,
        /// The answer.
        text: String,
    },
    /// Refuses the connection at once (a network failure).
    Refuse,
    /// Never answers.
    Hang,
    /// Fails with this error at once.
    Fail(CallError),
    /// Answers after `latency` with each text in turn, one per request received (the
    /// first request gets the first), cycling.
    Cycle {
        /// How long it takes.
        latency: Duration,
        /// The answers, in turn.
        texts: Vec<String>,
    },
}

impl Behaviour {
    /// Answers `text` after `latency`.
    pub fn answer(latency: Duration, text: &str) -> Self {
        Self::Answer {
            latency,
            text: text.to_owned(),
        }
    }
}

/// One request a [`Timed`] target received.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// When, since the target was made.
    pub at: Duration,
    /// The request's last user text (the router's recovery probes say `ping`).
    pub prompt: String,
}

/// A target scripted in phases of tokio time since it was made: each phase lasts until
/// its end (the last one forever). Every request's arrival is logged.
#[derive(Debug, Clone)]
pub struct Timed {
    start: Instant,
    phases: Arc<Vec<(Duration, Behaviour)>>,
    log: Arc<Mutex<Vec<Arrival>>>,
}

impl Timed {
    /// A target that behaves as `phases` say: `(end, behaviour)` in order.
    pub fn new(phases: Vec<(Duration, Behaviour)>) -> Self {
        Self {
            start: Instant::now(),
            phases: Arc::new(phases),
            log: Arc::default(),
        }
    }

    /// The requests it received so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn behaviour(&self, at: Duration) -> Behaviour {
        self.phases
            .iter()
            .find(|(end, _)| at < *end)
            .or(self.phases.last())
            .map_or(Behaviour::Hang, |(_, b)| b.clone())
    }
}

#[async_trait]
impl Provider for Timed {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let at = self.start.elapsed();
        let prompt = req
            .messages
            .iter()
            .rev()
            .find_map(|m| (m.role == nb_core::Role::User).then(|| m.text()))
            .unwrap_or_default();
        let n = {
            let mut log = self
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            log.push(Arrival { at, prompt });
            log.len() - 1
        };
        match self.behaviour(at) {
            Behaviour::Cycle { latency, texts } => {
                tokio::time::sleep(latency).await;
                Ok(ChatResponse::text(
                    texts
                        .get(n % texts.len().max(1))
                        .cloned()
                        .unwrap_or_default(),
                ))
            }
            Behaviour::Answer { latency, text } => {
                tokio::time::sleep(latency).await;
                Ok(ChatResponse::text(text))
            }
            Behaviour::Refuse => Err(CallError::transport(
                TransportKind::ConnectRefused,
                "connection refused",
            )),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Fail(e) => Err(e),
        }
    }
}
