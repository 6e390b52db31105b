//! Legacy data-directory and schema migrations (§2.4, §2.5).
//!
//! * [`schema`]: a per-profile database to the canonical schema of §2.3,
//!   run by [`crate::store::schema::ensure`] whenever a connection opens.
pub mod schema;
mod schema_spec;
mod schema_values;
