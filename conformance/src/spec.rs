//! Which client a run targets: `reference`, a platform model, or
//! `driver:CMD`, as the command line names it. It sits above both kinds
//! of client (the engine in-process, `crate::client::EngineClient`, and a
//! driver process, `crate::driver::DriverTarget`), so neither module
//! needs to know the other.

use engine::Model;

use crate::client::{Client, ClientError, EngineClient};
use crate::driver::DriverTarget;

/// Which client a run targets (parsed from the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSpec {
    /// The engine with a platform model (`Model::Reference` is the default).
    Engine(Model),
    /// An external client: a shell command speaking the driver protocol.
    Driver(String),
}

impl ClientSpec {
    /// `reference`, a model name, or `driver:CMD`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(cmd) = s.strip_prefix("driver:") {
            return (!cmd.trim().is_empty()).then(|| ClientSpec::Driver(cmd.trim().to_string()));
        }
        Model::parse(s).map(ClientSpec::Engine)
    }

    /// The column label of the matrix and the expectation file's name.
    pub fn label(&self) -> String {
        match self {
            ClientSpec::Engine(m) => m.name().to_string(),
            ClientSpec::Driver(cmd) => format!("driver:{cmd}"),
        }
    }

    /// The name expectation files use: the model's name, or the first
    /// word of a driver's `hello` name (the driver is started to ask).
    pub fn name(&self) -> Result<String, ClientError> {
        Ok(self.describe()?.0)
    }

    /// The name, and for a driver what its `hello` said it was built from
    /// (one line for the matrix: the original's commit and files hash).
    pub fn describe(&self) -> Result<(String, Option<String>), ClientError> {
        match self {
            ClientSpec::Engine(m) => Ok((m.name().to_string(), None)),
            ClientSpec::Driver(cmd) => {
                let home = tempfile::tempdir()
                    .map_err(|e| ClientError::Driver(format!("driver home: {e}")))?;
                let d = sim::driver::DriverClient::spawn(cmd, home.path())?;
                let hello = d.hello();
                let name = hello
                    .name
                    .split_whitespace()
                    .next()
                    .unwrap_or("driver")
                    .to_string();
                let source = hello.source.as_ref().map(|s| {
                    let commit = s.commit.as_deref().unwrap_or("unknown commit");
                    let files = s.files.as_deref().unwrap_or("no files hash");
                    format!(
                        "{}: built from commit {commit}, {} original files, {files}",
                        hello.name,
                        s.paths.len()
                    )
                });
                Ok((name, source))
            }
        }
    }

    /// Clients in another process read the wall clock (plus an offset),
    /// so the scenario's server must keep that time too.
    pub fn wall_clock(&self) -> bool {
        matches!(self, ClientSpec::Driver(_))
    }

    /// A fresh client (its own empty local database); `n` numbers the
    /// devices of one scenario, `home` is the device's directory (a
    /// driver's data and log; the engine keeps its own temp file).
    pub fn open(&self, n: u64, home: &std::path::Path) -> Result<Box<dyn Client>, ClientError> {
        match self {
            ClientSpec::Engine(m) => Ok(Box::new(EngineClient::new(*m, n)?)),
            ClientSpec::Driver(cmd) => Ok(Box::new(DriverTarget::spawn(cmd, home)?)),
        }
    }
}
