//! A software model of the x87 80-bit `long double` that Redis's INCRBYFLOAT
//! computes in, so replies match digit for digit (`1000 + 0.1` prints
//! `1000.09999999999999998` in Redis because of that format's rounding).
//!
//! Only what INCRBYFLOAT needs: correctly rounded decimal parsing (`strtold`),
//! one correctly rounded addition, and `%.17Lf` printing with Redis's trimming
//! of trailing zeros. Rounding is to nearest, ties to even, as on x87.
//! Subnormals keep their reduced precision; the clamp to zero is as in C.

use std::cmp::Ordering;

/// Finite value `(-1)^neg * mant * 2^exp`; `mant` has its top bit set unless
/// the value is zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i32,
}

/// Largest and smallest `exp` of a normal 80-bit value with a 64-bit mantissa.
const MAX_EXP: i32 = 16383 - 63;
const MIN_EXP: i32 = -16382 - 63;
/// Redis refuses float strings of this length or longer.
const MAX_CHARS: usize = 5 * 1024;

/// What parsing found: a finite value or an infinity (which INCRBYFLOAT
/// rejects after parsing, with its own error).
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Finite(LongDouble),
    Infinite,
}

impl LongDouble {
    pub fn from_i64(n: i64) -> Self {
        normalize(n < 0, n.unsigned_abs() as u128, 0)
    }

    /// Parses like Redis's `string2ld`: `strtold` with no leading space, no
    /// trailing bytes, no NaN, and no overflow or underflow to zero.
    pub fn parse(text: &[u8]) -> Option<Parsed> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Parsed::Infinite);
        }
        let value = match body.get(..2) {
            Some(b"0x" | b"0X") => hex_to_binary(&body[2..])?,
            _ => {
                let (digits, exp10) = split_decimal(body)?;
                decimal_to_binary(&digits, exp10)?
            }
        };
        // An overflow is ERANGE with HUGE_VAL, which Redis rejects.
        value.map(|v| Parsed::Finite(LongDouble { neg, ..v }))
    }

    /// `self + other`, rounded once; None when the result overflows.
    pub fn add(self, other: LongDouble) -> Option<LongDouble> {
        if self.mant == 0 {
            // -0 + -0 is -0; any other sum with a zero is the other operand.
            return Some(if other.mant == 0 {
                LongDouble {
                    neg: self.neg && other.neg,
                    ..other
                }
            } else {
                other
            });
        }
        if other.mant == 0 {
            return Some(self);
        }
        // Larger magnitude first.
        let (a, b) = match (self.exp, self.mant).cmp(&(other.exp, other.mant)) {
            Ordering::Less => (other, self),
            _ => (self, other),
        };
        // 62 guard bits below the mantissa; bits shifted out of b become a sticky bit.
        const GUARD: u32 = 62;
        let wide_a = (a.mant as u128) << GUARD;
        let wide_b = (b.mant as u128) << GUARD;
        let shift = (a.exp - b.exp) as u32;
        let aligned_b = if shift >= 127 {
            1
        } else {
            let kept = wide_b >> shift;
            kept | ((kept << shift) != wide_b) as u128
        };
        let sum = if a.neg == b.neg {
            wide_a + aligned_b
        } else {
            wide_a - aligned_b
        };
        if sum == 0 {
            return Some(LongDouble {
                neg: false,
                mant: 0,
                exp: 0,
            });
        }
        let result = to_subnormal_grid(normalize(a.neg, sum, a.exp - GUARD as i32));
        (result.exp <= MAX_EXP).then_some(result)
    }

    /// Formats as `%.17Lf` with trailing zeros (and a bare point) removed and
    /// `-0` printed as `0`: exactly INCRBYFLOAT's reply.
    pub fn to_redis_string(self) -> String {
        let mut text = String::new();
        if self.neg {
            text.push('-');
        }
        if self.exp >= 0 {
            // An integer: every digit of mant * 2^exp.
            let mut big = BigUint::from_u128(self.mant as u128);
            big.shl(self.exp as u32);
            text.push_str(&big.to_decimal());
        } else {
            let scaled = self.mant as u128 * 10u128.pow(17);
            let units = round_shift_right(scaled, (-self.exp) as u32);
            let digits = format!("{units:018}");
            let (int_part, frac) = digits.split_at(digits.len() - 17);
            text.push_str(int_part);
            let frac = frac.trim_end_matches('0');
            if !frac.is_empty() {
                text.push('.');
                text.push_str(frac);
            }
        }
        if text == "-0" { "0".into() } else { text }
    }
}

