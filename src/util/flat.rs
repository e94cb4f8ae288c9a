//! Byte strings laid end to end in one buffer, read back by index.
//!
//! Front-coded packed aggregates can only be read forwards, one item at a
//! time; commands that need random or reverse access (HRANDFIELD, SPOP with
//! a count, ZREVRANGE) copy the items they need into one of these: two
//! allocations per command rather than one per item.

#[derive(Default)]
pub struct FlatStrings {
    bytes: Vec<u8>,
    /// Where each string ends in `bytes`.
    ends: Vec<usize>,
}

impl FlatStrings {
    /// Room for `items` strings (their bytes grow as pushed).
    pub fn with_capacity(items: usize) -> Self {
        FlatStrings {
            bytes: Vec::new(),
            ends: Vec::with_capacity(items),
        }
    }

    pub fn push(&mut self, item: &[u8]) {
        self.bytes.extend_from_slice(item);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i`, below `len`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |prev| self.ends[prev]);
        &self.bytes[start..self.ends[i]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_back_by_index() {
        let mut flat = FlatStrings::with_capacity(3);
        for item in [&b"first"[..], b"", b"third"] {
            flat.push(item);
        }
        assert_eq!(flat.len(), 3);
        assert_eq!(flat.get(0), b"first");
        assert_eq!(flat.get(1), b"");
        assert_eq!(flat.get(2), b"third");
        assert!(FlatStrings::default().is_empty());
    }
}
