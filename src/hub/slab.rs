//! A generational slab: values addressed by a [`Key`] (index + generation),
//! so that a key kept after its value was removed can never reach a newer
//! value that reused the slot. The hub keys its waiting greenlets and IO
//! registrations this way: timers and IO events hold keys, not handles.

/// The address of a value in a [`Slab`]: stale once that value is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The index alone (unique among live values), e.g. for a `mio::Token`.
    pub(crate) fn index(self) -> usize {
        self.index as usize
    }

    /// The key as one non-zero word (0 stands for "no key").
    pub(crate) fn to_word(self) -> u64 {
        (u64::from(self.generation) << 32) | (u64::from(self.index) + 1)
    }

    /// The key [`to_word`](Key::to_word) made; `None` for 0.
    pub(crate) fn from_word(w: u64) -> Option<Key> {
        let low = w as u32;
        (low != 0).then(|| Key {
            index: low - 1,
            generation: (w >> 32) as u32,
        })
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let e = &mut self.entries[index as usize];
            debug_assert!(e.value.is_none());
            // A free slot holds `None`: nothing to drop (and no drop code
            // on this path).
            std::mem::forget(e.value.replace(value));
            return Key {
                index,
                generation: e.generation,
            };
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .expect("more than 2^32 - 1 hub entries");
        self.entries.push(Entry {
            generation: 0,
            value: Some(value),
        });
        Key {
            index,
            generation: 0,
        }
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        match self.entries.get(key.index as usize) {
            Some(e) if e.generation == key.generation => e.value.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.entries.get_mut(key.index as usize) {
            Some(e) if e.generation == key.generation => e.value.as_mut(),
            _ => None,
        }
    }

    /// The live value at `index` whatever its generation (for IO tokens,
    /// which carry only the index).
    pub(crate) fn get_by_index_mut(&mut self, index: usize) -> Option<&mut T> {
        self.entries.get_mut(index)?.value.as_mut()
    }

    /// Remove and return the value; `None` if `key` is stale.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let e = self.entries.get_mut(key.index as usize)?;
        if e.generation != key.generation {
            return None;
        }
        let value = e.value.take()?;
        e.generation = e.generation.wrapping_add(1);
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// Every live value, with its key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.value.as_ref().map(|v| {
                (
                    Key {
                        index: i as u32,
                        generation: e.generation,
                    },
                    v,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn stale_keys_miss_reused_slots() {
        let mut s = Slab::new();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index(), b.index(), "the slot is reused");
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.iter().map(|(_, v)| *v).collect::<Vec<_>>(), ["b"]);
    }
}
