//! The RDB format, version 10 (Redis 7.0): [`codec`] has the primitives,
//! [`write`] serialises values and files, [`read`] loads them back.

pub mod codec;
pub mod read;
pub mod stream;
pub mod write;
