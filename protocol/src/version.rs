//! Protocol versions and the header names that carry them and the client's
//! identity. Server and client read the same constants, so a bump is one
//! edit and a typo in a header name is a compile error.

/// `X-Peek-Datastore-Version` spoken by this project's server and client.
/// Stays 1: every extension is additive and advertised in `GET /`
/// `features` (`docs/protocol.md`).
pub const DATASTORE_VERSION: i64 = 1;
/// `X-Peek-Protocol-Version` spoken by this project's server and client.
pub const PROTOCOL_VERSION: i64 = 1;

/// Header names, lower case as HTTP/2 and the `http` crate want them (HTTP
/// header names are case-insensitive on the wire).
pub mod header {
    pub const DATASTORE_VERSION: &str = "x-peek-datastore-version";
    pub const PROTOCOL_VERSION: &str = "x-peek-protocol-version";
    /// Which client generation sent a request (`peek-sync-rs`, …).
    pub const CLIENT: &str = "x-peek-client";
    /// Which device of a recording sent a request (the recording proxy
    /// labels exchanges by it).
    pub const DEVICE: &str = "x-peek-device";
}
