//! Legacy data-directory and schema migrations (§2.4, §2.5).
//!
//! * [`schema`]: a per-profile database to the canonical schema of §2.3,
//!   run by [`crate::store::schema::ensure`] whenever a connection opens.
//!
//! `migrate` stands on `store` (it knows the canonical shape from
//! [`crate::store::schema`]); `store` never imports `migrate`: the legacy
//! upgrade reaches the store as a function, wired in `AppState::open`.
//! * [`data_dir`]: the startup steps 2–4 of §2.5 (legacy API key, legacy
//!   `peek.db` to a profile, slug folders to UUID folders).
pub mod data_dir;
pub mod schema;
mod schema_spec;
mod schema_values;
