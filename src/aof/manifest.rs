//! The multi-part AOF manifest, in Redis 7's format: one line per file,
//! `file <name> seq <n> type <b|h|i>`, the base first, then history, then
//! the incremental files in the order they are replayed. It is replaced
//! atomically (temp file, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new list of files.

use std::io::Write;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Base,
    History,
    Incr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub history: Vec<FileEntry>,
    pub incrs: Vec<FileEntry>,
}

impl Manifest {
    /// Parses a manifest; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut manifest = Manifest::default();
        let mut last_incr_seq = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |why: &str| format!("Invalid AOF manifest file format (line {}: {why})", n + 1);
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            if words.len() % 2 != 0 || words.len() < 6 {
                return Err(bad("expected 'file <name> seq <n> type <b|h|i>'"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair[0] {
                    "file" => name = Some(pair[1].to_string()),
                    "seq" => seq = Some(pair[1].parse::<u64>().map_err(|_| bad("bad seq"))?),
                    "type" => {
                        kind = Some(match pair[1] {
                            "b" => Kind::Base,
                            "h" => Kind::History,
                            "i" => Kind::Incr,
                            _ => return Err(bad("unknown file type")),
                        })
                    }
                    _ => {} // Redis ignores keys it does not know
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("missing file, seq or type"));
            };
            if name.contains('/') || name.is_empty() {
                return Err(bad("file names may not contain '/'"));
            }
            let entry = FileEntry { name, seq, kind };
            match kind {
                Kind::Base if manifest.base.is_some() => {
                    return Err(bad("more than one base file"));
                }
                Kind::Base => manifest.base = Some(entry),
                Kind::History => manifest.history.push(entry),
                Kind::Incr => {
                    if seq <= last_incr_seq {
                        return Err(bad("incr file sequence numbers must increase"));
                    }
                    last_incr_seq = seq;
                    manifest.incrs.push(entry);
                }
            }
        }
        if manifest.base.is_none() && manifest.incrs.is_empty() {
            return Err("Invalid AOF manifest file format (no base and no incr file)".into());
        }
        Ok(manifest)
    }

    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in files {
            let kind = match f.kind {
                Kind::Base => "b",
                Kind::History => "h",
                Kind::Incr => "i",
            };
            text.push_str(&format!("file {} seq {} type {kind}\n", f.name, f.seq));
        }
        text
    }

    /// Files to replay, in order.
    pub fn replay_order(&self) -> impl Iterator<Item = &FileEntry> {
        self.base.iter().chain(&self.incrs)
    }

    pub fn next_base(&self, prefix: &str) -> FileEntry {
        let seq = self.base.as_ref().map_or(0, |b| b.seq) + 1;
        FileEntry {
            name: format!("{prefix}.{seq}.base.aof"),
            seq,
            kind: Kind::Base,
        }
    }

    pub fn next_incr(&self, prefix: &str) -> FileEntry {
        let seq = self.incrs.last().map_or(0, |i| i.seq) + 1;
        FileEntry {
            name: format!("{prefix}.{seq}.incr.aof"),
            seq,
            kind: Kind::Incr,
        }
    }

    /// Every file named.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.base
            .iter()
            .chain(&self.history)
            .chain(&self.incrs)
            .map(|f| f.name.as_str())
    }
}

/// Replaces `dir/name` with `contents` atomically and durably.
pub fn write_atomically(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!("temp-{name}"));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, dir.join(name))?;
    sync_dir(dir)
}

/// Makes renames and new files in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_format() {
        let text = "file appendonly.aof.1.base.aof seq 1 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.to_text(), text);
        assert_eq!(
            m.next_base("appendonly.aof").name,
            "appendonly.aof.2.base.aof"
        );
        assert_eq!(
            m.next_incr("appendonly.aof").name,
            "appendonly.aof.3.incr.aof"
        );
        assert_eq!(m.replay_order().count(), 3);
    }

    #[test]
    fn refuses_corruption() {
        for bad in [
            "garbage\n",
            "file a seq x type b\n",
            "file a seq 1 type z\n",
            "",
            "file a seq 1 type b\nfile b seq 2 type b\n",
            "file ../x seq 1 type i\n",
        ] {
            assert!(
                Manifest::parse(bad)
                    .unwrap_err()
                    .starts_with("Invalid AOF manifest")
            );
        }
    }
}
