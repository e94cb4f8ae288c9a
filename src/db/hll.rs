//! HyperLogLog values in Redis's documented string layout, so an HLL written
//! by ferrokv can be read by Redis (GET/SET/DUMP) and the other way round.
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused | cardinality (u64 LE)
//! ```
//! The cached cardinality is valid unless the top bit of its last byte is set.
//! There are 2^14 registers of 6 bits. Dense: registers packed LSB first.
//! Sparse: run-length opcodes — `00xxxxxx` (ZERO, 1..64 zero registers),
//! `01xxxxxx yyyyyyyy` (XZERO, 1..16384 zero registers), `1vvvvvxx` (VAL,
//! 1..4 registers of value 1..32). A sparse HLL turns dense once a register
//! needs more than 32 or it would outgrow `hll-sparse-max-bytes`.
//!
//! An element is hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits
//! pick the register, and 1 + the number of trailing zeros of the remaining
//! 50 bits is the value it proposes. The cardinality comes from Ertl's
//! improved estimator over the register histogram. Using Redis's hash,
//! layout and estimator gives the same PFADD/PFCOUNT answers as Redis.

/// Bits of the hash that pick the register.
const P: u32 = 14;
/// Bits left for the run of zeros.
const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << REGISTER_BITS) - 1;
pub const HEADER_LEN: usize = 16;
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * REGISTER_BITS).div_ceil(8);
const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
/// The top bit of the cached cardinality's last byte marks it stale.
const CACHE_STALE_BIT: u8 = 0x80;
const HASH_SEED: u64 = 0xadc8_3b19;

const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = REGISTERS;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// A sparse HLL whose opcodes do not describe exactly 2^14 registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// The encoding of `bytes` if they hold a well-formed HLL header (and a dense
/// body of the right size); None for any other string.
pub fn validate(bytes: &[u8]) -> Option<Encoding> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    match bytes[ENCODING_AT] {
        0 if bytes.len() == DENSE_LEN => Some(Encoding::Dense),
        1 => Some(Encoding::Sparse),
        _ => None,
    }
}

