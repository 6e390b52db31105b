//! One error type for the engine. A sync that stops returns one of these;
//! nothing is half-applied, because every state change is one transaction.

use protocol::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("local database: {0}")]
    Db(#[from] rusqlite::Error),
    /// `Store::open` on a file that is not a peek-sync store: refused
    /// before anything was written to it, so pointing `--db` at a server's
    /// `system.db` by mistake changes nothing (`store::recognize`).
    #[error("{path} is not a peek-sync database: {what}; it was left unchanged")]
    ForeignDatabase {
        path: String,
        what: crate::store::recognize::Foreign,
    },
    /// §1.1: a 409 or a version header/body that is not ours. The sync
    /// stops before applying anything from that response.
    #[error("version mismatch: {0}")]
    VersionMismatch(String),
    #[error("server error {status}: {body}")]
    Server { status: u16, body: String },
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    #[error("malformed server response: {0}")]
    Malformed(String),
    #[error("not configured: {0}")]
    NotConfigured(String),
    #[error("no such item: {0}")]
    NoSuchItem(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl From<protocol::NotJson> for Error {
    fn from(e: protocol::NotJson) -> Self {
        Error::Malformed(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
