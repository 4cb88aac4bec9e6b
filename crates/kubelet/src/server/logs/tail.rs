//! Where the last `n` lines of a file start, found by reading backwards from its end (an
//! unterminated last line does not count as a line).

use std::io::SeekFrom;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

const BLOCK: u64 = 8 * 1024;

/// The offset of the start of the last `n` complete lines of `file` (0 when it has fewer).
pub async fn start_of_last_lines<F>(file: &mut F, n: u64) -> std::io::Result<u64>
where
    F: AsyncRead + AsyncSeek + Unpin,
{
    let size = file.seek(SeekFrom::End(0)).await?;
    // The start is just past the (n+1)-th newline from the end.
    let mut newlines = 0u64;
    let mut end = size;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let len = (end - start) as usize;
        file.seek(SeekFrom::Start(start)).await?;
        file.read_exact(&mut buf[..len]).await?;
        for i in (0..len).rev() {
            if buf[i] == b'\n' {
                newlines += 1;
                if newlines == n + 1 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(content: &[u8], n: u64) -> u64 {
        let mut c = std::io::Cursor::new(content.to_vec());
        start_of_last_lines(&mut c, n).await.unwrap()
    }

    #[tokio::test]
    async fn counts_complete_lines_from_the_end() {
        assert_eq!(start(b"a\nb\nc\n", 2).await, 2);
        assert_eq!(start(b"a\nb\nc\n", 0).await, 6);
        assert_eq!(start(b"a\nb\nc\n", 3).await, 0);
        assert_eq!(start(b"a\nb\nc\n", 10).await, 0);
        assert_eq!(start(b"a\nb\npartial", 1).await, 2);
        assert_eq!(start(b"", 1).await, 0);
        let long: Vec<u8> = (0..3000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let at = start(&long, 1).await as usize;
        assert_eq!(&long[at..], b"line 2999\n");
    }
}
