//! `Bytes24`: an immutable byte string that stores up to 23 bytes inline and
//! longer ones in one exact-size heap allocation. Keys and small values are
//! mostly short, so most of them cost no allocation at all, and the type is the
//! size of three pointers, like a `Vec`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum Bytes24 {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Bytes24 {
    pub fn new(data: &[u8]) -> Self {
        if data.len() <= INLINE {
            let mut inline = [0; INLINE];
            inline[..data.len()].copy_from_slice(data);
            Bytes24::Inline {
                len: data.len() as u8,
                data: inline,
            }
        } else {
            Bytes24::Heap(data.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes24::Inline { len, data } => &data[..*len as usize],
            Bytes24::Heap(b) => b,
        }
    }

    /// Bytes allocated on the heap beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            Bytes24::Inline { .. } => 0,
            Bytes24::Heap(b) => b.len(),
        }
    }
}

impl From<&[u8]> for Bytes24 {
    fn from(b: &[u8]) -> Self {
        Bytes24::new(b)
    }
}

impl From<Vec<u8>> for Bytes24 {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            Bytes24::new(&v)
        } else {
            Bytes24::Heap(v.into_boxed_slice())
        }
    }
}

impl Deref for Bytes24 {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Bytes24 {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Bytes24 {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Bytes24 {}

impl PartialOrd for Bytes24 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bytes24 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// Hashes like `[u8]`, so lookups by `&[u8]` find the same entry.
impl Hash for Bytes24 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for Bytes24 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_round_trip() {
        assert_eq!(std::mem::size_of::<Bytes24>(), 24);
        for len in [0, 1, INLINE, INLINE + 1, 100] {
            let data: Vec<u8> = (0..len as u8).collect();
            let b = Bytes24::new(&data);
            assert_eq!(&*b, &data[..]);
            assert_eq!(b.heap_size() > 0, len > INLINE);
            assert_eq!(Bytes24::from(data.clone()), b);
        }
    }
}
