//! SORT and SORT_RO: sort a list, set or sorted set numerically or
//! lexicographically, optionally by weights and projecting values read from
//! other keys (BY / GET patterns), with LIMIT, and STORE the result as a list.
//!
//! BY and GET patterns name keys derived from the data, which the gate cannot
//! know before the command runs, so both commands lock the whole keyspace
//! (`WHOLE_KEYSPACE`). SORT is a slow command anyway; the simplicity buys
//! atomicity for the pattern lookups.
//!
//! The sorting itself ([`sort_rows`]) works on plain elements with a lookup
//! callback, so it does not depend on how each type stores its elements.

use std::cmp::Ordering;

use super::spec::{CommandSpec, Keys, acl, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, Value};
use crate::server::notify;

const GENERIC: &str = "generic";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM | WHOLE_KEYSPACE, Keys::Custom(sort_keys), sort)
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .movable_range(1, 1, 1)
        .doc(GENERIC, "1.0.0", "Sorts the elements of a list, set or sorted set, optionally storing the result.")
        .complexity("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
    CommandSpec::new("sort_ro", -2, READONLY | WHOLE_KEYSPACE, Keys::Custom(sort_ro_keys), sort_ro)
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .movable_range(1, 1, 1)
        .doc(GENERIC, "7.0.0", "Sorts the elements of a list, set or sorted set without storing the result.")
        .complexity("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
];

const SCORE_ERROR: CmdError =
    CmdError::Msg("ERR One or more scores can't be converted into double");

/// The parsed options. The last ASC/DESC, LIMIT, BY and STORE win; GETs add up.
#[derive(Debug, Default, PartialEq)]
pub struct SortOptions<'a> {
    pub by: Option<&'a [u8]>,
    /// A BY pattern without `*` (e.g. `BY nosort`): keep the natural order.
    pub dont_sort: bool,
    pub limit: Option<(i64, i64)>,
    pub gets: Vec<&'a [u8]>,
    pub desc: bool,
    pub alpha: bool,
    /// Argument index of the STORE destination.
    pub store: Option<usize>,
}

/// Parses the options after the key, in Redis's order of checks: an option
/// missing its arguments is a syntax error, a bad LIMIT number an integer
/// error, and STORE is a syntax error for SORT_RO.
pub fn parse_options<'a>(args: &Args<'a>, readonly: bool) -> Result<SortOptions<'a>, CmdError> {
    let mut opts = SortOptions::default();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        if args.is(j, "asc") {
            opts.desc = false;
        } else if args.is(j, "desc") {
            opts.desc = true;
        } else if args.is(j, "alpha") {
            opts.alpha = true;
        } else if args.is(j, "limit") && left >= 2 {
            opts.limit = Some((args.int(j + 1)?, args.int(j + 2)?));
            j += 2;
        } else if args.is(j, "store") && left >= 1 && !readonly {
            opts.store = Some(j + 1);
            j += 1;
        } else if args.is(j, "by") && left >= 1 {
            let pattern = args.get(j + 1);
            opts.dont_sort |= !pattern.contains(&b'*');
            opts.by = Some(pattern);
            j += 1;
        } else if args.is(j, "get") && left >= 1 {
            opts.gets.push(args.get(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(opts)
}

/// Keys of SORT: the sorted key and the STORE destination, if any.
fn sort_keys(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    out.extend(store_position(args));
}

fn sort_ro_keys(_args: &Args, out: &mut Vec<usize>) {
    out.push(1);
}

/// Where the (last) STORE destination is, skipping the arguments of the
/// other options so that e.g. `GET store` is not mistaken for it.
fn store_position(args: &Args) -> Option<usize> {
    let mut found = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        if args.is(j, "limit") && left >= 2 {
            j += 2;
        } else if (args.is(j, "get") || args.is(j, "by")) && left >= 1 {
            j += 1;
        } else if args.is(j, "store") && left >= 1 {
            found = Some(j + 1);
            j += 1;
        }
        j += 1;
    }
    found
}

/// What a BY or GET pattern refers to for one element.
#[derive(Debug, PartialEq)]
pub enum PatternTarget {
    /// `#`: the element itself.
    Element,
    /// A pattern without `*`: nothing (GET replies nil).
    Nothing,
    /// The string at `key`, or the hash field `key->field`.
    Key {
        key: Vec<u8>,
        field: Option<Vec<u8>>,
    },
}

/// Substitutes `element` for the first `*`. A `->` after the `*` followed
/// by at least one byte names a hash field.
pub fn resolve_pattern(pattern: &[u8], element: &[u8]) -> PatternTarget {
    if pattern == b"#" {
        return PatternTarget::Element;
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return PatternTarget::Nothing;
    };
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len());
    let (suffix, field) = match arrow {
        Some(at) => (&after[..at], Some(after[at + 2..].to_vec())),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(suffix);
    PatternTarget::Key { key, field }
}

/// Reads a pattern's target: a string value, or a hash field; None for a
/// missing key, a key of another type or a missing field.
fn lookup_pattern(db: &mut Db, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    match resolve_pattern(pattern, element) {
        PatternTarget::Element => Some(element.to_vec()),
        PatternTarget::Nothing => None,
        PatternTarget::Key { key, field } => {
            let entry = db.read(&key)?;
            match (&entry.value, field) {
                (Value::Str(s), None) => Some(s.to_vec()),
                (Value::Hash(h), Some(field)) => hash_field(h, &field),
                _ => None,
            }
        }
    }
}

/// `BY`/`GET` patterns with `->field`: the field of a hash, if present.
fn hash_field(hash: &crate::db::hash::Hash, field: &[u8]) -> Option<Vec<u8>> {
    hash.get_with(field, <[u8]>::to_vec)
}

/// How the sorted value orders its elements when no sorting is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    /// Lists and sorted sets: DESC with `BY nosort` walks from the end.
    Ordered,
    /// Sets have no order; with STORE, Redis sorts them ALPHA so that the
    /// stored result does not depend on the set's layout.
    Unordered,
}

