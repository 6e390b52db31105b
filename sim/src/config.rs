//! A world's configuration, derived entirely from the seed (plus the
//! command-line overrides, which are part of the repro line).

use engine::Model;
use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::vclock::ClockShape;

/// 2026-01-27T10:00:00Z: true time zero of every world.
pub const EPOCH_MS: i64 = 1_769_508_000_000;

/// What the user asked for on the command line (also the header of an
/// exploration's result file, `sim::explore::shard`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub devices: usize,
    pub steps: usize,
    /// Device models, assigned round-robin.
    #[serde(serialize_with = "model_names", deserialize_with = "models_from_names")]
    pub models: Vec<Model>,
    /// Network, crash and restart faults on.
    pub faults: bool,
    /// Largest clock offset, ms (± days by default).
    pub max_skew_ms: i64,
    /// Image items in the workload (on by default; `--no-images` leaves
    /// the three text types only).
    pub images: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            devices: 4,
            steps: 300,
            models: vec![Model::Reference],
            faults: true,
            max_skew_ms: 2 * 86_400_000,
            images: true,
        }
    }
}

impl Options {
    /// The flags that reproduce these options (for `repro:` lines).
    pub fn flags(&self) -> String {
        let models: Vec<&str> = self.models.iter().map(|m| m.name()).collect();
        let mut s = format!(
            "--devices {} --steps {} --models {}",
            self.devices,
            self.steps,
            models.join(",")
        );
        if !self.faults {
            s.push_str(" --no-faults");
        }
        if self.max_skew_ms != Options::default().max_skew_ms {
            s.push_str(&format!(" --max-skew-ms {}", self.max_skew_ms));
        }
        if !self.images {
            s.push_str(" --no-images");
        }
        s
    }
}

/// Probabilities of each fault, per request or per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRates {
    pub request_lost: f64,
    pub response_lost: f64,
    pub duplicate: f64,
    pub server_error: f64,
    pub partition: f64,
    pub device_crash: f64,
    pub server_restart: f64,
    /// Backups, and restores from the newest backup.
    #[serde(default)]
    pub restore: f64,
}

impl FaultRates {
    pub fn none() -> Self {
        Self {
            request_lost: 0.0,
            response_lost: 0.0,
            duplicate: 0.0,
            server_error: 0.0,
            partition: 0.0,
            device_crash: 0.0,
            server_restart: 0.0,
            restore: 0.0,
        }
    }

    fn random(rng: &mut Rng) -> Self {
        let mut p = |hi: f64| (rng.below(1000) as f64 / 1000.0) * hi;
        Self {
            request_lost: p(0.08),
            response_lost: p(0.08),
            duplicate: p(0.05),
            server_error: p(0.05),
            partition: p(0.02),
            device_crash: p(0.02),
            server_restart: p(0.01),
            restore: p(0.02),
        }
    }
}

/// One device of the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSpec {
    pub name: String,
    #[serde(serialize_with = "model_name", deserialize_with = "model_from_name")]
    pub model: Model,
    pub clock: ClockShape,
    /// Index into `host::PROFILES`: the server profile the device starts
    /// on (`SwitchProfile` moves it).
    pub profile: usize,
    /// The device names its server profile by slug (`?profile=home`), as
    /// a user who typed its name would, instead of by UUID.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_slug: bool,
}

fn model_from_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Model, D::Error> {
    let name = String::deserialize(d)?;
    Model::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown model {name:?}")))
}

fn model_name<S: serde::Serializer>(m: &Model, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

fn models_from_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Model>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|n| {
            Model::parse(n).ok_or_else(|| serde::de::Error::custom(format!("unknown model {n:?}")))
        })
        .collect()
}

fn model_names<S: serde::Serializer>(m: &[Model], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(|m| m.name()))
}

/// Everything about a world that is not its event list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    pub seed: u64,
    pub devices: Vec<DeviceSpec>,
    pub servers: usize,
    pub server_clock: ClockShape,
    pub faults: FaultRates,
    /// Chance per step that the stepping device's local profile is pointed
    /// at another server profile (workload, not a fault).
    #[serde(default)]
    pub profile_switch: f64,
    /// Image items in the workload.
    #[serde(default)]
    pub images: bool,
    /// Chance per step of a write outside the sync path (`Event::Api`).
    #[serde(default)]
    pub api_writes: f64,
    /// Chance per step of a change to the account on a server: a profile
    /// deleted, re-created or renamed, the key rotated (`Event::Account`).
    #[serde(default)]
    pub account_events: f64,
}

impl WorldConfig {
    pub fn from_seed(seed: u64, opts: &Options) -> Self {
        let root = Rng::new(seed);
        let mut rng = root.fork("config");
        let horizon = opts.steps as i64 * 2_000;
        let devices = (0..opts.devices.max(1))
            .map(|i| DeviceSpec {
                name: format!("d{i}"),
                model: opts.models[i % opts.models.len().max(1)],
                clock: ClockShape::random(&mut rng, opts.max_skew_ms, horizon),
                // Most devices share the Home profile; some use Work, so
                // that profile isolation is exercised.
                profile: usize::from(rng.chance(0.2)),
                by_slug: false,
            })
            .collect::<Vec<_>>();
        let server_clock = ClockShape::random(&mut rng, opts.max_skew_ms / 4, horizon);
        let servers = if rng.chance(0.3) { 2 } else { 1 };
        let faults = if opts.faults {
            FaultRates::random(&mut rng)
        } else {
            FaultRates::none()
        };
        // A third of worlds switch profiles now and then.
        let profile_switch = if rng.chance(0.33) { 0.01 } else { 0.0 };
        // The server side of the world, from its own stream so that the
        // draws above stay what they were: some devices target by slug,
        // half the worlds have writers outside sync, a third see their
        // account change under them.
        let mut side = root.fork("server-side");
        let mut devices = devices;
        for d in &mut devices {
            d.by_slug = side.chance(0.25);
        }
        let api_writes = if side.chance(0.5) { 0.03 } else { 0.0 };
        let account_events = if side.chance(0.33) { 0.01 } else { 0.0 };
        Self {
            seed,
            devices,
            servers,
            server_clock,
            faults,
            profile_switch,
            images: opts.images,
            api_writes,
            account_events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_decides_everything() {
        let o = Options::default();
        assert_eq!(WorldConfig::from_seed(5, &o), WorldConfig::from_seed(5, &o));
        assert_ne!(WorldConfig::from_seed(5, &o), WorldConfig::from_seed(6, &o));
        let none = Options {
            faults: false,
            ..o.clone()
        };
        assert_eq!(WorldConfig::from_seed(5, &none).faults, FaultRates::none());
        assert_eq!(o.flags(), "--devices 4 --steps 300 --models reference");
    }
}
