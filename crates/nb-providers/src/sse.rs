//! From a bounded byte stream to [`ChatChunk`]s: `eventsource-stream` splits events
//! (blank lines and `:` comments such as DeepSeek's `: keep-alive` never surface), a
//! per-format [`Decoder`] turns each event into chunks, and this driver keeps what was
//! delivered so a broken stream reports its partial output.

use std::collections::VecDeque;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use nb_core::{CallError, ChatChunk, ChatStream, StreamAccumulator};

use crate::http::ByteStream;

/// Whether the stream goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// More events are expected.
    More,
    /// The format's terminator arrived (`[DONE]`, `message_stop`).
    Done,
}

/// Turns one format's SSE events into chunks.
pub(crate) trait Decoder: Send + 'static {
    /// Decodes one event (`event` is `"message"` when the event had no name).
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError>;

    /// Whether a stream that ends here (no more bytes) is complete. Formats with an
    /// explicit terminator say `false`: ending without it is truncation.
    fn complete_at_eof(&self) -> bool {
        false
    }
}

struct State<D> {
    events: std::pin::Pin<
        Box<
            dyn futures_core::Stream<
                    Item = Result<eventsource_stream::Event, EventStreamError<CallError>>,
                > + Send,
        >,
    >,
    decoder: D,
    acc: StreamAccumulator,
    pending: VecDeque<ChatChunk>,
    scratch: Vec<ChatChunk>,
    done: bool,
}

/// Runs `decoder` over `bytes`.
pub(crate) fn decode<D: Decoder>(bytes: ByteStream, decoder: D) -> ChatStream {
    let state = State {
        events: Box::pin(bytes.eventsource()),
        decoder,
        acc: StreamAccumulator::default(),
        pending: VecDeque::new(),
        scratch: Vec::new(),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(chunk) = s.pending.pop_front() {
                s.acc.push(&chunk);
                return Some((Ok(chunk), s));
            }
            if s.done {
                return None;
            }
            let failure = match s.events.next().await {
                Some(Ok(ev)) => match s.decoder.event(&ev.event, &ev.data, &mut s.scratch) {
                    Ok(flow) => {
                        s.pending.extend(s.scratch.drain(..));
                        s.done = flow == Flow::Done;
                        continue;
                    }
                    Err(e) => {
                        s.scratch.clear();
                        e
                    }
                },
                Some(Err(EventStreamError::Transport(e))) => e,
                Some(Err(EventStreamError::Utf8(e))) => {
                    CallError::decode("the event stream is not valid UTF-8", e.as_bytes())
                }
                Some(Err(EventStreamError::Parser(e))) => {
                    CallError::decode("the event stream is malformed", e.to_string().as_bytes())
                }
                None if s.decoder.complete_at_eof() => {
                    s.done = true;
                    continue;
                }
                None => CallError::Truncated,
            };
            s.done = true;
            s.pending.clear();
            let partial = s.acc.partial();
            return Some((Err(CallError::mid_stream(failure, partial)), s));
        }
    }))
}

/// Parses one event's JSON, or says which event could not be read.
pub(crate) fn json<'a, T: serde::Deserialize<'a>>(data: &'a str) -> Result<T, CallError> {
    serde_json::from_str(data).map_err(|e| {
        CallError::decode(
            format!("stream event is not the expected JSON: {e}"),
            data.as_bytes(),
        )
    })
}