/// The elements of the sorted key: None when the key is missing, WRONGTYPE
/// for strings and hashes.
/// Sorted sets give their members in ascending score order.
fn elements_of(value: &Value) -> Result<(Vec<Vec<u8>>, Source), CmdError> {
    match value {
        Value::List(l) => {
            let (mut items, mut elements) = (l.cursor(), Vec::with_capacity(l.len()));
            while let Some(item) = items.next_front() {
                elements.push(item.to_vec());
            }
            Ok((elements, Source::Ordered))
        }
        Value::ZSet(z) => Ok((
            z.entries().into_iter().map(|(m, _)| m).collect(),
            Source::Ordered,
        )),
        Value::Set(s) => {
            let mut scratch = itoa::Buffer::new();
            let mut members = Vec::with_capacity(s.len());
            s.for_each(|m| members.push(m.bytes(&mut scratch).to_vec()));
            Ok((members, Source::Unordered))
        }
        _ => Err(CmdError::WrongType),
    }
}

/// Reads a BY/GET pattern for an element: `lookup(pattern, element)`.
pub type Lookup<'l> = dyn FnMut(&[u8], &[u8]) -> Option<Vec<u8>> + 'l;

/// One element with its sort key.
struct Row {
    element: Vec<u8>,
    /// The BY value (or the element) for ALPHA sorts.
    text: Option<Vec<u8>>,
    /// The numeric weight for numeric sorts.
    score: f64,
}

/// Sorts (or not) the elements, applies LIMIT and projects the GETs. Each
/// output row is one value (nil as None): the element, or one per GET.
pub fn sort_rows(
    mut elements: Vec<Vec<u8>>,
    source: Source,
    opts: &SortOptions,
    lookup: &mut Lookup,
) -> Result<Vec<Option<Vec<u8>>>, CmdError> {
    let (mut dont_sort, mut alpha, mut by) = (opts.dont_sort, opts.alpha, opts.by);
    if dont_sort && source == Source::Unordered && opts.store.is_some() {
        (dont_sort, alpha, by) = (false, true, None);
    }
    if dont_sort {
        if opts.desc && source == Source::Ordered {
            elements.reverse();
        }
    } else {
        elements = sort_elements(elements, alpha, by, opts.desc, lookup)?;
    }
    let (start, end) = limit_range(opts.limit, elements.len());
    let selected = elements.get(start..end).unwrap_or(&[]);
    let mut rows = Vec::with_capacity(selected.len() * opts.gets.len().max(1));
    for element in selected {
        if opts.gets.is_empty() {
            rows.push(Some(element.clone()));
        }
        for pattern in &opts.gets {
            rows.push(lookup(pattern, element));
        }
    }
    Ok(rows)
}

