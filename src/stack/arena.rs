//! Arenas: the shared mappings that [`GuardMode::KernelGuard`](super::GuardMode::KernelGuard) stacks are
//! carved from (see the [module documentation](super), "Guard modes").
//!
//! There is one arena per usable stack size in use, and each arena is a list
//! of *chunks*: `MAP_NORESERVE` mappings of `[guard page][usable]` slots,
//! each guard installed with `madvise(MADV_GUARD_INSTALL)` the first time
//! its slot is handed out (*carved*). A slot given back keeps its guard and
//! goes to its chunk's free list.
//!
//! How much address space this reserves, and for how long:
//!
//! * A new chunk is mapped only when every slot of the arena is in use, and
//!   it has as many slots as all the arena's chunks together (one slot for
//!   the first; at most [`ARENA_MAX_CHUNK`] bytes). So right after it is
//!   mapped, the arena reserves twice what is in use, and at no time more
//!   than twice the most stacks of that size that were in use at once.
//! * A chunk none of whose slots is in use any more is unmapped at once, and
//!   an arena with no chunk left is forgotten. So stacks of many sizes made
//!   and dropped one after the other reserve no more than the largest of
//!   them does, and once every arena stack is dropped (a thread's pooled
//!   stacks are dropped when it exits) the arenas hold no address space at
//!   all.
//! * Slots are handed out from the oldest chunk that has one, so the newer
//!   (larger) chunks are the first to empty when the number of stacks goes
//!   down.
//!
//! One mutex guards every arena: making or dropping a stack that is not
//! pooled costs system calls anyway, and pooled stacks never come here.

use super::error::{StackError, Step};
use crate::os::{self, Mapping, map_anonymous};
use std::io;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The largest usable size, in bytes, of a stack carved from a shared arena
/// in [`GuardMode::KernelGuard`](super::GuardMode::KernelGuard) mode: 8 MiB
/// on 64-bit targets, 2 MiB on 32-bit ones. Larger stacks get a mapping of
/// their own.
///
/// # Examples
///
/// ```
/// use greenlet::stack::{ARENA_MAX_STACK_SIZE, Stack};
///
/// // The largest arena stack, and one above it (a mapping of its own).
/// let largest = Stack::new(ARENA_MAX_STACK_SIZE).unwrap();
/// let larger = Stack::new(ARENA_MAX_STACK_SIZE + 1).unwrap();
/// assert_eq!(largest.size(), ARENA_MAX_STACK_SIZE);
/// assert!(larger.size() > ARENA_MAX_STACK_SIZE);
/// ```
pub const ARENA_MAX_STACK_SIZE: usize = if usize::BITS >= 64 { 8 << 20 } else { 2 << 20 };

/// The largest arena chunk (one `MAP_NORESERVE` mapping), in bytes: 16 GiB
/// on 64-bit targets; 64 MiB on 32-bit ones, whose address space is small.
/// Chunks double up to this size, so a million 1 MiB stacks need under a
/// hundred chunks.
const ARENA_MAX_CHUNK: usize = if usize::BITS >= 64 {
    16 << 30
} else {
    64 << 20
};

/// One mapping of `slots` slots of `stride` bytes each.
struct Chunk {
    /// The start of the mapping: the guard page of slot 0.
    base: NonNull<u8>,
    /// Owns the mapping, and unmaps it when the chunk is dropped. Never
    /// dereferenced after `base` was taken from it: a slice over the chunk
    /// would claim its guard pages are readable, and its slots' memory
    /// belongs to their stacks.
    _map: Mapping,
    /// Slots in the mapping (at most `u32::MAX`, see [`Arena::grow`]).
    slots: usize,
    /// Slots `0..carved` have had their guard installed.
    carved: usize,
    /// Slots handed out and not given back yet.
    in_use: usize,
    /// Carved slots given back, by index, ready for reuse: usable pages
    /// already returned to the kernel, guard in place. Its capacity is
    /// `slots` from the start, so giving a slot back never allocates.
    free: Vec<u32>,
}

// SAFETY: a chunk is an address range and counts; the memory is reached only
// through the slots handed out, each owned by one `Stack`, on whatever
// thread. The registry of chunks is behind `ARENAS`' mutex.
unsafe impl Send for Chunk {}

impl Chunk {
    /// The start (guard page) of slot `index`.
    fn slot(&self, index: usize, stride: usize) -> NonNull<u8> {
        // SAFETY: `index < slots`, so the offset stays inside the mapping,
        // which does not start at address 0 and does not wrap.
        unsafe { self.base.add(index * stride) }
    }

    fn contains(&self, addr: usize, stride: usize) -> bool {
        let start = self.base.as_ptr() as usize;
        addr >= start && addr - start < self.slots * stride
    }

    /// Unmaps the chunk. Its slots must all have been given back, so
    /// nothing refers to its memory any more.
    fn unmap(self) {
        debug_assert_eq!(self.in_use, 0);
        drop(self);
    }
}

