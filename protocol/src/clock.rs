//! Time and identity sources, injected so that the server, the engine and
//! the simulator are deterministic (brief: "Determinism is a feature").
//!
//! Nothing else in the workspace's logic reads the wall clock or the OS
//! RNG: handlers, the store, the migrations and the engine's sync machine
//! all take `&dyn Clock` / `&dyn IdSource`. [`SystemClock`] and [`OsIds`]
//! are the production implementations and the only places that touch the
//! OS (`clippy.toml` forbids the OS calls everywhere else).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// A source of "now" in Unix epoch milliseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// A source of fresh identifiers and secrets.
pub trait IdSource: Send + Sync + 'static {
    /// Fills `buf` with unpredictable (or, in tests, seeded) bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A lower-case UUID v4 string, the format the Node server used for
    /// item, tag and profile ids (§1.3).
    fn uuid(&self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        uuid::Builder::from_random_bytes(b)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// A new API key: 32 random bytes as 64 hex characters, as §2.2.
    fn api_key(&self) -> String {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        hex::encode(b)
    }
}

/// The wall clock. Production only.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one production wall clock
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to: tests and the simulator.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self(AtomicI64::new(start_ms))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Ids from the operating system's RNG. Production only.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsIds;

impl IdSource for OsIds {
    #[allow(clippy::disallowed_methods)] // the one production RNG
    fn fill(&self, buf: &mut [u8]) {
        // getrandom only fails on platforms without an entropy source; there
        // is no meaningful way to continue, and this never happens on Linux.
        getrandom::fill(buf).expect("OS random source unavailable");
    }
}

/// Deterministic ids from a seed (SplitMix64): same seed, same ids.
#[derive(Debug)]
pub struct SeededIds(Mutex<u64>);

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(seed))
    }
}

impl IdSource for SeededIds {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_repeat_for_the_same_seed_and_differ_across_seeds() {
        let a = SeededIds::new(7);
        let b = SeededIds::new(7);
        let c = SeededIds::new(8);
        let (ua, ub, uc) = (a.uuid(), b.uuid(), c.uuid());
        assert_eq!(ua, ub);
        assert_ne!(ua, uc);
        assert_eq!(ua.len(), 36);
        assert_eq!(&ua[14..15], "4", "UUID version nibble must be 4");
        assert_ne!(a.uuid(), ua, "consecutive ids differ");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(5);
        assert_eq!(c.now_ms(), 1_005);
        c.set(-3);
        assert_eq!(c.now_ms(), -3);
    }
}