fn sort_elements(
    elements: Vec<Vec<u8>>,
    alpha: bool,
    by: Option<&[u8]>,
    desc: bool,
    lookup: &mut Lookup,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut rows = Vec::with_capacity(elements.len());
    let mut bad_score = false;
    for element in elements {
        let weight = match by {
            Some(pattern) => lookup(pattern, &element),
            None => Some(element.clone()),
        };
        let mut row = Row {
            element,
            text: None,
            score: 0.0,
        };
        if alpha {
            row.text = weight;
        } else if let Some(weight) = weight {
            match sort_score(&weight) {
                Some(score) => row.score = score,
                None => bad_score = true,
            }
        }
        rows.push(row);
    }
    if bad_score {
        return Err(SCORE_ERROR);
    }
    rows.sort_by(|a, b| {
        let order = if alpha {
            // A missing BY value sorts first.
            a.text.cmp(&b.text)
        } else {
            // Equal weights fall back to the elements, so the result is
            // deterministic.
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.element.cmp(&b.element))
        };
        if desc { order.reverse() } else { order }
    });
    Ok(rows.into_iter().map(|r| r.element).collect())
}

/// A weight as SORT reads it with `strtod`: leading spaces are skipped, the
/// empty string is 0 and C's hexadecimal floats are read; trailing bytes,
/// NaN and out-of-range values fail.
fn sort_score(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    let text = &text[start..];
    super::parse::parse_f64_or_hex(text)
}

/// LIMIT offset count as a half-open range over `len` elements: a negative
/// offset counts as 0, a negative count means "to the end".
fn limit_range(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let Some((offset, count)) = limit else {
        return (0, len);
    };
    let len = len as i64;
    let start = offset.max(0);
    if start >= len {
        return (0, 0);
    }
    let end = if count < 0 {
        len
    } else {
        start.saturating_add(count).min(len)
    };
    (start as usize, end as usize)
}

fn sort(ctx: &mut Ctx, args: &Args) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &Args, readonly: bool) -> CmdResult {
    let opts = parse_options(args, readonly)?;
    let (elements, source) = match ctx.db.read(args.get(1)) {
        Some(entry) => elements_of(&entry.value)?,
        None => (Vec::new(), Source::Ordered),
    };
    let db = &mut ctx.db;
    let rows = sort_rows(elements, source, &opts, &mut |pattern, element| {
        lookup_pattern(db, pattern, element)
    })?;
    match opts.store {
        Some(dest) => store(ctx, args.get(dest), rows),
        None => {
            ctx.out.array(rows.len());
            for row in rows {
                match row {
                    Some(value) => ctx.out.bulk(&value),
                    None => ctx.out.null(),
                }
            }
            Ok(())
        }
    }
}

