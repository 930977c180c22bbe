//! From a bounded byte stream to [`ChatChunk`]s: [`EventParser`] splits events by the
//! WHATWG event-stream rules (blank lines and `:` comments such as DeepSeek's
//! `: keep-alive` never surface), a per-format [`Decoder`] turns each event into chunks,
//! and this driver keeps what was delivered so a broken stream reports its partial
//! output.
//!
//! The parser is our own, not `eventsource-stream`: that crate panicked on a UTF-8
//! byte-order mark at the start of a stream (it sliced one byte into a three-byte mark)
//! and re-scanned its buffer for every blank line, so a chunk of newlines cost time
//! quadratic in its size. This one reads each byte once, skips a leading BOM as the
//! standard says, and returns errors instead of panicking.

use std::collections::VecDeque;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use nb_core::{CallError, ChatChunk, ChatStream, StreamAccumulator};

/// What the decoder reads: a boxed stream of body bytes whose failures are already
/// [`CallError`]s (the HTTP exchange makes one, bounded, from a response body).
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, CallError>> + Send>>;

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

/// One server-sent event: its type (`"message"` when unnamed) and its data lines joined
/// by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) event: String,
    pub(crate) data: String,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An incremental parser of the `text/event-stream` format (WHATWG HTML, "Server-sent
/// events"): lines end in CR, LF or CRLF (also when split across chunks); a blank line
/// dispatches the event; `:` starts a comment; `field: value` with one optional space;
/// `data` lines accumulate; `id`, `retry` and unknown fields are ignored; one leading
/// byte-order mark is skipped. Every byte is examined once.
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    /// Whether the start of the stream (a possible BOM) has been passed.
    started: bool,
    /// The previous chunk ended in CR: a LF at the start of the next one ends nothing.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl EventParser {
    /// Feeds bytes; complete events are appended to `out`.
    pub(crate) fn push(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<Event>,
    ) -> Result<(), CallError> {
        if self.started {
            return self.lines(bytes, out);
        }
        // The mark may arrive split across chunks: hold up to three bytes.
        self.partial.extend_from_slice(bytes);
        if self.partial.len() < BOM.len() && BOM.starts_with(&self.partial) {
            return Ok(());
        }
        self.started = true;
        let head = std::mem::take(&mut self.partial);
        self.lines(head.strip_prefix(BOM).unwrap_or(&head), out)
    }

    fn lines(&mut self, bytes: &[u8], out: &mut VecDeque<Event>) -> Result<(), CallError> {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if self.after_cr && b == b'\n' {
                // The LF of a CRLF (perhaps split across chunks): the CR ended the line.
                self.after_cr = false;
                start = i + 1;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                let line = &bytes[start..i];
                if self.partial.is_empty() {
                    self.line(line, out)?;
                } else {
                    let mut whole = std::mem::take(&mut self.partial);
                    whole.extend_from_slice(line);
                    self.line(&whole, out)?;
                }
                start = i + 1;
            }
        }
        self.partial.extend_from_slice(&bytes[start..]);
        Ok(())
    }

    fn line(&mut self, line: &[u8], out: &mut VecDeque<Event>) -> Result<(), CallError> {
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                if data.ends_with('\n') {
                    data.pop();
                }
                let event = std::mem::take(&mut self.event);
                out.push_back(Event {
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event
                    },
                    data,
                });
            }
            self.event.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| CallError::decode("the event stream is not valid UTF-8", line))?;
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "event" => value.clone_into(&mut self.event),
            _ => {}
        }
        Ok(())
    }

    /// The stream ended: an event whose lines all ended but that had no blank line
    /// after it is still delivered; a line cut off mid-way is dropped.
    pub(crate) fn finish(&mut self, out: &mut VecDeque<Event>) -> Result<(), CallError> {
        self.partial.clear();
        self.line(b"", out)
    }
}

/// Splits a byte stream into events: the SSE [`EventParser`], or another framing (AWS's
/// event stream) that names its events the same way.
pub(crate) trait Framer: Send + 'static {
    /// Feeds bytes; complete events are appended to `out`.
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Event>) -> Result<(), CallError>;
    /// The bytes ended.
    fn finish(&mut self, out: &mut VecDeque<Event>) -> Result<(), CallError>;
}

impl Framer for EventParser {
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Event>) -> Result<(), CallError> {
        EventParser::push(self, bytes, out)
    }

    fn finish(&mut self, out: &mut VecDeque<Event>) -> Result<(), CallError> {
        EventParser::finish(self, out)
    }
}

