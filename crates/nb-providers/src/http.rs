//! The HTTP exchange every adapter shares: send, time-box the head, read bounded bodies,
//! turn failures into [`CallError`] facts.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use nb_core::{
    ApiError, CallError, ChatResponse, ChatStream, DecodeError, HeaderFacts, TimeoutPhase,
    TransportKind,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use url::Url;

use crate::config::{ConfigError, ConfigErrorKind, Limits, Timeouts};
use crate::error_body::parse_error_body;
use crate::sse::{ByteStream, Decoder};

/// One request, ready to send.
pub(crate) struct Outgoing {
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Outgoing {
    /// A request carrying `body` as JSON.
    pub(crate) fn json(
        url: &Url,
        headers: &HeaderMap,
        body: &impl serde::Serialize,
    ) -> Result<Self, CallError> {
        Ok(Self {
            url: url.clone(),
            headers: headers.clone(),
            body: serde_json::to_vec(body).map_err(|e| CallError::Unsupported {
                what: format!("the request does not serialize: {e}"),
            })?,
        })
    }
}

/// A successful response head with its facts.
pub(crate) struct Incoming {
    pub(crate) response: reqwest::Response,
    pub(crate) headers: HeaderFacts,
    pub(crate) status: u16,
}

#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    pub(crate) limits: Limits,
    timeouts: Timeouts,
}

impl Http {
    pub(crate) fn new(
        client: Option<reqwest::Client>,
        timeouts: Timeouts,
        limits: Limits,
    ) -> Result<Self, ConfigError> {
        let client = match client {
            Some(c) => c,
            None => client_builder(timeouts, &|name| std::env::var(name).ok())
                .build()
                .map_err(|e| {
                    ConfigError::new(
                        ConfigErrorKind::Client,
                        format!("could not build the HTTP client: {e}"),
                    )
                })?,
        };
        Ok(Self {
            client,
            limits,
            timeouts,
        })
    }

    /// The HTTP client (for requests other than the API's own, such as OAuth tokens).
    #[cfg(feature = "vertex")]
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Starts the exchange for `out`: the request is built now (nothing is awaited), so
    /// an exchange's future holds the pending response, not the request it was built
    /// from. Returns the request's secrets, to redact from what comes back.
    fn start(
        &self,
        out: Outgoing,
    ) -> (
        Secrets,
        impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
    ) {
        let secrets = Secrets::of(&out.headers);
        // The request is put together by hand rather than by a `RequestBuilder`, which
        // would insert each header into a map of its own: the headers move in whole.
        let mut request = reqwest::Request::new(reqwest::Method::POST, out.url);
        let mut headers = out.headers;
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *request.headers_mut() = headers;
        *request.body_mut() = Some(out.body.into());
        (secrets, self.client.execute(request))
    }

