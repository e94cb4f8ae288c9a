//! The wire protocol, knowing nothing of the server: request decoding
//! ([`parse`]) and reply encoding ([`reply`]).

pub mod parse;
pub mod reply;

pub use parse::{Limits, Parsed, ProtocolError, Span, parse_request};
pub use reply::Reply;
