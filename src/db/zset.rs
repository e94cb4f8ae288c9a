//! The `zset` value type. PLACEHOLDER until its family lands: holds nothing.

/// A zset value.
#[derive(Debug, Clone, Default)]
pub struct ZSet {}

impl ZSet {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        "placeholder"
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        0
    }
}
