//! Typed values across a switch, without allocation: the sender leaves the
//! value where it is (in its own frame) and hands over its address and a
//! [`Tag`] naming its type (in its `Inner`'s `out_slot` and `out_tag`); the
//! receiver moves it out if the type is the one it expects, and otherwise
//! names it and drops it in place.
//!
//! A panic travels the same way, as a `Box<dyn Any + Send>` tagged with
//! [`PANIC`], a static whose address no value's tag can have.

use std::any::{Any, TypeId, type_name};

/// The type of a value in flight.
pub(crate) struct Tag {
    pub(crate) type_id: TypeId,
    pub(crate) type_name: fn() -> &'static str,
    /// Drops the value at the pointer in place.
    pub(crate) drop: unsafe fn(*mut u8),
}

impl Tag {
    /// Whether the value is a `T` (one 16-byte comparison).
    #[inline(always)]
    pub(crate) fn is<T: 'static>(&self) -> bool {
        self.type_id == TypeId::of::<T>()
    }
}

/// # Safety
/// `slot` points to a live `T` that nobody will use again.
unsafe fn drop_in_place<T>(slot: *mut u8) {
    // SAFETY: by the caller's promise.
    unsafe { slot.cast::<T>().drop_in_place() }
}

/// The tag of `T`. Not one address per type: the compiler gives a type one
/// copy per codegen unit, and sender and receiver are rarely in the same
/// one. Compare tags with [`Tag::is`].
#[inline(always)]
pub(crate) fn tag_of<T: 'static>() -> &'static Tag {
    const {
        &Tag {
            type_id: TypeId::of::<T>(),
            type_name: type_name::<T>,
            drop: drop_in_place::<T>,
        }
    }
}

/// Not a value: this is the payload of a `throw`, a `kill`, or a death by
/// panic: a `Box<dyn Any + Send>` to resume unwinding with in the receiver.
/// A `static`, so that its address is unique.
pub(crate) static PANIC: Tag = Tag {
    type_id: TypeId::of::<PanicMarker>(),
    type_name: type_name::<Box<dyn Any + Send>>,
    drop: drop_in_place::<Box<dyn Any + Send>>,
};

/// Only its `TypeId` is used, so that [`PANIC`] matches no value type.
struct PanicMarker;

/// The `out_tag` of a dead greenlet: it matches no type, so a receiver's
/// type test sends it to its slow path, which reads the real tag of the
/// last value from `death_tag`.
pub(crate) static DEATH: Tag = Tag {
    type_id: TypeId::of::<DeathMarker>(),
    type_name: type_name::<DeathMarker>,
    drop: drop_in_place::<DeathMarker>,
};

/// Only its `TypeId` is used, so that [`DEATH`] matches no value type.
struct DeathMarker;

/// What a receiver made of a payload whose tag was not the one it expected
/// at first sight.
pub(crate) enum Unexpected<R> {
    /// Same type after all (another copy of the tag).
    Value(R),
    /// A panic to resume.
    Panic(Box<dyn Any + Send>),
    /// Another type: the value was dropped; its name.
    Mismatch(&'static str),
}

/// Take the value at `slot` as an `R` if `tag` says it is one; otherwise
/// take the panic, or drop the value and name its type.
///
/// # Safety
/// `slot` holds a live value of the type `tag` describes, which nobody else
/// will use.
#[cold]
#[inline(never)]
pub(crate) unsafe fn take_unexpected<R: 'static>(
    slot: *mut u8,
    tag: &'static Tag,
) -> Unexpected<R> {
    if std::ptr::eq(tag, &PANIC) {
        // SAFETY: a PANIC slot holds a box.
        return Unexpected::Panic(unsafe { slot.cast::<Box<dyn Any + Send>>().read() });
    }
    if tag.is::<R>() {
        // SAFETY: the tag says it is an `R`.
        return Unexpected::Value(unsafe { slot.cast::<R>().read() });
    }
    // SAFETY: by the caller's promise; dropped once.
    unsafe { (tag.drop)(slot) };
    Unexpected::Mismatch((tag.type_name)())
}