    /// Sends the request and returns the head of a 2xx response; any other status becomes
    /// [`CallError::Api`] with the error body read (bounded) and parsed — with any key the
    /// request carried redacted from it, in case the server echoed the request.
    /// The head is waited for until `response_head` after `started`.
    pub(crate) fn send(
        &self,
        out: Outgoing,
        started: Instant,
    ) -> impl Future<Output = Result<Incoming, CallError>> + Send + '_ {
        let (secrets, pending) = self.start(out);
        let by = after(started, self.timeouts.response_head);
        async move { self.head(pending, &secrets, by).await }
    }

    /// Waits until `by` for the head of the response `pending` will give (see
    /// [`Http::send`]).
    async fn head(
        &self,
        pending: impl Future<Output = reqwest::Result<reqwest::Response>>,
        secrets: &Secrets,
        by: Instant,
    ) -> Result<Incoming, CallError> {
        let response = match tokio::time::timeout_at(by, pending).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(transport_error(&e)),
            Err(_) => return Err(CallError::timeout(TimeoutPhase::FirstByte)),
        };
        if response.status().is_success() {
            return Ok(Incoming {
                status: response.status().as_u16(),
                headers: header_facts(response.headers()),
                response,
            });
        }
        // Boxed: only a failed exchange holds the read of an error body.
        Err(Box::pin(self.failure(response, secrets)).await)
    }

    /// The error a non-2xx response stands for, its body read within the limit.
    async fn failure(&self, mut response: reqwest::Response, secrets: &Secrets) -> CallError {
        let status = response.status().as_u16();
        let headers = header_facts(response.headers());
        // AWS services (Bedrock) name the error in a header, not the body:
        // `x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/...`.
        let aws_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(':').next())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let body = match read_limited(
            &mut response,
            self.limits.max_body_bytes,
            self.timeouts.body_idle,
        )
        .await
        {
            Ok(b) => b,
            Err(e) => return e,
        };
        let mut e = api_error(Some(status), headers, &redact(body, secrets));
        if let (Some(t), CallError::Api(a)) = (aws_type, &mut e) {
            a.error.r#type.get_or_insert(t);
        }
        e
    }

    /// A whole answer: send, read the body within the limit, parse it. A decode failure
    /// keeps the status and headers; `reject` may refuse a parsed answer (as a decode
    /// failure) for a provider quirk such as DeepSeek's blank content.
    ///
    /// Not an `async fn`: the request is built before the returned future exists, and
    /// that future is one flat state machine — an `async fn` keeps its by-value
    /// arguments for its whole life, and every adapter call future is boxed at the size
    /// of its largest state, so each nested copy was memory held per call in flight.
    pub(crate) fn whole<'a>(
        &'a self,
        out: Outgoing,
        parse: fn(&[u8]) -> Result<ChatResponse, CallError>,
        reject: impl FnOnce(&ChatResponse) -> Option<&'static str> + Send + 'a,
    ) -> impl Future<Output = Result<ChatResponse, CallError>> + Send + 'a {
        // Both deadlines from one reading of the clock.
        let started = Instant::now();
        let head_by = after(started, self.timeouts.response_head);
        let (secrets, pending) = self.start(out);
        let exchange = async move {
            let Incoming {
                mut response,
                headers,
                status,
            } = self.head(pending, &secrets, head_by).await?;
            let body = read_limited(
                &mut response,
                self.limits.max_body_bytes,
                self.timeouts.body_idle,
            )
            .await?;
            drop(response);
            let body = redact(body, &secrets);
            let mut resp = parse(&body).map_err(|e| match e {
                CallError::Decode(d) => decode_error(&d.what, &body, status, headers.clone()),
                other => other,
            })?;
            if let Some(what) = reject(&resp) {
                return Err(decode_error(what, &body, status, headers));
            }
            if resp.request_id.is_none() {
                resp.request_id.clone_from(&headers.request_id);
            }
            resp.headers = Some(headers);
            Ok(resp)
        };
        within(after(started, self.timeouts.total), exchange)
    }

    /// A whole 2xx body, unparsed (for endpoints other than chat).
    pub(crate) fn raw(
        &self,
        out: Outgoing,
    ) -> impl Future<Output = Result<Bytes, CallError>> + Send + '_ {
        let started = Instant::now();
        let head_by = after(started, self.timeouts.response_head);
        let (secrets, pending) = self.start(out);
        let exchange = async move {
            let mut inc = self.head(pending, &secrets, head_by).await?;
            read_limited(
                &mut inc.response,
                self.limits.max_body_bytes,
                self.timeouts.body_idle,
            )
            .await
        };
        within(after(started, self.timeouts.total), exchange)
    }

    /// A streamed answer, decoded by the decoder `make` builds from the request id.
    pub(crate) fn streamed<'a, D: Decoder>(
        &'a self,
        out: Outgoing,
        make: impl FnOnce(Option<String>) -> D + Send + 'a,
    ) -> impl Future<Output = Result<ChatStream, CallError>> + Send + 'a {
        let started = Instant::now();
        let head = within(after(started, self.timeouts.total), self.send(out, started));
        async move {
            let inc = head.await?;
            let decoder = make(inc.headers.request_id.clone());
            Ok(crate::sse::decode(self.byte_stream(inc, started), decoder))
        }
    }

    /// A streamed answer in another framing than SSE (`framer`), decoded by the decoder
    /// `make` builds from the request id.
    #[cfg(feature = "bedrock")]
    pub(crate) fn streamed_framed<'a, D: Decoder, F: crate::sse::Framer + Send + 'a>(
        &'a self,
        out: Outgoing,
        framer: F,
        make: impl FnOnce(Option<String>) -> D + Send + 'a,
    ) -> impl Future<Output = Result<ChatStream, CallError>> + Send + 'a {
        let started = Instant::now();
        let head = within(after(started, self.timeouts.total), self.send(out, started));
        async move {
            let inc = head.await?;
            let decoder = make(inc.headers.request_id.clone());
            Ok(crate::sse::decode_framed(
                self.byte_stream(inc, started),
                framer,
                decoder,
            ))
        }
    }

    /// The body as a byte stream bounded by the SSE line and stream limits, by the idle
    /// gap between pieces and by the exchange's total time (counted from `started`).
    pub(crate) fn byte_stream(&self, inc: Incoming, started: tokio::time::Instant) -> ByteStream {
        let idle = self.timeouts.body_idle;
        let end = started + self.timeouts.total;
        let raw = futures_util::stream::unfold(Some(inc.response), move |r| async move {
            let mut response = r?;
            let wait = idle.min(end.saturating_duration_since(tokio::time::Instant::now()));
            let next = match tokio::time::timeout(wait, response.chunk()).await {
                Ok(Ok(Some(b))) => Ok(b),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => Err(transport_error(&e)),
                Err(_) if tokio::time::Instant::now() >= end => {
                    Err(CallError::timeout(TimeoutPhase::Total))
                }
                Err(_) => Err(CallError::timeout(TimeoutPhase::Idle)),
            };
            // After an error the stream ends.
            let keep = next.is_ok().then_some(response);
            Some((next, keep))
        });
        Box::pin(Bounded::new(Box::pin(raw), self.limits))
    }
}

