//! Typed handles into append-only arenas, in the style of naga's `arena` module.
//!
//! A [`Handle<T>`] is an index that only fits an arena of `T`: an AST expression handle cannot
//! be used where an IR instruction is expected. [`Arena`] is a plain append-only list (the
//! linear IR, whose order is its meaning); [`UniqueArena`] also hash-conses, so inserting an
//! item equal to one already present returns the existing handle (the kernel AST's expressions).
//! Items are only ever appended, so a handle stays valid and every handle an item holds points
//! to an earlier item: arena order is a topological order.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// An index into an [`Arena<T>`] or [`UniqueArena<T>`].
pub struct Handle<T> {
    index: u32,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(crate) fn new(index: usize) -> Handle<T> {
        Handle {
            index: u32::try_from(index).expect("arena larger than u32::MAX items"),
            _marker: PhantomData,
        }
    }
    /// The position of the item in its arena.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

// Manual impls: derives would require `T: Clone` etc., which a handle does not need.
impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}
impl<T> Eq for Handle<T> {}
impl<T> PartialOrd for Handle<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Handle<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index.cmp(&other.index)
    }
}
impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state)
    }
}
impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.index)
    }
}
impl<T> fmt::Display for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.index)
    }
}

/// An append-only list of `T` addressed by [`Handle<T>`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Arena<T> {
    items: Vec<T>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena { items: vec![] }
    }
}

impl<T> Arena<T> {
    pub fn new() -> Arena<T> {
        Arena::default()
    }
    pub fn append(&mut self, item: T) -> Handle<T> {
        self.items.push(item);
        Handle::new(self.items.len() - 1)
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Handle<T>, &T)> + '_ {
        self.items
            .iter()
            .enumerate()
            .map(|(i, t)| (Handle::new(i), t))
    }
    /// The items in order, without handles.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }
}

impl<T> std::ops::Index<Handle<T>> for Arena<T> {
    type Output = T;
    fn index(&self, h: Handle<T>) -> &T {
        &self.items[h.index()]
    }
}
impl<T> std::ops::IndexMut<Handle<T>> for Arena<T> {
    fn index_mut(&mut self, h: Handle<T>) -> &mut T {
        &mut self.items[h.index()]
    }
}

impl<T: fmt::Debug> fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An arena that hash-conses: equal items share one handle. Reading goes through the inner
/// [`Arena`] (`Deref`, which also gives indexing by handle); only [`UniqueArena::insert`]
/// adds items.
#[derive(Clone)]
pub struct UniqueArena<T: Eq + Hash + Clone> {
    items: Arena<T>,
    index: HashMap<T, Handle<T>>,
}

impl<T: Eq + Hash + Clone> Default for UniqueArena<T> {
    fn default() -> Self {
        UniqueArena {
            items: Arena::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Eq + Hash + Clone> UniqueArena<T> {
    pub fn new() -> UniqueArena<T> {
        UniqueArena::default()
    }
    /// The handle of `item`, appending it if no equal item is present.
    pub fn insert(&mut self, item: T) -> Handle<T> {
        if let Some(&h) = self.index.get(&item) {
            return h;
        }
        let h = self.items.append(item.clone());
        self.index.insert(item, h);
        h
    }
}

impl<T: Eq + Hash + Clone> std::ops::Deref for UniqueArena<T> {
    type Target = Arena<T>;
    fn deref(&self) -> &Arena<T> {
        &self.items
    }
}

// Equality and hashing look at the items only (the index is derived from them).
impl<T: Eq + Hash + Clone> PartialEq for UniqueArena<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items.as_slice() == other.items.as_slice()
    }
}
impl<T: Eq + Hash + Clone> Eq for UniqueArena<T> {}
impl<T: Eq + Hash + Clone> Hash for UniqueArena<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.items.as_slice().hash(state)
    }
}
impl<T: Eq + Hash + Clone + fmt::Debug> fmt::Debug for UniqueArena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_arena_hash_conses() {
        let mut a = UniqueArena::new();
        let x = a.insert("x");
        let y = a.insert("y");
        assert_eq!(a.insert("x"), x);
        assert_ne!(x, y);
        assert_eq!(a.len(), 2);
        assert_eq!(a[y], "y");
    }

    #[test]
    fn arena_keeps_order() {
        let mut a = Arena::new();
        let h0 = a.append(10);
        let h1 = a.append(10);
        assert!(h0 < h1);
        assert_eq!(a.iter().map(|(_, v)| *v).sum::<i32>(), 20);
    }
}
