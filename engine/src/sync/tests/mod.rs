//! `SyncSession` in one thread against canned answers ([`script`]), no
//! server: the edge cases of each of the seven guarantees (named in
//! `sync/mod.rs`), one module per guarantee. Each test states the whole
//! exchange, so a rule that breaks shows as a request too many (an echo,
//! a push that should have been held back), a path with the wrong cursor,
//! or a local state that lost or resurrected something.

mod script;

mod conflict_rule;
mod cursor_completeness;
mod identity;
mod no_echo;
mod no_lost_write;
mod no_resurrection;
mod server_switch;
mod version_gate;
