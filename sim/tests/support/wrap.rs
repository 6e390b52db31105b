//! Wrapping one of a world's servers in a test's planted bug.

use engine::sync::{Request, Response};
use engine::transport::TransportError;
use sim::upstream::{Upstream, UpstreamCaps};
use sim::world::World;

/// Stands in a world's server slot for the instant its real server is
/// moved into the wrapper; never called.
struct Placeholder;

impl Upstream for Placeholder {
    fn call(&self, _: Request) -> Result<Response, TransportError> {
        Err(TransportError::Connect("placeholder".into()))
    }
    fn caps(&self) -> UpstreamCaps {
        UpstreamCaps {
            virtual_clock: true,
            lifecycle: false,
        }
    }
}

/// Replaces server `s` of `w` with `wrap` of it.
pub fn wrap_server(
    w: &mut World,
    s: usize,
    wrap: impl FnOnce(Box<dyn Upstream>) -> Box<dyn Upstream>,
) {
    let real = std::mem::replace(&mut w.servers[s], Box::new(Placeholder));
    w.servers[s] = wrap(real);
}
