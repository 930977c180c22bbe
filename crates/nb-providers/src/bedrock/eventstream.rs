//! The `application/vnd.amazon.eventstream` framing, decoded by
//! `aws-smithy-eventstream`: each binary message (length prelude, CRCs, typed headers,
//! payload) becomes an [`Event`] named by its headers — an event's `:event-type`
//! (`contentBlockDelta`), `exception:` and the `:exception-type`
//! (`exception:throttlingException`), or `error:` and the `:error-code` — with its
//! payload as the data.

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::BytesMut;
use nb_core::CallError;

use crate::sse::{Event, Framer};

/// Splits an AWS event stream into events; a message longer than `max` bytes is
/// refused before it is buffered whole.
pub(crate) struct EventStreamFramer {
    decoder: MessageFrameDecoder,
    buf: BytesMut,
    max: usize,
}

impl EventStreamFramer {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            decoder: MessageFrameDecoder::new(),
            buf: BytesMut::new(),
            max,
        }
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn event(m: &Message) -> Result<Event, CallError> {
    let payload = std::str::from_utf8(m.payload())
        .map_err(|_| CallError::decode("an event-stream payload is not UTF-8", m.payload()))?;
    let name = match header(m, ":message-type") {
        Some("exception") => format!("exception:{}", header(m, ":exception-type").unwrap_or("")),
        Some("error") => format!("error:{}", header(m, ":error-code").unwrap_or("")),
        _ => header(m, ":event-type").unwrap_or("").to_owned(),
    };
    // An `error` message carries its text in a header and no payload.
    let data = match (header(m, ":message-type"), header(m, ":error-message")) {
        (Some("error"), Some(msg)) if payload.is_empty() => {
            serde_json::json!({"message": msg}).to_string()
        }
        _ => payload.to_owned(),
    };
    Ok(Event { event: name, data })
}

impl Framer for EventStreamFramer {
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Event>) -> Result<(), CallError> {
        self.buf.extend_from_slice(bytes);
        loop {
            match self.decoder.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => out.push_back(event(&m)?),
                Ok(DecodedFrame::Incomplete) => break,
                Err(e) => {
                    return Err(CallError::decode(
                        format!("bad event-stream message: {e}"),
                        &self.buf[..self.buf.len().min(64)],
                    ));
                }
            }
        }
        if self.buf.len() > self.max {
            return Err(CallError::BodyTooLarge {
                limit: self.max,
                what: "event-stream message".into(),
            });
        }
        Ok(())
    }

    /// A message cut off by the end of the bytes is dropped: whether the stream was
    /// complete is the decoder's call.
    fn finish(&mut self, _out: &mut VecDeque<Event>) -> Result<(), CallError> {
        self.buf.clear();
        Ok(())
    }
}

/// Frames `(message-type, event-or-exception type, payload)` as AWS sends them, for
/// tests and fuzz seeds.
pub(crate) fn encode(message_type: &str, kind: &str, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::Header;
    let type_header = if message_type == "exception" {
        ":exception-type"
    } else {
        ":event-type"
    };
    let m = Message::new(bytes::Bytes::copy_from_slice(payload))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_owned().into()),
        ))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail for headers this small.
    let _ = aws_smithy_eventstream::frame::write_message_to(&m, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8], size: usize) -> Result<Vec<Event>, CallError> {
        let mut f = EventStreamFramer::new(1 << 20);
        let mut out = VecDeque::new();
        for c in bytes.chunks(size.max(1)) {
            f.push(c, &mut out)?;
        }
        f.finish(&mut out)?;
        Ok(out.into())
    }

    #[test]
    fn messages_split_anywhere_decode_the_same() {
        let mut all = encode("event", "messageStart", br#"{"role":"assistant"}"#);
        all.extend(encode(
            "event",
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
        ));
        all.extend(encode(
            "exception",
            "throttlingException",
            br#"{"message":"slow down"}"#,
        ));
        let whole = split(&all, all.len()).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].event, "contentBlockDelta");
        assert_eq!(whole[2].event, "exception:throttlingException");
        assert_eq!(whole[2].data, r#"{"message":"slow down"}"#);
        for size in 1..40 {
            assert_eq!(split(&all, size).unwrap(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn corrupt_and_oversized_messages_are_errors_and_a_cut_one_is_dropped() {
        let mut m = encode("event", "messageStop", br#"{"stopReason":"end_turn"}"#);
        let cut = split(&m[..m.len() - 3], 7).unwrap();
        assert!(cut.is_empty());
        let last = m.len() - 1;
        m[last] ^= 0xFF; // the message CRC
        assert!(matches!(split(&m, 5), Err(CallError::Decode(_))));
        let mut f = EventStreamFramer::new(16);
        let mut out = VecDeque::new();
        let big = encode("event", "x", &[b'a'; 100]);
        assert!(matches!(
            f.push(&big[..50], &mut out),
            Err(CallError::BodyTooLarge { .. })
        ));
    }
}