/// Stacks of one usable size.
struct Arena {
    usable: usize,
    /// `guard + usable`: the distance between slots.
    stride: usize,
    /// Oldest first. None of them is without a slot in use, except for a
    /// moment in [`take`].
    chunks: Vec<Chunk>,
}

/// Every arena of this process, one per usable size in use.
static ARENAS: Mutex<Vec<Arena>> = Mutex::new(Vec::new());

fn arenas() -> MutexGuard<'static, Vec<Arena>> {
    // Nothing panics while holding the lock; if something did, the arenas
    // are still consistent (each update is a push, pop, removal or field
    // store), so carry on.
    ARENAS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A slot (its guard start) for a `usable`-byte stack, carving one or
/// mapping a new chunk if no slot is free. On failure nothing is left
/// behind: no empty chunk, no empty arena.
pub(super) fn take(usable: usize, guard: usize) -> io::Result<NonNull<u8>> {
    let mut arenas = arenas();
    let index = match arenas.iter().position(|a| a.usable == usable) {
        Some(index) => index,
        None => {
            let no_memory = || {
                let os = io::Error::from_raw_os_error(os::NO_MEMORY);
                StackError::new(Step::Arena { chunk: 0 }, usable, guard, os).into_io()
            };
            arenas.try_reserve(1).map_err(|_| no_memory())?;
            arenas.push(Arena {
                usable,
                stride: usable + guard,
                chunks: Vec::new(),
            });
            arenas.len() - 1
        }
    };
    let result = arenas[index].take(guard);
    if arenas[index].chunks.is_empty() {
        // A new arena whose first chunk could not be made.
        arenas.swap_remove(index);
    }
    result
}

impl Arena {
    fn take(&mut self, guard: usize) -> io::Result<NonNull<u8>> {
        let stride = self.stride;
        // The oldest chunk with a free or an uncarved slot.
        let found = self
            .chunks
            .iter()
            .position(|c| !c.free.is_empty() || c.carved < c.slots);
        let at = match found {
            Some(at) => at,
            None => {
                self.grow(guard)?;
                self.chunks.len() - 1
            }
        };
        let chunk = &mut self.chunks[at];
        if let Some(index) = chunk.free.pop() {
            chunk.in_use += 1;
            return Ok(chunk.slot(index as usize, stride));
        }
        let slot = chunk.slot(chunk.carved, stride);
        // SAFETY: `[slot, slot + guard)` is a page-aligned page of our chunk
        // that no one has been handed yet.
        if let Err(os) = unsafe { os::install_kernel_guard(slot.as_ptr(), guard) } {
            if chunk.in_use == 0 {
                // A chunk just mapped for this slot: no empty chunk stays.
                self.chunks.remove(at).unmap();
            }
            return Err(StackError::new(Step::KernelGuard, self.usable, guard, os).into_io());
        }
        chunk.carved += 1;
        chunk.in_use += 1;
        Ok(slot)
    }

    /// Maps the next chunk, after the others: as many slots as all chunks
    /// so far (one if there are none), at most [`ARENA_MAX_CHUNK`] bytes and
    /// `u32::MAX` slots, at least one; halving on `ENOMEM` down to one slot.
    fn grow(&mut self, guard: usize) -> io::Result<()> {
        let most = (ARENA_MAX_CHUNK / self.stride).clamp(1, u32::MAX as usize);
        let reserved: usize = self.chunks.iter().map(|c| c.slots).sum();
        let mut slots = reserved.clamp(1, most);
        let step = |slots: usize| Step::Arena {
            chunk: slots * self.stride,
        };
        let no_memory = || io::Error::from_raw_os_error(os::NO_MEMORY);
        if self.chunks.try_reserve(1).is_err() {
            return Err(StackError::new(step(slots), self.usable, guard, no_memory()).into_io());
        }
        loop {
            let mut free = Vec::new();
            let result = free
                .try_reserve_exact(slots)
                .map_err(|_| no_memory())
                .and_then(|()| map_anonymous(slots * self.stride));
            match result {
                Ok(mut map) => {
                    // Taken before any guard goes in, while all of the
                    // mapping is read/write memory.
                    let base = NonNull::new(map.as_mut_ptr()).expect("a mapping is never at 0");
                    self.chunks.push(Chunk {
                        base,
                        _map: map,
                        slots,
                        carved: 0,
                        in_use: 0,
                        free,
                    });
                    return Ok(());
                }
                Err(e) if os::is_no_memory(&e) && slots > 1 => slots /= 2,
                Err(os) => {
                    return Err(StackError::new(step(slots), self.usable, guard, os).into_io());
                }
            }
        }
    }
}

