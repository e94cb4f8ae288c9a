//! `InlineBytes<N>`: an immutable byte string that stores up to `N` bytes
//! inline and longer ones in one exact-size heap allocation. Keys and small
//! values are mostly short, so most of them cost no allocation at all.
//!
//! Two sizes: [`Bytes24`] (22 bytes inline, the size of a `Vec`) for keys,
//! fields and members, and [`Bytes40`] (38 bytes inline) for string values,
//! which fills the 40 bytes a `Value` takes anyway. A 32-byte value (a token,
//! a hex digest) then costs no heap block: with glibc's 8-byte header and
//! 16-byte rounding that block was 48 bytes, a third of such a key's memory.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Keys, hash fields, set and sorted-set members: 24 bytes.
pub type Bytes24 = InlineBytes<22>;
/// String values: 40 bytes, the size of `Value`.
pub type Bytes40 = InlineBytes<38>;

#[derive(Clone)]
pub enum InlineBytes<const N: usize> {
    Inline { len: u8, data: [u8; N] },
    Heap(Box<[u8]>),
}

impl<const N: usize> InlineBytes<N> {
    pub fn new(data: &[u8]) -> Self {
        if data.len() <= N {
            let mut inline = [0; N];
            inline[..data.len()].copy_from_slice(data);
            InlineBytes::Inline {
                len: data.len() as u8,
                data: inline,
            }
        } else {
            InlineBytes::Heap(data.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            InlineBytes::Inline { len, data } => &data[..*len as usize],
            InlineBytes::Heap(b) => b,
        }
    }

    /// Bytes allocated on the heap beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            InlineBytes::Inline { .. } => 0,
            InlineBytes::Heap(b) => b.len(),
        }
    }
}

impl<const N: usize> From<&[u8]> for InlineBytes<N> {
    fn from(b: &[u8]) -> Self {
        InlineBytes::new(b)
    }
}

impl<const N: usize> From<Vec<u8>> for InlineBytes<N> {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= N {
            InlineBytes::new(&v)
        } else {
            InlineBytes::Heap(v.into_boxed_slice())
        }
    }
}

impl<const N: usize> Deref for InlineBytes<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> Borrow<[u8]> for InlineBytes<N> {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> PartialEq for InlineBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl<const N: usize> Eq for InlineBytes<N> {}

impl<const N: usize> PartialOrd for InlineBytes<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<const N: usize> Ord for InlineBytes<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// Hashes like `[u8]`, so lookups by `&[u8]` find the same entry.
impl<const N: usize> Hash for InlineBytes<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl<const N: usize> fmt::Debug for InlineBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<const N: usize>() {
        for len in [0, 1, N, N + 1, 100] {
            let data: Vec<u8> = (0..len as u8).collect();
            let b = InlineBytes::<N>::new(&data);
            assert_eq!(&*b, &data[..]);
            assert_eq!(b.heap_size() > 0, len > N);
            assert_eq!(InlineBytes::<N>::from(data.clone()), b);
        }
    }

    #[test]
    fn sizes_and_round_trips() {
        assert_eq!(std::mem::size_of::<Bytes24>(), 24);
        assert_eq!(std::mem::size_of::<Bytes40>(), 40);
        round_trips::<22>();
        round_trips::<38>();
    }
}
