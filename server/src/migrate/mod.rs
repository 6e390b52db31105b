//! Legacy data-directory and schema migrations (§2.4, §2.5).
pub mod data_dir;
pub mod schema;
