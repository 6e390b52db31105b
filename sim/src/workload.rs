//! The workload's data: what a created item holds, what an edit changes,
//! and how items are named. One definition for every device, in-process or
//! external, so a workload change is made once. An item's origin is chosen
//! here when it is created and carried as data (its metadata, and the
//! write oracle's log), never parsed back from its content.

use engine::model::ItemType;
use serde_json::json;

use crate::event::Kind;

/// A local item to create: everything a device needs, nothing it must
/// derive.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The item's identity in the world's oracle (`d0-c3`).
    pub origin: String,
    pub kind: ItemType,
    pub content: Option<String>,
    pub tags: Vec<String>,
    /// The item's metadata as JSON text (`{"origin": …}`): how the origin
    /// travels to servers and other devices.
    pub metadata: String,
    /// Image bytes (`content` is then the file name).
    pub blob: Option<Vec<u8>>,
}

/// A local edit: `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// The origin of a device's `n`-th created item.
pub fn origin(device: &str, n: u64) -> String {
    format!("{device}-c{n}")
}

/// The mark of a device's `n`-th edit.
pub fn edit_mark(device: &str, n: u64) -> String {
    format!("{device}-e{n}")
}

/// The body of the 64 KiB text item of `CreateLarge`.
pub fn large_body() -> String {
    "0123456789abcdef".repeat(4 * 1024)
}

/// The body two devices create identically (`CreateSame`), `n`-th time.
pub fn shared_body(n: u64) -> String {
    format!("shared-{n}")
}

/// A created item of `kind` for `origin`. `body` replaces the unique part
/// of its content (and tagset tag) when two devices must create the same
/// thing; `unicode` adds non-ASCII text.
pub fn create(
    origin: &str,
    kind: Kind,
    tags: &[String],
    unicode: bool,
    body: Option<&str>,
) -> NewItem {
    let unique = body.unwrap_or(origin);
    let flair = if unicode {
        " 🌍 日本語\tΕλληνικά"
    } else {
        ""
    };
    let short: String = unique.chars().take(40).collect();
    let mut tags = tags.to_vec();
    let (kind, content) = match kind {
        Kind::Url => (
            ItemType::Url,
            Some(format!("https://example.com/{unique}?q=1")),
        ),
        Kind::Text => (ItemType::Text, Some(format!("note {unique}{flair}"))),
        Kind::Tagset => {
            tags.push(format!("set-{short}"));
            (ItemType::Tagset, None)
        }
        Kind::Image => (ItemType::Image, Some(format!("{short}.png"))),
    };
    // An image's bytes: the PNG signature, then what makes it unique.
    let blob = (kind == ItemType::Image).then(|| {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend_from_slice(unique.as_bytes());
        b
    });
    let metadata = match kind {
        ItemType::Image => json!({ "origin": origin, "mime": "image/png" }),
        _ => json!({ "origin": origin }),
    };
    NewItem {
        origin: origin.to_string(),
        kind,
        content,
        tags,
        metadata: metadata.to_string(),
        blob,
    }
}

/// The edit a device makes to an item (`mark`: [`edit_mark`]): a tagset
/// gets a new set tag, anything else its content's base plus the mark.
pub fn edit(kind: ItemType, content: Option<&str>, mark: &str) -> Change {
    if kind == ItemType::Tagset {
        Change {
            tags: Some(vec![format!("set-{mark}")]),
            ..Change::default()
        }
    } else {
        let base = content
            .unwrap_or_default()
            .split(" ~")
            .next()
            .unwrap_or_default();
        Change {
            content: Some(format!("{base} ~{mark}")),
            ..Change::default()
        }
    }
}

/// The origin recorded in an item's metadata, if any.
pub fn origin_in(metadata: Option<&str>) -> Option<String> {
    metadata
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|m| m.get("origin").and_then(|o| o.as_str()).map(str::to_string))
}

/// A server item's tags, sorted (tags are a set).
pub fn tags_of(item: &serde_json::Value) -> Vec<String> {
    let mut tags: Vec<String> = item["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_travels_as_metadata_not_content() {
        let it = create("d0-c1", Kind::Url, &[], false, Some("shared-1"));
        assert_eq!(
            it.content.as_deref(),
            Some("https://example.com/shared-1?q=1")
        );
        assert_eq!(origin_in(Some(&it.metadata)).as_deref(), Some("d0-c1"));
        let set = create("d1-c2", Kind::Tagset, &["work".into()], false, None);
        assert_eq!(set.tags, ["work", "set-d1-c2"]);
        assert_eq!(set.content, None);
        let img = create("d1-c3", Kind::Image, &[], false, None);
        assert!(img.blob.as_ref().unwrap().starts_with(b"\x89PNG"));
        let e = edit(ItemType::Url, it.content.as_deref(), "d0-e1");
        let again = edit(ItemType::Url, e.content.as_deref(), "d0-e2");
        assert_eq!(
            again.content.as_deref(),
            Some("https://example.com/shared-1?q=1 ~d0-e2")
        );
        assert_eq!(
            edit(ItemType::Tagset, None, "d0-e3").tags,
            Some(vec!["set-d0-e3".to_string()])
        );
    }
}
