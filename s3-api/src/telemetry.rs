//! Logging: `tracing` to stderr, human-readable or JSON, filtered by `RUST_LOG` (default
//! [`DEFAULT_FILTER`]: s3s logs every client error at ERROR level, and rustls warns about every client
//! that sends an IP address as SNI, as pgbackrest does; CloudVault logs each request with its status
//! and its own failures instead).
//!
//! Invariant: one event is one line. Log fields carry what clients send (user names, bucket names,
//! error messages that quote input), so every event passes through [`EscapingWriter`], which escapes
//! control characters wherever they come from: a newline in a sign-in name cannot forge a second log
//! line, and an escape sequence cannot drive an operator's terminal. For the same reason the text
//! format is never coloured (its colour codes would be indistinguishable from a client's).

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The log filter without `RUST_LOG`.
pub const DEFAULT_FILTER: &str = "info,s3s=off,rustls=error";

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(EscapingStderr).with_ansi(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Makes an [`EscapingWriter`] over stderr for each event.
#[derive(Debug, Clone, Copy)]
pub struct EscapingStderr;

impl<'a> MakeWriter<'a> for EscapingStderr {
    type Writer = EscapingWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(std::io::stderr())
    }
}

/// Writes each formatted event (tracing-subscriber hands over a whole event per `write`) with its
/// control characters escaped, except the one newline that ends it.
#[derive(Debug)]
pub struct EscapingWriter<W>(pub W);

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(escape_event(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `event` with every control character (C0 but tab, DEL, C1, and the Unicode line and paragraph
/// separators) written as `\u{..}`, and one trailing newline kept. Invalid UTF-8 is replaced.
pub fn escape_event(event: &[u8]) -> String {
    let text = String::from_utf8_lossy(event);
    let (body, newline) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (&*text, ""),
    };
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        if c != '\t' && (c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out.push_str(newline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_one_line_whatever_its_fields_hold() {
        let forged = "INFO request user=alice\n2026-01-01T00:00:00Z  INFO console sign-in user=root\r\x1b[2J\u{9b}31m\u{2028}x\n";
        let escaped = escape_event(forged.as_bytes());
        assert_eq!(escaped.matches('\n').count(), 1, "{escaped}");
        assert!(escaped.ends_with("x\n"));
        assert!(
            escaped.contains(r"alice\u{a}2026") && escaped.contains(r"\u{d}\u{1b}[2J\u{9b}31m\u{2028}"),
            "{escaped}"
        );
        assert_eq!(escape_event(b"plain\ttext\n"), "plain\ttext\n");
        assert_eq!(escape_event(b"no newline"), "no newline");
        assert_eq!(escape_event(b"bad \xff byte\n"), "bad \u{fffd} byte\n");
    }

    #[test]
    fn the_writer_escapes_what_the_subscriber_formats() {
        let mut sink = EscapingWriter(Vec::new());
        sink.write_all(b"user=a\nb\n").expect("write");
        assert_eq!(String::from_utf8(sink.0).expect("utf8"), "user=a\\u{a}b\n");
    }
}