/// STORE: the rows become a list at `dest` (nil as an empty string); an
/// empty result deletes `dest`. Replies with the number of rows.
fn store(ctx: &mut Ctx, dest: &[u8], rows: Vec<Option<Vec<u8>>>) -> CmdResult {
    let stored = rows.len();
    if rows.is_empty() {
        if ctx.db.remove(dest).is_some() {
            ctx.db.notify(notify::GENERIC, "del", dest);
        }
    } else {
        let mut list = crate::db::list::List::default();
        for row in &rows {
            list.push(
                crate::db::list::End::Right,
                row.as_deref().unwrap_or_default(),
            );
        }
        ctx.db.set(dest, Value::List(Box::new(list)));
        ctx.db.notify(notify::LIST, "sortstore", dest);
    }
    ctx.out.int(stored as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cmd::args::OwnedArgs;
    use crate::testkit::TestClient;

    fn options(words: &[&str], readonly: bool) -> Result<SortOptions<'static>, CmdError> {
        let owned: &'static OwnedArgs = Box::leak(Box::new(words.iter().collect()));
        let args: &'static Args<'static> = Box::leak(Box::new(owned.view()));
        parse_options(args, readonly)
    }

    fn bytes(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// Sorts with weights from `store` ("key" or "key->field" → value).
    fn sorted(
        items: &[&str],
        source: Source,
        words: &[&str],
        store: &[(&str, &str)],
    ) -> Result<Vec<Option<String>>, CmdError> {
        let mut cmd = vec!["SORT", "k"];
        cmd.extend_from_slice(words);
        let opts = options(&cmd, false)?;
        let values: HashMap<Vec<u8>, Vec<u8>> = store
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let mut lookup = |pattern: &[u8], element: &[u8]| match resolve_pattern(pattern, element) {
            PatternTarget::Element => Some(element.to_vec()),
            PatternTarget::Nothing => None,
            PatternTarget::Key { mut key, field } => {
                if let Some(f) = field {
                    key.extend_from_slice(b"->");
                    key.extend_from_slice(&f);
                }
                values.get(&key).cloned()
            }
        };
        let rows = sort_rows(bytes(items), source, &opts, &mut lookup)?;
        Ok(rows
            .into_iter()
            .map(|r| r.map(|v| String::from_utf8(v).unwrap()))
            .collect())
    }

    fn some(items: &[&str]) -> Vec<Option<String>> {
        items.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn parses_options_with_last_one_winning() {
        let o = options(
            &[
                "SORT", "k", "desc", "asc", "LIMIT", "0", "-1", "limit", "1", "1",
            ],
            false,
        )
        .unwrap();
        assert!(!o.desc);
        assert_eq!(o.limit, Some((1, 1)));
        let o = options(
            &[
                "SORT", "k", "BY", "nosort", "BY", "w_*", "GET", "#", "GET", "a*", "ALPHA",
                "STORE", "d",
            ],
            false,
        )
        .unwrap();
        assert!(o.dont_sort, "a constant BY pattern anywhere skips sorting");
        assert_eq!(o.by, Some(&b"w_*"[..]));
        assert_eq!(o.gets, vec![&b"#"[..], &b"a*"[..]]);
        assert!(o.alpha);
        assert_eq!(o.store, Some(12));
    }

    #[test]
    fn option_errors() {
        for words in [
            &["SORT", "k", "foo"][..],
            &["SORT", "k", "limit", "1"],
            &["SORT", "k", "by"],
            &["SORT", "k", "get"],
            &["SORT", "k", "store"],
        ] {
            assert_eq!(options(words, false), Err(CmdError::Syntax), "{words:?}");
        }
        assert_eq!(
            options(&["SORT", "k", "limit", "a", "1"], false),
            Err(CmdError::NotInteger)
        );
        assert_eq!(
            options(&["SORT", "k", "limit", "1", "1.5"], false),
            Err(CmdError::NotInteger)
        );
        assert_eq!(
            options(&["SORT_RO", "k", "store", "d"], true),
            Err(CmdError::Syntax)
        );
    }

    #[test]
    fn store_position_skips_option_arguments() {
        let owned: OwnedArgs = [
            "SORT", "k", "GET", "store", "BY", "store", "LIMIT", "store", "store", "STORE", "d",
        ]
        .iter()
        .collect();
        assert_eq!(store_position(&owned.view()), Some(10));
        let owned: OwnedArgs = ["SORT", "k", "STORE", "a", "STORE", "b"].iter().collect();
        assert_eq!(store_position(&owned.view()), Some(5));
        let owned: OwnedArgs = ["SORT", "k", "GET", "store"].iter().collect();
        assert_eq!(store_position(&owned.view()), None);
    }

    #[test]
    fn patterns_substitute_the_first_star() {
        assert_eq!(resolve_pattern(b"#", b"e"), PatternTarget::Element);
        assert_eq!(resolve_pattern(b"nosort", b"e"), PatternTarget::Nothing);
        let key = |k: &str, f: Option<&str>| PatternTarget::Key {
            key: k.as_bytes().to_vec(),
            field: f.map(|f| f.as_bytes().to_vec()),
        };
        assert_eq!(resolve_pattern(b"w_*", b"e"), key("w_e", None));
        assert_eq!(resolve_pattern(b"a*b*c", b"e"), key("aeb*c", None));
        assert_eq!(resolve_pattern(b"h_*->f", b"e"), key("h_e", Some("f")));
        assert_eq!(resolve_pattern(b"h_*->", b"e"), key("h_e->", None));
        assert_eq!(
            resolve_pattern(b"h_*x->f->g", b"e"),
            key("h_ex", Some("f->g"))
        );
        assert_eq!(resolve_pattern(b"h->f_*", b"e"), key("h->f_e", None));
    }

    #[test]
    fn numeric_alpha_and_desc() {
        let items = ["10", "9", "2.5", "-1", "1e1"];
        assert_eq!(
            sorted(&items, Source::Ordered, &[], &[]).unwrap(),
            some(&["-1", "2.5", "9", "10", "1e1"])
        );
        assert_eq!(
            sorted(&items, Source::Ordered, &["DESC"], &[]).unwrap(),
            some(&["1e1", "10", "9", "2.5", "-1"])
        );
        assert_eq!(
            sorted(&items, Source::Ordered, &["ALPHA"], &[]).unwrap(),
            some(&["-1", "10", "1e1", "2.5", "9"])
        );
        assert_eq!(
            sorted(&["a", "1"], Source::Ordered, &[], &[]),
            Err(SCORE_ERROR)
        );
        assert_eq!(
            sorted(&["", " 3", "2"], Source::Ordered, &[], &[]).unwrap(),
            some(&["", "2", " 3"])
        );
        assert_eq!(
            sorted(&["3 ", "2"], Source::Ordered, &[], &[]),
            Err(SCORE_ERROR)
        );
    }

    #[test]
    fn limit_windows() {
        let items = ["1", "2", "3", "4", "5"];
        let s = |w: &[&str]| sorted(&items, Source::Ordered, w, &[]).unwrap();
        assert_eq!(s(&["LIMIT", "1", "2"]), some(&["2", "3"]));
        assert_eq!(s(&["LIMIT", "-5", "2"]), some(&["1", "2"]));
        assert_eq!(s(&["LIMIT", "3", "-1"]), some(&["4", "5"]));
        assert_eq!(s(&["LIMIT", "5", "1"]), some(&[]));
        assert_eq!(s(&["LIMIT", "2", "0"]), some(&[]));
        assert_eq!(s(&["LIMIT", "4", "9223372036854775807"]), some(&["5"]));
        assert_eq!(s(&["DESC", "LIMIT", "0", "2"]), some(&["5", "4"]));
    }

    #[test]
    fn by_weights_and_gets() {
        let store = [
            ("w_a", "3"),
            ("w_b", "1"),
            ("w_c", "2"),
            ("v_a", "A"),
            ("h_b->f", "HB"),
        ];
        let items = ["a", "b", "c"];
        assert_eq!(
            sorted(&items, Source::Ordered, &["BY", "w_*"], &store).unwrap(),
            some(&["b", "c", "a"])
        );
        // A missing weight counts as 0 (numeric) or sorts first (ALPHA).
        assert_eq!(
            sorted(&["a", "z", "b"], Source::Ordered, &["BY", "w_*"], &store).unwrap(),
            some(&["z", "b", "a"])
        );
        assert_eq!(
            sorted(
                &["a", "z", "b"],
                Source::Ordered,
                &["BY", "w_*", "ALPHA", "DESC"],
                &store
            )
            .unwrap(),
            some(&["a", "b", "z"])
        );
        assert_eq!(
            sorted(
                &items,
                Source::Ordered,
                &[
                    "BY", "w_*", "GET", "#", "GET", "v_*", "GET", "h_*->f", "GET", "const"
                ],
                &store
            )
            .unwrap(),
            vec![
                Some("b".into()),
                None,
                Some("HB".into()),
                None,
                Some("c".into()),
                None,
                None,
                None,
                Some("a".into()),
                Some("A".into()),
                None,
                None
            ]
        );
        assert_eq!(
            sorted(&items, Source::Ordered, &["BY", "v_*"], &store),
            Err(SCORE_ERROR)
        );
    }

    #[test]
    fn nosort_keeps_order_and_sets_sort_alpha_when_stored() {
        let items = ["3", "1", "2"];
        assert_eq!(
            sorted(&items, Source::Ordered, &["BY", "nosort"], &[]).unwrap(),
            some(&["3", "1", "2"])
        );
        assert_eq!(
            sorted(
                &items,
                Source::Ordered,
                &["BY", "nosort", "DESC", "LIMIT", "0", "2"],
                &[]
            )
            .unwrap(),
            some(&["2", "1"])
        );
        assert_eq!(
            sorted(&items, Source::Unordered, &["BY", "nosort", "DESC"], &[]).unwrap(),
            some(&["3", "1", "2"])
        );
        assert_eq!(
            sorted(
                &["b", "c", "a"],
                Source::Unordered,
                &["BY", "nosort", "STORE", "d"],
                &[]
            )
            .unwrap(),
            some(&["a", "b", "c"])
        );
    }

    #[test]
    fn commands_on_missing_and_wrong_keys() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["SORT", "nokey"]), "*0\r\n");
        assert_eq!(
            t.run(&["SORT_RO", "nokey", "BY", "w_*", "GET", "#"]),
            "*0\r\n"
        );
        t.run(&["SET", "s", "x"]);
        assert_eq!(
            t.run(&["SORT", "s"]),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
        assert_eq!(t.run(&["SORT", "s", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["SORT", "s", "LIMIT", "x", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["SORT_RO", "nokey", "STORE", "s"]),
            "-ERR syntax error\r\n"
        );
        // An empty result deletes the destination.
        assert_eq!(t.run(&["SORT", "nokey", "STORE", "s"]), ":0\r\n");
        assert_eq!(t.run(&["GET", "s"]), "$-1\r\n");
    }

    #[test]
    fn command_info_matches_redis() {
        let mut t = TestClient::new();
        let info = t.run(&["COMMAND", "INFO", "sort"]);
        assert!(info.starts_with("*1\r\n*10\r\n$4\r\nsort\r\n:-2\r\n*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n:1\r\n:1\r\n:1\r\n"), "{info}");
        assert_eq!(
            t.run(&[
                "COMMAND", "GETKEYS", "SORT", "k", "GET", "store", "STORE", "d"
            ]),
            "*2\r\n$1\r\nk\r\n$1\r\nd\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "SORT_RO", "k", "BY", "x"]),
            "*1\r\n$1\r\nk\r\n"
        );
    }

    /// Replies Redis 7.0 gave for the same data (tests/diff/sort.txt).
    #[test]
    fn list_cases_recorded_from_redis() {
        let l = ["10", "9", "2.5", "-1", "1e1", "+3", "0x10"];
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &["-1", "2.5", "+3", "9", "10", "1e1", "0x10"]),
            (&["DESC"], &["0x10", "1e1", "10", "9", "+3", "2.5", "-1"]),
            (&["ALPHA"], &["+3", "-1", "0x10", "10", "1e1", "2.5", "9"]),
            (
                &["ALPHA", "DESC"],
                &["9", "2.5", "1e1", "10", "0x10", "-1", "+3"],
            ),
            (&["LIMIT", "1", "2"], &["2.5", "+3"]),
            (&["LIMIT", "3", "-1"], &["9", "10", "1e1", "0x10"]),
            (
                &["LIMIT", "4", "9223372036854775807"],
                &["10", "1e1", "0x10"],
            ),
            (
                &["BY", "nosort", "DESC"],
                &["0x10", "+3", "1e1", "-1", "2.5", "9", "10"],
            ),
            (&["BY", "nosort", "DESC", "LIMIT", "1", "2"], &["+3", "1e1"]),
            (&["BY", "#"], &["10", "9", "2.5", "-1", "1e1", "+3", "0x10"]),
        ];
        for (words, expected) in cases {
            assert_eq!(
                sorted(&l, Source::Ordered, words, &[]).unwrap(),
                some(expected),
                "{words:?}"
            );
        }
        let inf = ["inf", "-inf", "1", "+inf"];
        assert_eq!(
            sorted(&inf, Source::Ordered, &[], &[]).unwrap(),
            some(&["-inf", "1", "+inf", "inf"])
        );
        let ties = ["1.0", "1", "01", "1e0"];
        assert_eq!(
            sorted(&ties, Source::Ordered, &["DESC"], &[]).unwrap(),
            some(&["1e0", "1.0", "1", "01"])
        );
        assert_eq!(
            sorted(&["", " 3", "2", "\t1"], Source::Ordered, &[], &[]).unwrap(),
            some(&["", "\t1", "2", " 3"])
        );
    }

    #[test]
    fn pattern_cases_recorded_from_redis() {
        let store = [
            ("w_a", "3"),
            ("w_b", "1"),
            ("w_c", "2"),
            ("v_a", "A"),
            ("v_b", "B"),
            ("v_c", "C"),
            ("h_a->f", "ha"),
            ("h_a->w", "30"),
            ("h_b->f", "hb"),
            ("h_b->w", "10"),
            ("h_c->w", "20"),
            ("h_d->f", "hd"),
            ("x_a_y", "1"),
            ("x_b_y", "3"),
            ("x_c_y", "2"),
            ("x_d_y", "0"),
        ];
        let items = ["a", "b", "c", "d"];
        let s = |words: &[&str]| sorted(&items, Source::Ordered, words, &store);
        assert_eq!(s(&["BY", "w_*"]).unwrap(), some(&["d", "b", "c", "a"]));
        assert_eq!(
            s(&["BY", "w_*", "ALPHA", "DESC"]).unwrap(),
            some(&["a", "c", "b", "d"])
        );
        assert_eq!(s(&["BY", "h_*->w"]).unwrap(), some(&["d", "b", "c", "a"]));
        assert_eq!(
            s(&["BY", "h_*->w", "DESC", "GET", "#", "GET", "h_*->f"]).unwrap(),
            vec![
                Some("a".into()),
                Some("ha".into()),
                Some("c".into()),
                None,
                Some("b".into()),
                Some("hb".into()),
                Some("d".into()),
                Some("hd".into())
            ]
        );
        assert_eq!(
            s(&["BY", "nosort", "GET", "v_*"]).unwrap(),
            vec![Some("A".into()), Some("B".into()), Some("C".into()), None]
        );
        assert_eq!(s(&["BY", "w_nosuch"]).unwrap(), some(&["a", "b", "c", "d"]));
        assert_eq!(s(&["BY", "v_*"]), Err(SCORE_ERROR));
        assert_eq!(
            s(&["BY", "v_*", "ALPHA"]).unwrap(),
            some(&["d", "a", "b", "c"])
        );
        assert_eq!(
            s(&["BY", "h_*->f", "ALPHA"]).unwrap(),
            some(&["c", "a", "b", "d"])
        );
        assert_eq!(s(&["BY", "x_*_y"]).unwrap(), some(&["d", "a", "c", "b"]));
        assert_eq!(s(&["BY", "x_*_*_y"]).unwrap(), some(&["a", "b", "c", "d"]));
        assert_eq!(
            s(&["ALPHA", "GET", "x_*_y"]).unwrap(),
            some(&["1", "3", "2", "0"])
        );
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Numeric and ALPHA sorts with LIMIT against a plain Vec sort.
            #[test]
            fn sort_matches_vec_model(
                numbers in proptest::collection::vec(-50i64..50, 0..30),
                desc: bool,
                alpha: bool,
                limit in proptest::option::of((-3i64..35, -2i64..35)),
            ) {
                let items: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
                let mut words: Vec<String> = Vec::new();
                if desc { words.push("DESC".into()); }
                if alpha { words.push("ALPHA".into()); }
                if let Some((offset, count)) = limit {
                    words.extend(["LIMIT".into(), offset.to_string(), count.to_string()]);
                }
                let item_refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
                let word_refs: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
                let got = sorted(&item_refs, Source::Ordered, &word_refs, &[]).unwrap();

                let mut model = items.clone();
                if alpha {
                    model.sort();
                } else {
                    model.sort_by_key(|s| (s.parse::<i64>().unwrap(), s.clone()));
                }
                if desc { model.reverse(); }
                if let Some((offset, count)) = limit {
                    let start = offset.max(0) as usize;
                    let take = if count < 0 { usize::MAX } else { count as usize };
                    model = model.into_iter().skip(start).take(take).collect();
                }
                prop_assert_eq!(got, model.into_iter().map(Some).collect::<Vec<_>>());
            }
        }
    }
}
