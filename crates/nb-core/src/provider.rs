//! The [`Provider`] trait: one target that answers a request, whole or streamed.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::Stream;

use crate::error::CallError;
use crate::request::ChatRequest;
use crate::response::{ChatChunk, ChatResponse};

/// A stream of decoded chunks. It ends after a [`ChatChunk::Finish`] (and possibly a
/// final [`ChatChunk::Usage`]); a stream that breaks yields one `Err` and then ends.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, CallError>> + Send>>;

/// One target that answers a [`ChatRequest`].
///
/// Only [`chat`](Provider::chat) is required. [`stream`](Provider::stream) defaults to
/// replaying the whole answer as chunks, so any simple provider (a test double, a local
/// model) streams for free; wire adapters override it with real streaming.
///
/// The trait is object-safe: routers hold `Arc<dyn Provider>`.
///
/// ```
/// use async_trait::async_trait;
/// use nb_core::{CallError, ChatRequest, ChatResponse, Provider};
///
/// struct Echo;
///
/// #[async_trait]
/// impl Provider for Echo {
///     async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
///         let last = req.messages.last().map(|m| m.text()).unwrap_or_default();
///         Ok(ChatResponse::text(last))
///     }
/// }
///
/// # tokio_test_block_on(async {
/// let answer = Echo.chat(&ChatRequest::user("ping")).await.unwrap();
/// assert_eq!(answer.text, "ping");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait Provider: Send + Sync {
    /// Answers the request in one piece.
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError>;

    /// Answers the request as a stream of chunks. Errors before the stream starts (a
    /// refused connection, a 429) are returned here; errors after it starts are yielded
    /// by the stream.
    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let resp = self.chat(req).await?;
        Ok(Box::pin(ReplayStream::new(resp)))
    }
}

#[async_trait]
impl<P: Provider + ?Sized> Provider for Arc<P> {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        (**self).chat(req).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        (**self).stream(req).await
    }
}

#[async_trait]
impl<P: Provider + ?Sized> Provider for Box<P> {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        (**self).chat(req).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        (**self).stream(req).await
    }
}

/// Something that turns texts into embedding vectors (OpenAI-compatible
/// `/v1/embeddings`, a local model, a test double).
///
/// ```
/// use async_trait::async_trait;
/// use nb_core::{CallError, Embedder};
///
/// struct Lengths;
/// #[async_trait]
/// impl Embedder for Lengths {
///     async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallError> {
///         Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
///     }
/// }
/// ```
#[async_trait]
pub trait Embedder: Send + Sync {
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallError>;
}

#[async_trait]
impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallError> {
        (**self).embed(texts).await
    }
}

/// Replays a whole response as the chunks a stream would have carried.
struct ReplayStream {
    chunks: std::vec::IntoIter<ChatChunk>,
}

impl ReplayStream {
    fn new(resp: ChatResponse) -> Self {
        let mut chunks = vec![ChatChunk::Started {
            model: resp.model,
            request_id: resp.request_id,
        }];
        if !resp.text.is_empty() {
            chunks.push(ChatChunk::Text { delta: resp.text });
        }
        if let Some(r) = resp.refusal {
            chunks.push(ChatChunk::Refusal { delta: r });
        }
        for (i, call) in resp.tool_calls.into_iter().enumerate() {
            chunks.push(ChatChunk::ToolCall(crate::response::ToolCallDelta {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                id: call.id,
                name: Some(call.name),
                arguments: call.arguments_raw,
            }));
        }
        chunks.push(ChatChunk::Finish {
            reason: resp.finish_reason,
        });
        if let Some(u) = resp.usage {
            chunks.push(ChatChunk::Usage(u));
        }
        Self {
            chunks: chunks.into_iter(),
        }
    }
}

impl Stream for ReplayStream {
    type Item = Result<ChatChunk, CallError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.chunks.next().map(Ok))
    }
}