struct State<D, F> {
    bytes: ByteStream,
    parser: F,
    events: VecDeque<Event>,
    eof: bool,
    decoder: D,
    acc: StreamAccumulator,
    pending: VecDeque<ChatChunk>,
    scratch: Vec<ChatChunk>,
    done: bool,
}

/// Runs `decoder` over the server-sent events of `bytes`.
pub(crate) fn decode<D: Decoder>(bytes: ByteStream, decoder: D) -> ChatStream {
    decode_framed(bytes, EventParser::default(), decoder)
}

/// Runs `decoder` over the events `framer` splits `bytes` into.
pub(crate) fn decode_framed<D: Decoder, F: Framer>(
    bytes: ByteStream,
    framer: F,
    decoder: D,
) -> ChatStream {
    let state = State {
        bytes,
        parser: framer,
        events: VecDeque::new(),
        eof: false,
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
            let failure = if let Some(ev) = s.events.pop_front() {
                match s.decoder.event(&ev.event, &ev.data, &mut s.scratch) {
                    Ok(flow) => {
                        s.pending.extend(s.scratch.drain(..));
                        s.done = flow == Flow::Done;
                        continue;
                    }
                    Err(e) => {
                        s.scratch.clear();
                        e
                    }
                }
            } else if s.eof {
                if s.decoder.complete_at_eof() {
                    s.done = true;
                    continue;
                }
                CallError::Truncated
            } else {
                match s.bytes.next().await {
                    Some(Ok(b)) => match s.parser.push(&b, &mut s.events) {
                        Ok(()) => continue,
                        Err(e) => e,
                    },
                    Some(Err(e)) => e,
                    None => {
                        s.eof = true;
                        match s.parser.finish(&mut s.events) {
                            Ok(()) => continue,
                            Err(e) => e,
                        }
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Result<Vec<Event>, CallError> {
        let mut p = EventParser::default();
        let mut out = VecDeque::new();
        for c in chunks {
            p.push(c, &mut out)?;
        }
        p.finish(&mut out)?;
        Ok(out.into())
    }

    fn ev(event: &str, data: &str) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn whatwg_lines_fields_and_comments() {
        let all = b": keep-alive\n\nevent: delta\ndata: {\"a\":1}\n\ndata:x\ndata: y\r\n\r\nid: 7\nretry: 10\n\n";
        let want = vec![ev("delta", "{\"a\":1}"), ev("message", "x\ny")];
        assert_eq!(parse(&[all]).unwrap(), want);
        // The same bytes one at a time: CRLF split across chunks is still one line end.
        let singles: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(parse(&singles).unwrap(), want);
        // CR alone ends lines too.
        assert_eq!(
            parse(&[b"data: a\r\rdata: b\r\r"]).unwrap(),
            vec![ev("message", "a"), ev("message", "b")]
        );
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped_even_when_split() {
        let want = vec![ev("message", "hi")];
        assert_eq!(parse(&[b"\xEF\xBB\xBFdata: hi\n\n"]).unwrap(), want);
        assert_eq!(
            parse(&[b"\xEF", b"\xBB", b"\xBFdata: hi\n\n"]).unwrap(),
            want
        );
        assert_eq!(parse(&[b"\xEF\xBB", b"\xBFdata: hi\n\n"]).unwrap(), want);
        // Only at the start: later it is data.
        assert_eq!(
            parse(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]).unwrap(),
            vec![ev("message", "a")],
            "a mark mid-stream makes an unknown field name, which is ignored"
        );
    }

    #[test]
    fn bad_bytes_are_an_error_and_a_cut_line_is_dropped() {
        assert!(parse(&[b"data: \xFF\xFE\n\n"]).is_err());
        assert!(parse(&[b"\xEF\xBB"]).unwrap().is_empty());
        assert_eq!(
            parse(&[b"data: whole\ndata: cut"]).unwrap(),
            vec![ev("message", "whole")]
        );
    }

    #[test]
    fn a_flood_of_blank_lines_is_read_once() {
        // 4 MiB of newlines then one event: linear, so this is quick even unoptimised.
        let mut body = vec![b'\n'; 4 << 20];
        body.extend_from_slice(b"data: end\n\n");
        assert_eq!(parse(&[&body]).unwrap(), vec![ev("message", "end")]);
    }
}
