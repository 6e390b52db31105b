//! Storage: `system.db` and the per-profile datastores.
pub mod schema;
pub mod system;
