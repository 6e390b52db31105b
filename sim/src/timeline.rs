//! `peek-sim timeline`: a trace as the picture a person wants when a run
//! fails, in the manner of Jepsen's and Maelstrom's Lamport diagrams. One
//! vertical lane per device and per server; time runs down, on an axis of
//! true time; each exchange is a request arrow and an answer arrow with
//! the method, the decoded path, the status and a few words of each body;
//! a lost request or answer ends in an ×, a duplicate is drawn double;
//! local writes, syncs, crashes, partitions, clock jumps and server
//! restarts, backups and restores are marks on their lanes; every row
//! touching a violation's items is highlighted, and every violation is
//! written out in full.
//!
//! HTML is the default (one self-contained page, rows folded so that a
//! trace of hundreds of exchanges can be read a fold at a time, every
//! label also in full in a table); `--format svg` gives the same picture
//! as one SVG. The module only reads traces: writing them (and so their
//! hashes) is `crate::trace`'s.

mod draw;
mod model;
mod page;
mod text;

use std::path::Path;

use crate::session::Session;

pub use model::Picture;

/// What `timeline` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A self-contained page with folds, tooltips and full-text tables.
    Html,
    /// One SVG of the whole trace.
    Svg,
}

impl Format {
    /// `html` or `svg`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "html" => Some(Format::Html),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }

    /// The format an output file's name asks for: `.svg` is SVG, anything
    /// else HTML.
    pub fn of_path(out: &Path) -> Format {
        match out.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("svg") => Format::Svg,
            _ => Format::Html,
        }
    }
}

/// Reads a trace (a session file) and writes its picture; returns the
/// number of exchanges drawn.
pub fn render_file(trace: &Path, out: &Path, format: Format) -> Result<usize, String> {
    let session =
        Session::open(trace).map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
    let (text, n) = render(&session, format);
    std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(n)
}

/// The picture's text and the number of exchanges in it.
pub fn render(session: &Session, format: Format) -> (String, usize) {
    let p = Picture::read(session);
    let text = match format {
        Format::Html => page::html(&p),
        Format::Svg => draw::svg(&p),
    };
    (text, p.exchanges)
}

#[cfg(test)]
mod tests;
