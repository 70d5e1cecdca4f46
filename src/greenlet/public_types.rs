//! The public value types of the greenlet layer that are not greenlets:
//! [`GreenletExit`], [`SwitchError`], [`ParentError`], the trace [`Event`],
//! and the text of a panic payload for messages.

use std::any::Any;
use std::fmt;

/// The panic payload that [`Greenlet::kill`](crate::Greenlet::kill) and
/// dropping a suspended greenlet raise inside it. A greenlet that dies from
/// it delivers it to its parent as a *value*, not as a panic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GreenletExit")
    }
}

/// A value arrived whose type is not the one the receiver asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchError {
    /// `expected` is the receiver's type, `found` the sender's; both are
    /// `std::any::type_name`s.
    TypeMismatch {
        /// The type the receiving `switch` asked for.
        expected: &'static str,
        /// The type of the value that was sent.
        found: &'static str,
    },
}

impl fmt::Display for SwitchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchError::TypeMismatch { expected, found } => write!(
                f,
                "greenlet: switch expected a value of type `{expected}` but was sent a `{found}` \
                 (the value was dropped)"
            ),
        }
    }
}

impl std::error::Error for SwitchError {}

/// Why [`Greenlet::set_parent`](crate::Greenlet::set_parent) refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentError {
    /// The new parent is the greenlet itself or one of its descendants.
    Cycle,
    /// The main greenlet has no parent and cannot be given one.
    MainGreenlet,
}

impl fmt::Display for ParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParentError::Cycle => "greenlet: set_parent would make a cycle of parents",
            ParentError::MainGreenlet => "greenlet: the main greenlet cannot have a parent",
        })
    }
}

impl std::error::Error for ParentError {}

/// What a trace callback is told about a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// An ordinary switch (including a greenlet's death with a value, and a
    /// death by `GreenletExit`).
    Switch,
    /// A switch that carries a panic: `throw`, `kill`, or death by a panic.
    Throw,
}

/// The text of a panic payload, for messages: a `panic!` message,
/// `GreenletExit`, or "a non-string payload".
pub(crate) fn payload_text(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else if p.is::<GreenletExit>() {
        "GreenletExit"
    } else {
        "a non-string payload"
    }
}
