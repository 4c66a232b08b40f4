//! A spill file: rows that could not be written to the database, kept on local disk (the
//! [`Fallback`] of a [`Buffer`](super::Buffer); clicks use one).
//!
//! One JSON line per row, appended and fsync'd (`sync_data`) before the rows count as kept;
//! read back at start; rewritten (to a temporary file, fsync'd, renamed) or removed once its
//! rows are in the database. A torn last line (a crash in the middle of an append) is
//! ignored: those rows had not been acknowledged yet. Replaying a row that is already in the
//! database is harmless: the store's replay skips keys it finds there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Fallback;

/// The spill file of one process, of rows of type `T`.
#[derive(Debug)]
pub struct Spill<T> {
    path: PathBuf,
    file: Mutex<Option<File>>,
    rows: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Spill<T> {
    /// A spill file at `path` (created only when something is appended).
    pub fn new(path: impl Into<PathBuf>) -> Spill<T> {
        Spill {
            path: path.into(),
            file: Mutex::new(None),
            rows: PhantomData,
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rows in the file (none when there is no file). Lines that do not parse (a
    /// torn last line) are skipped and counted in the second value.
    pub fn load(&self) -> io::Result<(Vec<T>, usize)> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let mut rows = Vec::new();
        let mut bad = 0;
        for line in BufReader::new(f).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<T>(&line) {
                Ok(r) => rows.push(r),
                Err(_) => bad += 1,
            }
        }
        Ok((rows, bad))
    }

    /// Appends rows and waits until they are on disk.
    pub fn append(&self, rows: &[T]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(rows.len() * 256);
        for r in rows {
            serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        let mut guard = self
            .file
            .lock()
            .map_err(|_| io::Error::other("spill file lock poisoned"))?;
        if guard.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            // A new file's directory entry must be durable too.
            sync_dir(&self.path);
            *guard = Some(f);
        }
        let f = guard
            .as_mut()
            .ok_or_else(|| io::Error::other("spill file not open"))?;
        f.write_all(&buf)?;
        f.sync_data()
    }

    /// Replaces the file's content with `rows` (removes it when empty), atomically.
    pub fn rewrite(&self, rows: &[T]) -> io::Result<()> {
        let mut guard = self
            .file
            .lock()
            .map_err(|_| io::Error::other("spill file lock poisoned"))?;
        *guard = None;
        if rows.is_empty() {
            match fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            sync_dir(&self.path);
            return Ok(());
        }
        let tmp = self.path.with_extension("spill.tmp");
        {
            let mut f = File::create(&tmp)?;
            for r in rows {
                serde_json::to_writer(&mut f, r).map_err(io::Error::other)?;
                f.write_all(b"\n")?;
            }
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path);
        Ok(())
    }
}

impl<T> Fallback<T> for Spill<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn keep(&self, rows: &[T]) -> io::Result<()> {
        self.append(rows)
    }

    fn replace(&self, rows: &[T]) -> io::Result<()> {
        self.rewrite(rows)
    }

    fn load(&self) -> io::Result<(Vec<T>, usize)> {
        Spill::load(self)
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// fsyncs the directory holding `path` (best effort: not every platform allows it).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Row {
        id: String,
        landing_url: Option<String>,
        created_at: i64,
    }

    fn click(id: &str) -> Row {
        Row {
            id: id.into(),
            landing_url: Some("https://a.example/?x=1".into()),
            created_at: 1,
        }
    }

    #[test]
    fn appends_survive_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.spill");
        let s = Spill::<Row>::new(&path);
        assert_eq!(s.load().expect("load").0.len(), 0);
        s.append(&[click("click_a"), click("click_b")])
            .expect("append");
        s.append(&[click("click_c")]).expect("append");
        // A crash in the middle of an append.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"id\":\"click_d\",\"progr").expect("torn");
        let (rows, bad) = Spill::<Row>::new(&path).load().expect("load");
        assert_eq!(rows.len(), 3);
        assert_eq!(bad, 1);
        s.rewrite(&rows[2..]).expect("rewrite");
        assert_eq!(s.load().expect("load").0[0].id, "click_c");
        s.rewrite(&[]).expect("remove");
        assert!(!path.exists());
    }
}
