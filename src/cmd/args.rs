//! `Args`: a command's arguments as spans over one buffer, so a request parsed
//! from the socket is executed without copying. Queued (MULTI) and scripted
//! commands own their buffer in [`OwnedArgs`] and lend the same view.

use crate::protocol::Span;

use super::CmdError;
use crate::protocol::parse::parse_i64;

#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], spans: &'a [Span]) -> Self {
        Args { buf, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`; 0 is the command name. Panics past the end: the arity
    /// check runs before any handler.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let s = self.spans[i];
        &self.buf[s.start..s.end]
    }

    pub fn get_opt(&self, i: usize) -> Option<&'a [u8]> {
        (i < self.len()).then(|| self.get(i))
    }

    pub fn first(&self) -> Option<&'a [u8]> {
        self.get_opt(0)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans.iter().map(move |s| &buf[s.start..s.end])
    }

    /// Argument `i` as an integer, with Redis's error when it is not one.
    pub fn int(&self, i: usize) -> Result<i64, CmdError> {
        parse_i64(self.get(i)).ok_or(CmdError::NotInteger)
    }

    /// Argument `i` as text, lossily (for option names and messages).
    pub fn str(&self, i: usize) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.get(i))
    }

    /// True when argument `i` equals `word`, ignoring ASCII case.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }

    pub fn to_owned(&self) -> OwnedArgs {
        OwnedArgs::from_iter(self.iter())
    }
}

/// Arguments that own their bytes.
#[derive(Clone, Default, Debug)]
pub struct OwnedArgs {
    buf: Vec<u8>,
    spans: Vec<Span>,
}

impl OwnedArgs {
    pub fn push(&mut self, arg: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(arg);
        self.spans.push(Span {
            start,
            end: self.buf.len(),
        });
    }

    pub fn view(&self) -> Args<'_> {
        Args::new(&self.buf, &self.spans)
    }
}

impl<A: AsRef<[u8]>> FromIterator<A> for OwnedArgs {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        let mut owned = OwnedArgs::default();
        for a in iter {
            owned.push(a.as_ref());
        }
        owned
    }
}
