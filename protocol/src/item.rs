//! What an item is on the wire: its type names, as every client generation
//! and the server spell them.

use std::fmt;

/// The four item types (`docs/original-system.md`, "Items").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    Url,
    Text,
    Tagset,
    Image,
}

/// The server's message for a missing or unknown type, word for word as the
/// original server answers it (clients show it to users).
pub const TYPE_ERROR: &str = "type must be 'url', 'text', 'tagset', or 'image'";

impl ItemType {
    /// Every type, in the order the original lists them.
    pub const ALL: [ItemType; 4] = [Self::Url, Self::Text, Self::Tagset, Self::Image];

    /// The server's strict reading: exactly the four wire names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A client's lenient reading of what a server or an older device sent:
    /// also mobile's `page`, which is a url.
    pub fn parse_lenient(s: &str) -> Option<Self> {
        match s {
            "page" => Some(Self::Url),
            other => Self::parse(other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Text => "text",
            Self::Tagset => "tagset",
            Self::Image => "image",
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_page_is_only_lenient() {
        for t in ItemType::ALL {
            assert_eq!(ItemType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(ItemType::parse("page"), None);
        assert_eq!(ItemType::parse_lenient("page"), Some(ItemType::Url));
        assert_eq!(ItemType::parse("URL"), None);
        assert_eq!(ItemType::parse_lenient("note"), None);
    }
}