/// Reads a JSON body into `T`, its UTF-8 checked once over the whole body rather than
/// string by string (serde_json checks each string of a byte slice as it reads it). A
/// body that is not UTF-8 is read as bytes, so its error says where it breaks.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// Builds the error for a non-success response body.
pub(crate) fn api_error(status: Option<u16>, headers: HeaderFacts, body: &[u8]) -> CallError {
    match parse_error_body(body) {
        Some(error) => CallError::Api(Box::new(ApiError {
            status,
            headers,
            error,
            body_snippet: None,
        })),
        None => CallError::Api(Box::new(ApiError {
            status,
            headers,
            error: nb_core::ProviderError::default(),
            body_snippet: Some(nb_core::snippet(body)),
        })),
    }
}

/// A decode failure that keeps the response's status and headers.
pub(crate) fn decode_error(
    what: &str,
    body: &[u8],
    status: u16,
    headers: HeaderFacts,
) -> CallError {
    CallError::Decode(Box::new(DecodeError {
        what: what.to_owned(),
        snippet: nb_core::snippet(body),
        status: Some(status),
        headers,
    }))
}

/// The request's sensitive header values (its keys), kept to redact them from anything
/// the server sends back. (Header values share their bytes: keeping them copies none.)
pub(crate) struct Secrets(Vec<HeaderValue>);

impl Secrets {
    /// The sensitive values among `headers`.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        Self(
            headers
                .values()
                .filter(|v| v.is_sensitive())
                .cloned()
                .collect(),
        )
    }

    /// What to look for: each key as a `(prefix, token)` pair. For `Bearer sk-...` the
    /// token is `sk-...` — echoed alone or after its prefix `Bearer `, which is then
    /// redacted with it, so one search finds both; a key without a space is all token.
    /// A token shorter than 8 bytes is looked for with its prefix (as one token); keys
    /// shorter than 8 bytes are not looked for.
    fn needles(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().filter_map(|v| {
            let v = v.as_bytes();
            let split = v.iter().rposition(|&b| b == b' ').map_or(0, |i| i + 1);
            let (prefix, token) = v.split_at(split);
            if token.len() >= 8 {
                Some((prefix, token))
            } else if v.len() >= 8 {
                Some((&[][..], v))
            } else {
                None
            }
        })
    }
}

/// `body` with every secret replaced by `[redacted]`. Every answer passes here, and
/// almost none holds a secret: each key is searched for once (`memchr`'s SIMD substring
/// search), the body returned as it is when none occurs, and copied over only where one
/// does.
pub(crate) fn redact(body: Bytes, secrets: &Secrets) -> Bytes {
    let mut out: Option<Vec<u8>> = None;
    for (prefix, token) in secrets.needles() {
        let hay: &[u8] = out.as_deref().unwrap_or(&body);
        let Some(first) = find(hay, token) else {
            continue;
        };
        let mut replaced = Vec::with_capacity(hay.len());
        // `hay[done..]` is still to copy; a prefix is redacted only if it lies there.
        let mut done = 0;
        let mut at = first;
        loop {
            let start = if at - done >= prefix.len() && hay[..at].ends_with(prefix) {
                at - prefix.len()
            } else {
                at
            };
            replaced.extend_from_slice(&hay[done..start]);
            replaced.extend_from_slice(b"[redacted]");
            done = at + token.len();
            match find(&hay[done..], token) {
                Some(next) => at = done + next,
                None => break,
            }
        }
        replaced.extend_from_slice(&hay[done..]);
        out = Some(replaced);
    }
    out.map_or(body, Bytes::from)
}