/// Gives the slot at `base` back to the arena of `usable`-byte stacks, its
/// pages already returned to the kernel. Unmaps its chunk if that was the
/// chunk's last slot in use, and forgets the arena if that was its last
/// chunk. Never allocates.
pub(super) fn give_back(base: NonNull<u8>, usable: usize) {
    let addr = base.as_ptr() as usize;
    let mut arenas = arenas();
    let Some(a) = arenas.iter().position(|a| a.usable == usable) else {
        debug_assert!(false, "a slot of no arena");
        return; // impossible: leak the slot, which is harmless
    };
    let arena = &mut arenas[a];
    let stride = arena.stride;
    let Some(c) = arena.chunks.iter().position(|c| c.contains(addr, stride)) else {
        debug_assert!(false, "a slot of no chunk");
        return;
    };
    let chunk = &mut arena.chunks[c];
    chunk.in_use -= 1;
    if chunk.in_use == 0 {
        arena.chunks.remove(c).unmap();
        if arena.chunks.is_empty() {
            arenas.swap_remove(a);
        }
        return;
    }
    let start = chunk.base.as_ptr() as usize;
    // The index fits: a chunk has at most `u32::MAX` slots.
    let index = ((addr - start) / stride) as u32;
    if chunk.free.len() < chunk.free.capacity() {
        chunk.free.push(index);
    }
    // Otherwise (impossible: the capacity covers every slot) the slot is
    // leaked until its chunk is unmapped, which is harmless.
}

/// The arena of `usable`-byte stacks now, if there is one: `(chunks,
/// bytes reserved, slots in use)`.
#[cfg(test)]
fn arena_of(usable: usize) -> Option<(usize, usize, usize)> {
    let arenas = arenas();
    let arena = arenas.iter().find(|a| a.usable == usable)?;
    let bytes = arena.chunks.iter().map(|c| c.slots * arena.stride).sum();
    let in_use = arena.chunks.iter().map(|c| c.in_use).sum();
    Some((arena.chunks.len(), bytes, in_use))
}

#[cfg(test)]
mod tests {
    use super::super::{GuardMode, MIN_STACK_SIZE, Stack, guard_mode, page_size};
    use super::*;

    /// A usable size no other test uses (each test passes its own `k`), so
    /// that its arena is the test's alone; `None` if it would be too large
    /// for an arena (32-bit targets allow 2 MiB, and pages may be 64 KiB).
    /// The sizes skip the default one: the greenlets of every other test of
    /// this binary (running on other threads at the same time) use it, so
    /// its arena is never one test's alone (the 359-size test once found 548
    /// stacks in it under Valgrind).
    fn private_size(k: usize) -> Option<usize> {
        let mut size = MIN_STACK_SIZE + (101 + k) * page_size();
        if size >= super::super::sizes::default_usable_size() {
            size += page_size();
        }
        (size + page_size() <= ARENA_MAX_STACK_SIZE).then_some(size)
    }

    #[test]
    fn an_arena_reserves_at_most_twice_its_peak_and_empties_when_its_stacks_go() {
        if guard_mode() != GuardMode::KernelGuard {
            return; // arenas are used in KernelGuard mode only
        }
        let Some(usable) = private_size(0) else {
            return;
        };
        let stride = usable + page_size();
        let mut stacks = Vec::new();
        for n in 1..=100 {
            stacks.push(Stack::new(usable).unwrap());
            let (chunks, bytes, in_use) = arena_of(usable).unwrap();
            assert_eq!(in_use, n);
            // Chunks of 1, 1, 2, 4, ... slots: the next power of two.
            assert_eq!(bytes, n.next_power_of_two() * stride, "{n} stacks");
            assert!(bytes <= 2 * n * stride);
            assert!(chunks <= 8, "{chunks} chunks for {n} stacks");
        }
        // Dropping the newest half empties the newest (largest) chunk.
        stacks.truncate(50);
        let (_, bytes, in_use) = arena_of(usable).unwrap();
        assert_eq!(in_use, 50);
        assert_eq!(bytes, 64 * stride, "the 64-slot chunk is unmapped");
        // Freed slots of the chunks still mapped are reused before any new
        // chunk is mapped.
        stacks.extend((0..14).map(|_| Stack::new(usable).unwrap()));
        assert_eq!(arena_of(usable).unwrap().1, 64 * stride);
        drop(stacks);
        assert_eq!(arena_of(usable), None, "no chunk, no arena left");
    }

    #[test]
    fn stacks_of_many_sizes_made_one_after_another_leave_no_arena() {
        if guard_mode() != GuardMode::KernelGuard {
            return;
        }
        if private_size(359).is_none() {
            return;
        }
        // What the other tests of this binary hold meanwhile: stacks of the
        // default size.
        let _others = Stack::new(super::super::DEFAULT_STACK_SIZE).unwrap();
        for k in 1..=359 {
            let usable = private_size(k).expect("checked above");
            let stack = Stack::new(usable).unwrap();
            assert_eq!(stack.size(), usable);
            assert_eq!(arena_of(usable), Some((1, usable + page_size(), 1)));
            drop(stack);
            assert_eq!(arena_of(usable), None, "size {usable}");
        }
    }
}