fn encoding_of(bytes: &[u8]) -> Encoding {
    if bytes[ENCODING_AT] == 0 {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// A new, empty HLL: sparse, one XZERO covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes[..4].copy_from_slice(MAGIC);
    bytes[ENCODING_AT] = 1;
    push_zeros(&mut bytes, REGISTERS);
    bytes
}

/// The cached cardinality, when it is still valid.
pub fn cached_cardinality(bytes: &[u8]) -> Option<u64> {
    if bytes[CARD_AT + 7] & CACHE_STALE_BIT != 0 {
        return None;
    }
    Some(u64::from_le_bytes(
        bytes[CARD_AT..HEADER_LEN].try_into().unwrap(),
    ))
}

pub fn store_cardinality(bytes: &mut [u8], card: u64) {
    bytes[CARD_AT..HEADER_LEN].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(bytes: &mut [u8]) {
    bytes[CARD_AT + 7] |= CACHE_STALE_BIT;
}

// ---- hashing ----

/// MurmurHash64A (Austin Appleby's 64-bit variant), 8-byte blocks read
/// little-endian.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it proposes for it.
pub fn register_for(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // A sentinel bit past the Q usable bits bounds the run at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense registers ----

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = registers[byte] as u16 >> shift;
    let high = registers.get(byte + 1).copied().unwrap_or(0) as u16;
    ((low | high << (8 - shift)) as u8) & REGISTER_MAX
}

fn dense_set(registers: &mut [u8], index: usize, value: u8) {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let mask = (REGISTER_MAX as u16) << shift;
    let value = (value as u16) << shift;
    registers[byte] = (registers[byte] & !(mask as u8)) | value as u8;
    if shift > 8 - REGISTER_BITS {
        let next = &mut registers[byte + 1];
        *next = (*next & !((mask >> 8) as u8)) | (value >> 8) as u8;
    }
}

// ---- sparse opcodes ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// A run of zero registers (ZERO or XZERO).
    Zeros(usize),
    /// A run of registers holding `value`.
    Val { value: u8, len: usize },
}

impl Op {
    fn len(self) -> usize {
        match self {
            Op::Zeros(n) | Op::Val { len: n, .. } => n,
        }
    }
}

/// Decodes the opcode at the start of `bytes`, with its size in bytes.
fn decode_op(bytes: &[u8]) -> Option<(Op, usize)> {
    let b = *bytes.first()?;
    Some(match b >> 6 {
        0 => (Op::Zeros((b & 0x3f) as usize + 1), 1),
        1 => {
            let low = *bytes.get(1)? as usize;
            (Op::Zeros((((b & 0x3f) as usize) << 8 | low) + 1), 2)
        }
        _ => (
            Op::Val {
                value: ((b >> 2) & 0x1f) + 1,
                len: (b & 0x3) as usize + 1,
            },
            1,
        ),
    })
}

/// Appends the opcode for `n` (1..=16384) zero registers.
fn push_zeros(out: &mut Vec<u8>, n: usize) {
    debug_assert!((1..=XZERO_MAX_LEN).contains(&n));
    if n <= ZERO_MAX_LEN {
        out.push((n - 1) as u8);
    } else {
        let n = n - 1;
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | (value - 1) << 2 | (len - 1) as u8
}

/// Walks the sparse opcodes after the header: (offset, first register, op).
fn sparse_ops(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, Op)> + '_ {
    let mut offset = HEADER_LEN;
    let mut register = 0usize;
    std::iter::from_fn(move || {
        let (op, size) = decode_op(&bytes[offset..])?;
        let item = (offset, register, op);
        offset += size;
        register += op.len();
        Some(item)
    })
}

/// Calls `visit(first_register, op)` for every run; Corrupt unless the runs
/// cover exactly the 2^14 registers.
fn for_each_run(bytes: &[u8], mut visit: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let mut covered = 0;
    for (_, first, op) in sparse_ops(bytes) {
        if first + op.len() > REGISTERS {
            return Err(Corrupt);
        }
        visit(first, op);
        covered = first + op.len();
    }
    if covered == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrites a sparse HLL as dense, keeping the header's cached cardinality.
pub fn to_dense(bytes: &mut Vec<u8>) -> Result<(), Corrupt> {
    if encoding_of(bytes) == Encoding::Dense {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&bytes[..HEADER_LEN]);
    dense[ENCODING_AT] = 0;
    for_each_run(bytes, |first, op| {
        if let Op::Val { value, len } = op {
            for i in first..first + len {
                dense_set(&mut dense[HEADER_LEN..], i, value);
            }
        }
    })?;
    *bytes = dense;
    Ok(())
}

/// Raises register `index` to `value` if it is lower; true when it changed.
/// A sparse HLL turns dense when the value or the new size do not fit.
pub fn raise_register(
    bytes: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max_bytes: usize,
) -> Result<bool, Corrupt> {
    if encoding_of(bytes) == Encoding::Sparse {
        if value <= VAL_MAX_VALUE {
            if let Some(changed) = sparse_raise(bytes, index, value, sparse_max_bytes)? {
                return Ok(changed);
            }
        }
        to_dense(bytes)?;
    }
    let registers = &mut bytes[HEADER_LEN..];
    if dense_get(registers, index) >= value {
        return Ok(false);
    }
    dense_set(registers, index, value);
    Ok(true)
}

/// The sparse update in place; None when the HLL must turn dense first.
///
/// The run holding the register is split into at most three runs (left part,
/// the new single-register VAL, right part), then equal neighbouring VALs
/// around the edit are joined. Joining only looks at a few opcodes from the
/// one before the edit: Redis does the same, and doing exactly what it does
/// keeps the bytes identical to Redis's for the same history of adds.
fn sparse_raise(
    bytes: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max_bytes: usize,
) -> Result<Option<bool>, Corrupt> {
    let mut previous = None;
    let mut found = None;
    for (offset, first, op) in sparse_ops(bytes) {
        if index < first + op.len() {
            found = Some((offset, first, op));
            break;
        }
        previous = Some(offset);
    }
    let (offset, first, op) = found.ok_or(Corrupt)?;
    let old_size = match op {
        Op::Zeros(n) if n > ZERO_MAX_LEN => 2,
        _ => 1,
    };
    let (left, right) = (index - first, first + op.len() - 1 - index);
    let mut replacement = Vec::with_capacity(5);
    match op {
        Op::Val { value: old, .. } if old >= value => return Ok(Some(false)),
        Op::Val { value: old, .. } => {
            if left > 0 {
                replacement.push(val_byte(old, left));
            }
            replacement.push(val_byte(value, 1));
            if right > 0 {
                replacement.push(val_byte(old, right));
            }
        }
        Op::Zeros(_) => {
            if left > 0 {
                push_zeros(&mut replacement, left);
            }
            replacement.push(val_byte(value, 1));
            if right > 0 {
                push_zeros(&mut replacement, right);
            }
        }
    }
    let grown = bytes.len() + replacement.len() - old_size;
    if replacement.len() > old_size && grown > sparse_max_bytes {
        return Ok(None);
    }
    bytes.splice(offset..offset + old_size, replacement);
    join_equal_vals(bytes, previous.unwrap_or(HEADER_LEN));
    Ok(Some(true))
}

/// Joins adjacent VAL opcodes of equal value (up to the VAL length limit),
/// looking at five opcodes from `offset`.
fn join_equal_vals(bytes: &mut Vec<u8>, mut offset: usize) {
    for _ in 0..5 {
        let Some((op, size)) = decode_op(&bytes[offset..]) else {
            return;
        };
        if let Op::Val { value, len } = op {
            if let Some((Op::Val { value: v2, len: l2 }, _)) = decode_op(&bytes[offset + 1..]) {
                if v2 == value && len + l2 <= VAL_MAX_LEN {
                    bytes[offset + 1] = val_byte(value, len + l2);
                    bytes.remove(offset);
                    continue; // the joined run may join its next neighbour too
                }
            }
        }
        offset += size;
    }
}

// ---- reading registers ----

/// Raises `max[i]` to every register of the HLL (PFCOUNT of many keys, PFMERGE).
pub fn merge_into(bytes: &[u8], max: &mut [u8; REGISTERS]) -> Result<(), Corrupt> {
    match encoding_of(bytes) {
        Encoding::Dense => {
            let registers = &bytes[HEADER_LEN..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(registers, i));
            }
            Ok(())
        }
        Encoding::Sparse => for_each_run(bytes, |first, op| {
            if let Op::Val { value, len } = op {
                for m in &mut max[first..first + len] {
                    *m = (*m).max(value);
                }
            }
        }),
    }
}

/// Registers per value (0..=Q+1).
type Histogram = [u32; Q as usize + 2];

fn histogram(bytes: &[u8]) -> Result<Histogram, Corrupt> {
    let mut histo = [0u32; Q as usize + 2];
    match encoding_of(bytes) {
        Encoding::Dense => {
            let registers = &bytes[HEADER_LEN..];
            for i in 0..REGISTERS {
                histo[dense_get(registers, i) as usize] += 1;
            }
        }
        Encoding::Sparse => for_each_run(bytes, |_, op| match op {
            Op::Zeros(n) => histo[0] += n as u32,
            Op::Val { value, len } => histo[value as usize] += len as u32,
        })?,
    }
    Ok(histo)
}

/// The estimated cardinality of the HLL in `bytes` (ignoring the cache).
pub fn count(bytes: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(bytes)?))
}

