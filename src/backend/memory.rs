//! An in-memory backend with scripted faults, for unit tests of the write
//! path: a branch of files and a commit log, where a competitor can commit
//! just before a write, a write can lose its answer (before or after it
//! lands), and verification can find the write gone.

use std::collections::BTreeMap;

use super::files::FileSelection;
use super::{Backend, BackendError, Landed, Snapshot, SourceFile, Write};

/// Faults, each consumed one write at a time.
#[derive(Debug, Default)]
pub struct Faults {
    /// Next N writes: a competitor commits (appends a line to the first
    /// file) just before the write is checked.
    pub competitors: usize,
    /// Next N writes: the connection drops before the write is applied.
    pub lost_before: usize,
    /// Next N writes: the write is applied, then the answer is lost.
    pub lost_after: usize,
    /// After the next write: someone reverts it before verification.
    pub revert_after: bool,
}

/// A branch in memory.
#[derive(Debug, Default)]
pub struct Memory {
    /// The files at the head.
    pub files: BTreeMap<String, String>,
    /// Commit messages, oldest first; the head is `c<len>`.
    pub log: Vec<String>,
    /// Scripted faults.
    pub faults: Faults,
    /// Reads made.
    pub reads: usize,
    /// Write requests received (answered or not).
    pub writes: usize,
}

impl Memory {
    /// A branch holding `files` in one commit.
    pub fn new(files: &[(&str, &str)]) -> Memory {
        Memory {
            files: files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
            log: vec!["initial".into()],
            ..Memory::default()
        }
    }

    /// The head commit id.
    pub fn head(&self) -> String {
        format!("c{}", self.log.len())
    }

    fn commit(&mut self, changes: &[(String, String)], message: &str) {
        for (path, text) in changes {
            self.files.insert(path.clone(), text.clone());
        }
        self.log.push(message.to_owned());
    }
}

impl Backend for Memory {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        self.reads += 1;
        Ok(Snapshot {
            head: Some(self.head()),
            files: self
                .files
                .iter()
                .filter(|(p, _)| files.matches(p))
                .map(|(p, t)| SourceFile {
                    path: p.clone(),
                    bytes: t.clone().into_bytes(),
                })
                .collect(),
            problems: Vec::new(),
            ..Snapshot::default()
        })
    }

    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError> {
        self.writes += 1;
        if self.faults.competitors > 0 {
            self.faults.competitors -= 1;
            let (path, text) = self
                .files
                .iter()
                .next()
                .map(|(p, t)| (p.clone(), format!("{t}# competitor\n")))
                .expect("impossible: the memory branch has files");
            self.commit(&[(path, text)], "competitor");
        }
        if self.faults.lost_before > 0 {
            self.faults.lost_before -= 1;
            return Err(lost());
        }
        if at.head.as_deref() != Some(self.head().as_str()) {
            return Err(BackendError::Stale("branch memory".into()));
        }
        let changes: Vec<(String, String)> = write
            .changes
            .iter()
            .map(|c| (c.path.clone(), c.new.clone()))
            .collect();
        self.commit(&changes, &write.message);
        if self.faults.revert_after {
            self.faults.revert_after = false;
            let old: Vec<(String, String)> = write
                .changes
                .iter()
                .map(|c| (c.path.clone(), c.old.clone()))
                .collect();
            self.commit(&old, "revert");
        }
        if self.faults.lost_after > 0 {
            self.faults.lost_after -= 1;
            return Err(lost());
        }
        Ok(Some(format!("c{}", self.log.len())))
    }

    fn landed(&mut self, write: &Write) -> Result<Landed, BackendError> {
        let found = self
            .log
            .iter()
            .position(|m| crate::commit::trailer::id(m).as_deref() == Some(write.id.as_str()));
        Ok(match found {
            Some(i) => Landed::Yes(format!("c{}", i + 1)),
            None => Landed::No {
                head: Some(self.head()),
            },
        })
    }

    fn verify(&mut self, write: &Write, _: Option<&str>) -> Result<Vec<String>, BackendError> {
        Ok(write
            .changes
            .iter()
            .filter(|c| !self.files.get(&c.path).is_some_and(|t| c.held_by(t)))
            .map(|c| format!("{} does not hold the new content", c.path))
            .collect())
    }
}

fn lost() -> BackendError {
    BackendError::Ambiguous {
        what: "commit to memory".into(),
        why: "connection reset".into(),
    }
}
