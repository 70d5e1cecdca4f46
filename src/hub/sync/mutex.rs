use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// A lock held across waits.
pub struct Mutex<T> {
    _t: PhantomData<T>,
}

/// The lock of a [`Mutex`], held.
pub struct MutexGuard<'a, T> {
    _m: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        todo!()
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        todo!()
    }
}

impl<T> Mutex<T> {
    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        todo!()
    }
    pub fn new(_value: T) -> Mutex<T> {
        todo!()
    }
    pub fn lock(&self) -> MutexGuard<'_, T> {
        todo!()
    }
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        todo!()
    }
    pub fn into_inner(self) -> T {
        todo!()
    }
}