/// The estimated cardinality of a union held as one byte per register.
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; Q as usize + 2];
    for &r in registers {
        histo[r as usize] += 1;
    }
    estimate(&histo)
}

/// Ertl's improved raw estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017), which needs no bias tables or range
/// corrections.
fn estimate(histo: &Histogram) -> u64 {
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7; // 1 / (2 ln 2)
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histo[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// σ(x) = x + Σ_{k≥1} x^(2^k) · 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² · 2^-k) / 3, summed until stable.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

// ---- PFDEBUG views ----

/// Every register's value, after turning the HLL dense (PFDEBUG GETREG).
pub fn dense_registers(bytes: &[u8]) -> Vec<u8> {
    let registers = &bytes[HEADER_LEN..];
    (0..REGISTERS).map(|i| dense_get(registers, i)).collect()
}

/// The sparse opcodes as PFDEBUG DECODE prints them: `z:n` (ZERO),
/// `Z:n` (XZERO), `v:value,len` (VAL).
pub fn describe_sparse(bytes: &[u8]) -> String {
    let mut parts = Vec::new();
    for (offset, _, op) in sparse_ops(bytes) {
        parts.push(match op {
            Op::Zeros(n) if bytes[offset] >> 6 == 1 => format!("Z:{n}"),
            Op::Zeros(n) => format!("z:{n}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        });
    }
    parts.join(" ")
}

pub fn encoding(bytes: &[u8]) -> Encoding {
    encoding_of(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_choice_matches_redis() {
        // Redis 7.0's PFDEBUG DECODE after PFADD h a: "Z:12711 v:2,1 Z:3672".
        assert_eq!(register_for(b"a"), (12711, 2));
    }

    /// A million distinct elements (Redis 7.0 counts these as 1007692).
    #[test]
    fn million_elements_within_one_percent_and_equal_to_redis() {
        let mut h = new_sparse();
        for i in 0..1_000_000u32 {
            let (index, value) = register_for(format!("k{i}").as_bytes());
            raise_register(&mut h, index, value, 3000).unwrap();
        }
        let estimate = count(&h).unwrap();
        assert_eq!(estimate, 1_007_692);
        assert!((estimate as f64 - 1e6).abs() / 1e6 < 0.01);
    }

    #[test]
    fn murmur_block_and_tail_paths() {
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", HASH_SEED), murmur64a(b"b", HASH_SEED));
        // A tail of 1..7 bytes and full blocks take different paths.
        let long = b"0123456789abcdef!";
        assert_ne!(murmur64a(&long[..16], 1), murmur64a(long, 1));
    }

    #[test]
    fn dense_registers_round_trip_across_byte_boundaries() {
        let mut regs = vec![0u8; DENSE_LEN - HEADER_LEN];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
        dense_set(&mut regs, 5, 0);
        assert_eq!(dense_get(&regs, 4), 4);
        assert_eq!(dense_get(&regs, 5), 0);
        assert_eq!(dense_get(&regs, 6), 6);
    }

    #[test]
    fn new_hll_is_one_xzero_and_counts_zero() {
        let h = new_sparse();
        assert_eq!(h.len(), 18);
        assert_eq!(describe_sparse(&h), "Z:16384");
        assert_eq!(validate(&h), Some(Encoding::Sparse));
        assert_eq!(count(&h), Ok(0));
        assert_eq!(cached_cardinality(&h), Some(0));
    }

    #[test]
    fn sparse_and_dense_agree_register_by_register() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        let mut model = [0u8; REGISTERS];
        for i in 0..3000u32 {
            let (index, value) = register_for(&i.to_le_bytes());
            let a = raise_register(&mut sparse, index, value, 1 << 20).unwrap();
            let b = raise_register(&mut dense, index, value, 1 << 20).unwrap();
            assert_eq!(a, b);
            assert_eq!(a, value > model[index]);
            model[index] = model[index].max(value);
        }
        assert_eq!(encoding(&sparse), Encoding::Sparse);
        let mut from_sparse = [0u8; REGISTERS];
        merge_into(&sparse, &mut from_sparse).unwrap();
        assert_eq!(from_sparse, model);
        assert_eq!(dense_registers(&dense), model.to_vec());
        assert_eq!(count(&sparse), count(&dense));
        assert_eq!(count(&sparse).unwrap(), count_registers(&model));
    }

    #[test]
    fn sparse_turns_dense_past_size_limit_or_value_32() {
        let mut h = new_sparse();
        raise_register(&mut h, 10, 33, 3000).unwrap();
        assert_eq!(encoding(&h), Encoding::Dense);
        assert_eq!(dense_registers(&h)[10], 33);
        let mut h = new_sparse();
        raise_register(&mut h, 100, 1, 21).unwrap();
        assert_eq!(encoding(&h), Encoding::Sparse);
        raise_register(&mut h, 200, 1, 21).unwrap();
        assert_eq!(encoding(&h), Encoding::Dense);
    }

    #[test]
    fn equal_neighbours_join() {
        let mut h = new_sparse();
        for i in 0..6 {
            raise_register(&mut h, i, 3, 3000).unwrap();
        }
        assert_eq!(describe_sparse(&h), "v:3,4 v:3,2 Z:16378");
        raise_register(&mut h, 70, 2, 3000).unwrap();
        assert_eq!(describe_sparse(&h), "v:3,4 v:3,2 z:64 v:2,1 Z:16313");
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut h = new_sparse();
        h.truncate(HEADER_LEN + 1);
        assert_eq!(count(&h), Err(Corrupt));
        assert_eq!(to_dense(&mut h.clone()), Err(Corrupt));
        let mut short = new_sparse();
        short.truncate(HEADER_LEN);
        short.push(0x00); // one zero register only
        assert_eq!(raise_register(&mut short, 9000, 1, 3000), Err(Corrupt));
    }

    #[test]
    fn validate_rejects_other_strings() {
        assert_eq!(validate(b"hello"), None);
        assert_eq!(
            validate(b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
            None
        );
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        assert_eq!(validate(&dense), Some(Encoding::Dense));
        let mut bad = new_sparse();
        bad[ENCODING_AT] = 2;
        assert_eq!(validate(&bad), None);
    }

    #[test]
    fn cache_bit() {
        let mut h = new_sparse();
        store_cardinality(&mut h, 42);
        assert_eq!(cached_cardinality(&h), Some(42));
        invalidate_cache(&mut h);
        assert_eq!(cached_cardinality(&h), None);
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        fn op() -> impl Strategy<Value = (usize, u8)> {
            // Clustered indexes exercise splits and joins of neighbouring runs.
            let index = prop_oneof![0..80usize, 16300..REGISTERS, 0..REGISTERS];
            (index, 1..=40u8)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// The HLL behaves like an array of max-registers whatever its
            /// encoding and sparse limit.
            #[test]
            fn registers_follow_a_max_array(
                ops in proptest::collection::vec(op(), 0..300),
                limit in prop_oneof![Just(0usize), Just(40), Just(300), Just(3000)],
            ) {
                let mut hll = new_sparse();
                let mut model = [0u8; REGISTERS];
                for (index, value) in ops {
                    let changed = raise_register(&mut hll, index, value, limit).unwrap();
                    prop_assert_eq!(changed, value > model[index]);
                    model[index] = model[index].max(value);
                    if encoding(&hll) == Encoding::Sparse {
                        prop_assert!(hll.len() <= limit.max(18));
                    }
                }
                let mut registers = [0u8; REGISTERS];
                merge_into(&hll, &mut registers).unwrap();
                prop_assert_eq!(registers.to_vec(), model.to_vec());
                prop_assert_eq!(count(&hll).unwrap(), count_registers(&model));
                let mut dense = hll.clone();
                to_dense(&mut dense).unwrap();
                prop_assert_eq!(dense_registers(&dense), model.to_vec());
            }
        }
    }
}
