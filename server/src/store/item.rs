//! The stored item: what reads return and what the list writer turns into
//! JSON. A leaf, so `items` (the write semantics) and `listing` (the list
//! writer) can both use it without importing each other.

/// A stored item with its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub kind: String,
    pub content: Option<String>,
    /// The stored JSON text, `None` when absent or empty.
    pub metadata: Option<String>,
    pub sync_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: i64,
    /// `changeSeq`: the change-feed position of this version.
    pub version: i64,
    /// Edit time of this version (client clock when known, else arrival).
    pub edited_at: i64,
    pub tags: Vec<String>,
}

impl Item {
    pub fn is_live(&self) -> bool {
        self.deleted_at == 0
    }
}