/// `exchange` bounded by `by`: past it, a [`TimeoutPhase::Total`] timeout.
fn within<T>(
    by: Instant,
    exchange: impl Future<Output = Result<T, CallError>>,
) -> impl Future<Output = Result<T, CallError>> {
    use futures_util::FutureExt as _;
    tokio::time::timeout_at(by, exchange)
        .map(|r| r.unwrap_or_else(|_| Err(CallError::timeout(TimeoutPhase::Total))))
}

/// `d` after `from` on tokio's clock; a span past what the clock can hold is 30 years
/// (as tokio's own `timeout` takes it).
fn after(from: Instant, d: std::time::Duration) -> Instant {
    from.checked_add(d)
        .unwrap_or_else(|| from + std::time::Duration::from_secs(30 * 365 * 86_400))
}

/// Where `needle` first occurs in `hay` (never, for an empty needle).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// The client the adapters build when the caller gives none. Keys go only to their
/// origin:
/// - redirects are followed only within the origin of the request (scheme, host and
///   port); a redirect elsewhere is not followed and comes back as the error it is, so
///   `x-api-key`, `x-goog-api-key` or `api-key` never reach another host;
/// - a proxy from the environment (`HTTPS_PROXY`, `ALL_PROXY`) is used for HTTPS only,
///   where it sees a tunnel and never a key; plain-HTTP requests never go through a
///   proxy (`HTTP_PROXY` is not honoured), and loopback targets bypass proxies always.
pub(crate) fn client_builder(
    timeouts: Timeouts,
    env: &dyn Fn(&str) -> Option<String>,
) -> reqwest::ClientBuilder {
    // With `rustls-ring`, reqwest's rustls has no crypto provider of its own: install
    // ring's as the process default unless something already chose one.
    #[cfg(feature = "rustls-ring")]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let same_origin = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        match first {
            Some(f) if attempt.previous().len() <= 5 && f.origin() == attempt.url().origin() => {
                attempt.follow()
            }
            _ => attempt.stop(),
        }
    });
    let mut b = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .redirect(same_origin)
        .no_proxy();
    let var = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
    if let Some(url) = var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) {
        if let Ok(p) = reqwest::Proxy::https(url.as_str()) {
            let mut skip = String::from("localhost,127.0.0.0/8,::1");
            if let Some(more) = var(&["NO_PROXY", "no_proxy"]) {
                skip.push(',');
                skip.push_str(&more);
            }
            b = b.proxy(p.no_proxy(reqwest::NoProxy::from_string(&skip)));
        }
    }
    b
}