/// `x >> shift`, rounded to nearest with ties to even.
fn round_shift_right(x: u128, shift: u32) -> u128 {
    if shift == 0 {
        return x;
    }
    if shift > 127 {
        return 0;
    }
    let kept = x >> shift;
    let rest = x & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// Rounds `x * 2^exp` to a 64-bit mantissa (x's lowest bit may be a sticky bit).
fn normalize(neg: bool, x: u128, exp: i32) -> LongDouble {
    if x == 0 {
        return LongDouble {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let top = 127 - x.leading_zeros() as i32;
    if top <= 63 {
        let shift = 63 - top;
        return LongDouble {
            neg,
            mant: (x << shift) as u64,
            exp: exp - shift,
        };
    }
    let shift = (top - 63) as u32;
    let rounded = round_shift_right(x, shift);
    if rounded >> 64 != 0 {
        LongDouble {
            neg,
            mant: (rounded >> 1) as u64,
            exp: exp + shift as i32 + 1,
        }
    } else {
        LongDouble {
            neg,
            mant: rounded as u64,
            exp: exp + shift as i32,
        }
    }
}

/// Splits `digits[.digits][e[+-]digits]` into its significant digits and a
/// power of ten; None for anything else.
fn split_decimal(body: &[u8]) -> Option<(Vec<u8>, i64)> {
    let mantissa_end = body
        .iter()
        .position(|b| matches!(b, b'e' | b'E'))
        .unwrap_or(body.len());
    let (mantissa, exponent) = body.split_at(mantissa_end);
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(dot) => (&mantissa[..dot], &mantissa[dot + 1..]),
        None => (mantissa, &[][..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    let mut exp10: i64 = 0;
    if !exponent.is_empty() {
        let e = &exponent[1..];
        let (sign, e_digits) = match e.first() {
            Some(b'-') => (-1, &e[1..]),
            Some(b'+') => (1, &e[1..]),
            _ => (1, e),
        };
        if e_digits.is_empty() || !all_digits(e_digits) {
            return None;
        }
        // Saturate: anything this large over- or underflows anyway.
        let magnitude = e_digits
            .iter()
            .fold(0i64, |acc, d| (acc * 10 + (d - b'0') as i64).min(1 << 40));
        exp10 = sign * magnitude;
    }
    let mut digits: Vec<u8> = int_part.iter().chain(frac_part).map(|d| d - b'0').collect();
    exp10 -= frac_part.len() as i64;
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    Some((digits, exp10))
}

/// Rounds `digits * 10^exp10` to the nearest long double. Outer None: the
/// value underflows to zero (rejected by Redis); inner None: it overflows.
fn decimal_to_binary(digits: &[u8], exp10: i64) -> Option<Option<LongDouble>> {
    if digits.is_empty() {
        return Some(Some(LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        }));
    }
    // Quick range checks so the big numbers below stay bounded.
    let magnitude = digits.len() as i64 + exp10; // value < 10^magnitude
    if magnitude > 4933 {
        return Some(None);
    }
    if magnitude < -4952 {
        return None;
    }
    let mut num = BigUint::from_digits(digits);
    let value = if exp10 >= 0 {
        for _ in 0..exp10 {
            num.mul_small(10);
        }
        scaled_to_binary(&num, 0)
    } else {
        let mut den = BigUint::from_u128(1);
        for _ in 0..-exp10 {
            den.mul_small(10);
        }
        // Scale so the quotient has 66 bits: 64 kept, a round bit, one spare.
        let scale = 66 + den.bit_len() as i64 - num.bit_len() as i64;
        let scale = scale.max(0) as u32;
        num.shl(scale);
        let (quotient, remainder_nonzero) = num.div_small_quotient(&den);
        normalize(
            false,
            quotient << 1 | remainder_nonzero as u128,
            -(scale as i32) - 1,
        )
    };
    check_range(value)
}

/// Rounds `num * 2^exp2` to a long double.
fn scaled_to_binary(num: &BigUint, exp2: i64) -> LongDouble {
    let (top, sticky, dropped) = num.top_bits(66);
    let exp = (exp2 + dropped as i64 - 1).clamp(i32::MIN as i64 / 2, i32::MAX as i64 / 2);
    normalize(false, top << 1 | sticky as u128, exp as i32)
}

/// Outer None: underflow; inner None: overflow; else the value.
fn check_range(value: LongDouble) -> Option<Option<LongDouble>> {
    if value.mant == 0 {
        return Some(Some(value));
    }
    if value.exp > MAX_EXP {
        return Some(None);
    }
    let value = to_subnormal_grid(value);
    (value.mant != 0).then_some(Some(value))
}

/// Below the normal range the format keeps fewer bits: rounds the value to a
/// multiple of the smallest subnormal, 2^MIN_EXP (zero when it is too small).
fn to_subnormal_grid(value: LongDouble) -> LongDouble {
    if value.mant == 0 || value.exp >= MIN_EXP {
        return value;
    }
    let shift = (MIN_EXP - value.exp) as u32;
    let units = round_shift_right(value.mant as u128, shift.min(127));
    normalize(value.neg, units, MIN_EXP)
}

/// `strtold`'s hexadecimal form after `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]digits`.
fn hex_to_binary(body: &[u8]) -> Option<Option<LongDouble>> {
    let mantissa_end = body
        .iter()
        .position(|b| matches!(b, b'p' | b'P'))
        .unwrap_or(body.len());
    let (mantissa, exponent) = body.split_at(mantissa_end);
    let mut num = BigUint::from_u128(0);
    let (mut exp2, mut seen_digit, mut after_point) = (0i64, false, false);
    for &c in mantissa {
        match c {
            b'.' if !after_point => after_point = true,
            _ => {
                let digit = (c as char).to_digit(16)?;
                num.mul_small(16);
                num.add_small(digit);
                seen_digit = true;
                exp2 -= 4 * after_point as i64;
            }
        }
    }
    if !seen_digit {
        return None;
    }
    if !exponent.is_empty() {
        let (sign, digits) = match exponent.get(1) {
            Some(b'-') => (-1, &exponent[2..]),
            Some(b'+') => (1, &exponent[2..]),
            _ => (1, &exponent[1..]),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        exp2 += sign
            * digits
                .iter()
                .fold(0i64, |acc, d| (acc * 10 + (d - b'0') as i64).min(1 << 40));
    }
    if num.bit_len() == 0 {
        return Some(Some(LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        }));
    }
    check_range(scaled_to_binary(&num, exp2))
}

/// Just enough of an arbitrary-precision unsigned integer: little-endian
/// 32-bit limbs.
#[derive(Clone, Debug)]
struct BigUint {
    limbs: Vec<u32>,
}

impl BigUint {
    fn from_u128(mut n: u128) -> Self {
        let mut limbs = Vec::new();
        while n != 0 {
            limbs.push(n as u32);
            n >>= 32;
        }
        BigUint { limbs }
    }

    fn from_digits(digits: &[u8]) -> Self {
        let mut n = BigUint { limbs: Vec::new() };
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |acc, &d| acc * 10 + d as u32);
            n.mul_small(10u32.pow(chunk.len() as u32));
            n.add_small(value);
        }
        n
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.limbs {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for limb in &mut self.limbs {
            if carry == 0 {
                return;
            }
            let v = *limb as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn bit_len(&self) -> u32 {
        match self.limbs.last() {
            None => 0,
            Some(top) => self.limbs.len() as u32 * 32 - top.leading_zeros(),
        }
    }

    fn bit(&self, i: u32) -> bool {
        self.limbs
            .get((i / 32) as usize)
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    fn shl(&mut self, bits: u32) {
        let (limbs, rest) = ((bits / 32) as usize, bits % 32);
        if rest != 0 {
            let mut carry = 0u32;
            for limb in &mut self.limbs {
                let v = *limb;
                *limb = v << rest | carry;
                carry = v >> (32 - rest);
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    /// The top `n` bits (n <= 127), whether any lower bit is set, and how
    /// many bits were dropped.
    fn top_bits(&self, n: u32) -> (u128, bool, u32) {
        let len = self.bit_len();
        let dropped = len.saturating_sub(n);
        let top = (dropped..len)
            .rev()
            .fold(0u128, |acc, i| acc << 1 | self.bit(i) as u128);
        let sticky = (0..dropped).any(|i| self.bit(i));
        (top, sticky, dropped)
    }

    fn cmp(&self, other: &BigUint) -> Ordering {
        let trim = |l: &[u32]| l.len() - l.iter().rev().take_while(|&&x| x == 0).count();
        let (a, b) = (
            &self.limbs[..trim(&self.limbs)],
            &other.limbs[..trim(&other.limbs)],
        );
        a.len()
            .cmp(&b.len())
            .then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }

    fn sub_assign(&mut self, other: &BigUint) {
        let mut borrow = 0i64;
        for i in 0..self.limbs.len() {
            let v = self.limbs[i] as i64 - other.limbs.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (v < 0) as i64;
            self.limbs[i] = v.rem_euclid(1 << 32) as u32;
        }
    }

    /// `self / den` when the quotient fits in 127 bits (binary long
    /// division), and whether a remainder is left.
    fn div_small_quotient(&self, den: &BigUint) -> (u128, bool) {
        let mut rem = BigUint { limbs: Vec::new() };
        let mut quotient = 0u128;
        for i in (0..self.bit_len()).rev() {
            rem.shl(1);
            if self.bit(i) {
                rem.add_small(1);
            }
            quotient <<= 1;
            if rem.cmp(den) != Ordering::Less {
                rem.sub_assign(den);
                quotient |= 1;
            }
        }
        (quotient, rem.limbs.iter().any(|&l| l != 0))
    }

    fn to_decimal(&self) -> String {
        let mut limbs = self.limbs.clone();
        let mut chunks = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = rem << 32 | *limb as u64;
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            chunks.push(rem as u32);
        }
        let mut text = chunks.pop().map_or("0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            text.push_str(&format!("{c:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        let parse = |s: &str| match LongDouble::parse(s.as_bytes()) {
            Some(Parsed::Finite(v)) => v,
            other => panic!("{s}: {other:?}"),
        };
        parse(a).add(parse(b)).unwrap().to_redis_string()
    }

    #[test]
    fn sums_match_redis() {
        // Expected values were taken from Redis 7.0 INCRBYFLOAT replies.
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("1000", "0.1"), "1000.09999999999999998");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("5.6", "5.0e3"), "5005.60000000000000009");
        assert_eq!(sum("9007199254740993", "0"), "9007199254740993");
        assert_eq!(sum("1", "0.333333333333333333"), "1.33333333333333333");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("-0", "0"), "0");
        assert_eq!(sum("0", "1e-20"), "0");
        assert_eq!(
            sum("0", "1.5e300"),
            "1500000000000000000049800109861472166362379239118673928551219718248973529929812708792854310575830930686530644566050229406926646739311017606984258288377434143937602778196710661234655944195770838513268846826150205418632995547271874827072936230594920013241190363994471886080567336615911694509046614720512"
        );
    }

    #[test]
    fn parse_rejects_what_strtold_rejects() {
        for bad in [
            "", " 1", "1 ", "nan", "1e", "e5", ".", "-", "1.2.3", "1e99999", "1e-99999", "0x",
            "0x1p", "0xg",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(b"-INF"), Some(Parsed::Infinite));
        assert_eq!(
            LongDouble::parse(b"0x10"),
            Some(Parsed::Finite(LongDouble::from_i64(16)))
        );
        assert_eq!(
            LongDouble::parse(b"0x1.8p1"),
            Some(Parsed::Finite(LongDouble::from_i64(3)))
        );
        assert!(matches!(
            LongDouble::parse(b"1e400"),
            Some(Parsed::Finite(_))
        ));
        assert!(matches!(
            LongDouble::parse(b"0e99999"),
            Some(Parsed::Finite(_))
        ));
        assert!(
            matches!(LongDouble::parse(b"1e-4940"), Some(Parsed::Finite(_))),
            "subnormal"
        );
        assert_eq!(
            LongDouble::parse(b"1e-4952"),
            None,
            "below the smallest subnormal"
        );
    }
}
