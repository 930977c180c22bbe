//! [`Violation`]: what a validator found wrong with an answer that arrived intact.

use serde::{Deserialize, Serialize};

/// What sort of rule an answer broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// No JSON where JSON was required, or several candidates and no way to choose.
    Extraction,
    /// JSON that breaks the requested schema.
    Schema,
    /// A value out of its allowed range, label set, pattern or length.
    Bounds,
    /// The answer does not mean what a trusted reference means.
    NotEquivalent,
    /// The model refused or was filtered.
    Refusal,
    /// The answer was cut short (finish reason `length`).
    Truncated,
    /// A rule of the caller's own.
    Custom,
}

/// One thing wrong with an answer: where, what, and how to ask for it to be fixed.
///
/// ```
/// use nb_core::{Violation, ViolationKind};
/// let v = Violation::new(ViolationKind::Schema, "/age", "expected an integer, got \"ten\"")
///     .with_hint("give `age` as a JSON integer");
/// assert_eq!(v.pointer, "/age");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The sort of rule broken.
    pub kind: ViolationKind,
    /// Where, as a JSON pointer into the answer (`""` for the whole answer).
    pub pointer: String,
    /// What is wrong, for people and logs.
    pub message: String,
    /// A short instruction for a repair prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Violation {
    /// A violation of `kind` at `pointer`.
    pub fn new(
        kind: ViolationKind,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            pointer: pointer.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a repair hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{:?}: {}", self.kind, self.message)
        } else {
            write!(f, "{:?} at {}: {}", self.kind, self.pointer, self.message)
        }
    }
}
