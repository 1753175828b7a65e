//! Bounded file reading, shared by every reader of user-named files (SGF, experiment TOML,
//! checkpoints, DQN replay buffers, IDX datasets, TensorBoard event files).
//!
//! [`read_regular`] reads a file only if it is a regular file (so a path or symlink to
//! `/dev/zero`, a FIFO, a socket or a directory is refused at once instead of hanging or growing
//! without bound) and only up to a size cap, checked before and while reading (a file that grows
//! past the cap while it is read is refused too).

use std::io::{self, Read};
use std::path::Path;

/// Reads `path` whole if it is a regular file of at most `max_bytes` bytes. Symlinks are followed
/// and must end at a regular file. Errors are [`io::Error`]s whose text says what was wrong
/// (`not a regular file (a FIFO)`, `larger than … bytes`); the caller adds the path.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    read_regular_from(path, 0, max_bytes)
}

/// Reads `path` from byte `offset` to its end, under the same rules as [`read_regular`]: a regular
/// file of at most `max_bytes` bytes in all. An offset at or past the end reads nothing. For
/// readers that follow a file as it grows (a live run's event files).
pub fn read_regular_from(path: &Path, offset: u64, max_bytes: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    check_regular(&std::fs::metadata(path)?, max_bytes)?;
    let mut file = std::fs::File::open(path)?;
    // Checked again on the open file, in case the path was swapped in between.
    let meta = file.metadata()?;
    check_regular(&meta, max_bytes)?;
    if offset > 0 {
        io::Seek::seek(&mut file, io::SeekFrom::Start(offset))?;
    }
    let mut out = Vec::with_capacity(meta.len().saturating_sub(offset) as usize);
    file.take((max_bytes + 1).saturating_sub(offset))
        .read_to_end(&mut out)?;
    if offset + out.len() as u64 > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(out)
}

fn check_regular(meta: &std::fs::Metadata, max_bytes: u64) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_of(meta)),
        ));
    }
    if meta.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(())
}

fn too_large(max_bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {} (the limit for this kind of file)",
            bytes(max_bytes)
        ),
    )
}

/// `max_bytes` for people: `64 KiB`, `16 MiB`, `8 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_under_the_cap_only() {
        let dir = std::env::temp_dir().join(format!("ember-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.txt");
        std::fs::write(&f, b"hello").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"hello");
        let e = read_regular(&f, 4).unwrap_err().to_string();
        assert!(e.contains("larger than 4 bytes"), "{e}");
        let e = read_regular(&dir, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = read_regular(Path::new("/dev/zero"), 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(e.contains("a character device"), "{e}");
            let link = dir.join("zero");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let e = read_regular(&link, 1 << 20).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        assert_eq!(bytes(64 << 10), "64 KiB");
        assert_eq!(bytes(8 << 30), "8 GiB");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