/// Reads a whole body within `limit` bytes, waiting at most `idle` for each piece. A body
/// that came in one piece (most answers) is returned as that piece, not copied.
pub(crate) async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
    idle: std::time::Duration,
) -> Result<Bytes, CallError> {
    let too_large = || CallError::BodyTooLarge {
        limit,
        what: "response body".into(),
    };
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut first: Option<Bytes> = None;
    let mut buf = Vec::new();
    loop {
        // A piece already here (a small body comes with its head; the end of a body is
        // known at once) is taken without starting a timer: no clock read, no entry
        // in the timer wheel. (A pending `chunk` dropped loses nothing.)
        use futures_util::FutureExt as _;
        let ready = response.chunk().now_or_never();
        let chunk = match ready {
            Some(r) => r.map_err(|e| transport_error(&e))?,
            None => match tokio::time::timeout(idle, response.chunk()).await {
                Ok(r) => r.map_err(|e| transport_error(&e))?,
                Err(_) => return Err(CallError::timeout(TimeoutPhase::Idle)),
            },
        };
        let Some(chunk) = chunk else { break };
        let held = first.as_ref().map_or(0, Bytes::len) + buf.len();
        if held + chunk.len() > limit {
            return Err(too_large());
        }
        match first.take() {
            None if buf.is_empty() => first = Some(chunk),
            earlier => {
                if let Some(earlier) = earlier {
                    buf.extend_from_slice(&earlier);
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

/// Copies the headers that matter.
pub(crate) fn header_facts(map: &HeaderMap) -> HeaderFacts {
    let mut facts = HeaderFacts::default();
    for (name, value) in map {
        if let Ok(v) = value.to_str() {
            facts.record(name.as_str(), v);
        }
    }
    facts
}

/// A header value that is never printed (reqwest redacts sensitive values in `Debug`).
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, CallError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| CallError::Unsupported {
        what: "the API key holds characters not allowed in an HTTP header".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Adds a plain header.
pub(crate) fn plain_header(map: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        map.insert(HeaderName::from_static(name), v);
    }
}

/// Turns a reqwest failure into transport facts by walking its cause chain.
pub(crate) fn transport_error(e: &reqwest::Error) -> CallError {
    let mut chain = Vec::new();
    let mut io_kind = None;
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        chain.push(s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        src = s.source();
    }
    // reqwest's own Display may carry the URL; the chain below it does not.
    let detail = chain.iter().skip(1).cloned().collect::<Vec<_>>().join(": ");
    let detail = if detail.is_empty() {
        "transport error".to_owned()
    } else {
        detail
    };
    let lower = detail.to_ascii_lowercase();
    use std::io::ErrorKind as K;
    let kind = if e.is_timeout() || io_kind == Some(K::TimedOut) {
        TransportKind::Timeout(if e.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::FirstByte
        })
    } else if io_kind == Some(K::ConnectionRefused) {
        TransportKind::ConnectRefused
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        TransportKind::Dns
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        TransportKind::Tls
    } else if matches!(
        io_kind,
        Some(K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof)
    ) || lower.contains("connection closed")
        || lower.contains("connection reset")
        || lower.contains("incomplete")
        || lower.contains("end of file")
        || e.is_body()
        || e.is_decode()
    {
        TransportKind::Reset
    } else if e.is_connect() {
        TransportKind::ConnectRefused
    } else {
        TransportKind::Other
    };
    CallError::transport(kind, detail)
}

/// Bounds a byte stream: no line longer than `max_sse_line_bytes`, no more than
/// `max_stream_bytes` in all. After the first error it ends.
pub(crate) struct Bounded {
    inner: ByteStream,
    limits: Limits,
    line: usize,
    total: usize,
    done: bool,
}

impl Bounded {
    pub(crate) fn new(inner: ByteStream, limits: Limits) -> Self {
        Self {
            inner,
            limits,
            line: 0,
            total: 0,
            done: false,
        }
    }
}

impl Stream for Bounded {
    type Item = Result<Bytes, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(Some(Ok(b))) => b,
        };
        self.total += item.len();
        if self.total > self.limits.max_stream_bytes {
            self.done = true;
            return Poll::Ready(Some(Err(CallError::BodyTooLarge {
                limit: self.limits.max_stream_bytes,
                what: "stream".into(),
            })));
        }
        let mut line = self.line;
        for &b in item.iter() {
            if b == b'\n' || b == b'\r' {
                line = 0;
            } else {
                line += 1;
                if line > self.limits.max_sse_line_bytes {
                    self.done = true;
                    return Poll::Ready(Some(Err(CallError::BodyTooLarge {
                        limit: self.limits.max_sse_line_bytes,
                        what: "SSE line".into(),
                    })));
                }
            }
        }
        self.line = line;
        Poll::Ready(Some(Ok(item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn http_proxy_is_ignored_and_loopback_bypasses_every_proxy() {
        // Regression: `HTTP_PROXY` was honoured for every adapter, so keys went in
        // plaintext to the proxy.
        let proxy = MockServer::start().await;
        let target = MockServer::start().await;
        for s in [&proxy, &target] {
            Mock::given(any())
                .respond_with(ResponseTemplate::new(200))
                .mount(s)
                .await;
        }
        let p = proxy.uri();
        let env = move |name: &str| {
            matches!(
                name,
                "HTTP_PROXY" | "http_proxy" | "HTTPS_PROXY" | "ALL_PROXY"
            )
            .then(|| p.clone())
        };
        let client = client_builder(Timeouts::default(), &env).build().unwrap();
        let r = client
            .post(format!("{}/v1/chat/completions", target.uri()))
            .header("authorization", "Bearer sk-test-SECRET-4242")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(target.received_requests().await.unwrap().len(), 1);
        assert!(
            proxy.received_requests().await.unwrap().is_empty(),
            "the proxy saw the request"
        );
    }

    /// A server (a std thread, one connection) answering 200 with `pieces` as separate
    /// chunks of a chunked body, a pause between them.
    fn chunked_server(pieces: &'static [&'static str]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut w = stream;
            w.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .unwrap();
            for p in pieces {
                write!(w, "{:x}\r\n{p}\r\n", p.len()).unwrap();
                w.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = w.write_all(b"0\r\n\r\n");
        });
        format!("http://{addr}/")
    }

    /// A body in several pieces is read whole, in order, and its limit holds for the
    /// pieces together (each is under it).
    #[tokio::test]
    async fn a_body_in_pieces_is_read_whole_and_bounded_as_a_whole() {
        const PIECES: &[&str] = &["{\"a\": ", "\"0123456789\", ", "\"b\": 2}"];
        let client = reqwest::Client::new();
        let idle = std::time::Duration::from_secs(5);
        let mut r = client.get(chunked_server(PIECES)).send().await.unwrap();
        let body = read_limited(&mut r, 1 << 10, idle).await.unwrap();
        assert_eq!(&body[..], PIECES.concat().as_bytes());
        let mut r = client.get(chunked_server(PIECES)).send().await.unwrap();
        let e = read_limited(&mut r, 20, idle).await.unwrap_err();
        assert!(
            matches!(e, CallError::BodyTooLarge { limit: 20, .. }),
            "{e:?}"
        );
    }

    /// Secrets as an adapter's headers carry them.
    fn secrets(values: &[&str]) -> Secrets {
        let mut h = HeaderMap::new();
        for (i, v) in values.iter().enumerate() {
            let name = HeaderName::from_bytes(format!("x-key-{i}").as_bytes()).unwrap();
            h.insert(name, secret_header(v).unwrap());
        }
        h.insert("x-plain", HeaderValue::from_static("not-a-secret-value"));
        Secrets::of(&h)
    }

    #[test]
    fn redaction_replaces_every_copy_of_a_key() {
        let body =
            Bytes::from_static(br#"{"error": "key sk-abc12345678 and again sk-abc12345678"}"#);
        let out = redact(body, &secrets(&["sk-abc12345678"]));
        assert_eq!(
            &out[..],
            br#"{"error": "key [redacted] and again [redacted]"}"#
        );
        assert_eq!(
            &redact(Bytes::from_static(b"clean"), &secrets(&["sk-abc12345678"]))[..],
            b"clean"
        );
        let two = redact(
            Bytes::from_static(b"sk-a sk-abc12345678 sk-b sk-xyz98765432"),
            &secrets(&["sk-abc12345678", "sk-xyz98765432"]),
        );
        assert_eq!(&two[..], b"sk-a [redacted] sk-b [redacted]");
    }

    #[test]
    fn redaction_finds_a_bearer_token_alone_and_skips_plain_headers() {
        let s = secrets(&["Bearer sk-live-0123456789"]);
        let out = redact(
            Bytes::from_static(
                b"auth Bearer sk-live-0123456789; key sk-live-0123456789; not-a-secret-value",
            ),
            &s,
        );
        assert_eq!(
            &out[..],
            b"auth [redacted]; key [redacted]; not-a-secret-value"
        );
    }

    #[test]
    fn a_json_body_reads_as_serde_json_reads_its_bytes() {
        use serde_json::Value;
        for body in [
            &b"{\"a\": \"caf\\u00e9 \xc3\xa9\", \"b\": [1, 2.5, null]}"[..],
            b"{\"a\": 1",
            b"{\"a\": \"\xff\xfe\"}",
            b"\xff{}",
            b"",
        ] {
            let ours = from_json::<Value>(body).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn a_clean_body_is_returned_without_a_copy() {
        let body = Bytes::from(b"{\"ok\": true}".to_vec());
        let ptr = body.as_ptr();
        let out = redact(body, &secrets(&["sk-abc12345678"]));
        assert_eq!(out.as_ptr(), ptr, "the clean body was copied");
    }

    proptest::proptest! {
        /// Whatever the body and wherever the key sits in it (split, repeated, next to
        /// look-alikes), no copy of the key survives, and a body without one comes back
        /// unchanged.
        #[test]
        fn no_key_survives_redaction(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "[ -~]{0,40}",
                    proptest::strategy::Just("sk-abc12345678".to_owned()),
                    proptest::strategy::Just("sk-abc1234567".to_owned()),
                    proptest::strategy::Just("Bearer sk-abc12345678".to_owned()),
                ],
                0..12,
            )
        ) {
            let body = pieces.concat();
            let out = redact(Bytes::from(body.clone()), &secrets(&["Bearer sk-abc12345678"]));
            proptest::prop_assert!(find(&out, b"sk-abc12345678").is_none());
            if find(body.as_bytes(), b"sk-abc12345678").is_none() {
                proptest::prop_assert_eq!(&out[..], body.as_bytes());
            }
        }
    }
}
