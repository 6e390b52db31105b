//! The rule for names that become path components (user ids, profile ids,
//! backup folders): a leaf, because the stores, the system database and
//! backups all check names and must not import each other for it.

/// A single path component that cannot climb out of its parent.
pub fn is_safe_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}
