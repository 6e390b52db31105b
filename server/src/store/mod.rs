//! Storage: `system.db` and the per-profile datastores, behind plain
//! functions on a connection or transaction. The HTTP layer never writes
//! SQL; these modules never see HTTP: they fail with
//! [`error::StoreError`], which `crate::error` maps to responses.
pub mod datastore;
pub mod dedup;
pub mod error;
pub mod images;
pub mod item;
pub mod items;
pub mod listing;
pub mod names;
pub mod schema;
pub mod system;
pub mod tags;
pub(crate) mod txn;
pub mod writer;
