//! Legacy migrations (§2.4 schema shapes (a)–(e), §2.5 steps 2–4, D17,
//! D24). Every fixture is built here with raw SQL; nothing binary.

mod data_dir;
mod helpers;
mod schema;
