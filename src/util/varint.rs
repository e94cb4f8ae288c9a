//! LEB128 varints: seven bits per byte, low bits first, the top bit set on
//! every byte but the last. The length and delta prefix of every packed
//! encoding (hashes, lists, sorted-set listpacks, stream blocks), where most
//! numbers are small and take one byte.

/// Bytes `n` takes.
#[inline]
pub fn len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Appends `n`.
#[inline]
pub fn put(out: &mut impl Extend<u8>, n: u64) {
    let mut buf = [0; 10];
    let used = write(&mut buf, n);
    out.extend(buf[..used].iter().copied());
}

/// Writes `n` at the start of `out`; returns the bytes written.
#[inline]
pub fn write(out: &mut [u8], mut n: u64) -> usize {
    let mut at = 0;
    while n >= 0x80 {
        out[at] = (n as u8) | 0x80;
        n >>= 7;
        at += 1;
    }
    out[at] = n as u8;
    at + 1
}

/// Reads the varint at `*pos` and moves `*pos` past it.
#[inline]
pub fn read(buf: &[u8], pos: &mut usize) -> u64 {
    let (mut n, mut shift) = (0u64, 0);
    loop {
        let byte = buf[*pos];
        *pos += 1;
        n |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_at_its_length(n in any::<u64>()) {
            let mut out = vec![0xAA];
            put(&mut out, n);
            prop_assert_eq!(out.len() - 1, len(n));
            let mut pos = 1;
            prop_assert_eq!(read(&out, &mut pos), n);
            prop_assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn lengths_at_the_boundaries() {
        assert_eq!(len(0), 1);
        assert_eq!(len(127), 1);
        assert_eq!(len(128), 2);
        assert_eq!(len(16383), 2);
        assert_eq!(len(16384), 3);
        assert_eq!(len(u64::MAX), 10);
    }
}
