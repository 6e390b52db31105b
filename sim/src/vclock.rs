//! Device and server clocks: each maps the simulator's true time to what
//! that machine believes the time is, in the shapes TigerBeetle's VOPR
//! uses — fixed offset, linear drift, step jump, periodic, noisy.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// How a clock departs from true time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "kebab-case")]
pub enum ClockShape {
    /// Exactly `offset_ms` ahead (negative: behind).
    Offset { offset_ms: i64 },
    /// Starts at `offset_ms` and gains `ppm` parts per million of elapsed time.
    Drift { offset_ms: i64, ppm: i64 },
    /// `offset_ms`, then at true time `at_ms` jumps by `jump_ms` (NTP step, manual change).
    Jump {
        offset_ms: i64,
        at_ms: i64,
        jump_ms: i64,
    },
    /// `offset_ms` plus a triangle wave of amplitude `amp_ms` and period `period_ms`.
    Periodic {
        offset_ms: i64,
        amp_ms: i64,
        period_ms: i64,
    },
    /// `offset_ms` plus a deterministic pseudo-random jitter in `±amp_ms`,
    /// changing every `step_ms` of true time.
    Noisy {
        offset_ms: i64,
        amp_ms: i64,
        step_ms: i64,
        seed: u64,
    },
}

/// A clock shape's kind, without its magnitudes: what an exploration's
/// summary counts, to say which kinds of clock its worlds met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClockKind {
    /// True time (an offset of zero).
    Exact,
    Offset,
    Drift,
    Jump,
    Periodic,
    Noisy,
}

impl ClockKind {
    pub const ALL: [ClockKind; 6] = [
        ClockKind::Exact,
        ClockKind::Offset,
        ClockKind::Drift,
        ClockKind::Jump,
        ClockKind::Periodic,
        ClockKind::Noisy,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ClockKind::Exact => "exact",
            ClockKind::Offset => "offset",
            ClockKind::Drift => "drift",
            ClockKind::Jump => "jump",
            ClockKind::Periodic => "periodic",
            ClockKind::Noisy => "noisy",
        }
    }
}

impl ClockShape {
    /// The machine's reading at true time `t` (ms since the world began),
    /// added to the world's epoch by the caller.
    pub fn offset_at(&self, t: i64) -> i64 {
        match *self {
            ClockShape::Offset { offset_ms } => offset_ms,
            ClockShape::Drift { offset_ms, ppm } => offset_ms + t * ppm / 1_000_000,
            ClockShape::Jump {
                offset_ms,
                at_ms,
                jump_ms,
            } => offset_ms + if t >= at_ms { jump_ms } else { 0 },
            ClockShape::Periodic {
                offset_ms,
                amp_ms,
                period_ms,
            } => {
                let p = period_ms.max(1);
                let phase = t.rem_euclid(p);
                let half = p / 2;
                let tri = if phase < half { phase } else { p - phase };
                offset_ms + (tri * 2 * amp_ms / p.max(1)) - amp_ms / 2
            }
            ClockShape::Noisy {
                offset_ms,
                amp_ms,
                step_ms,
                seed,
            } => {
                let bucket = t.div_euclid(step_ms.max(1)) as u64;
                let mut r = Rng::new(seed ^ bucket.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                offset_ms + r.range(-amp_ms, amp_ms)
            }
        }
    }

    /// The shape's kind (a zero offset is [`ClockKind::Exact`]).
    pub fn kind(&self) -> ClockKind {
        match self {
            ClockShape::Offset { offset_ms: 0 } => ClockKind::Exact,
            ClockShape::Offset { .. } => ClockKind::Offset,
            ClockShape::Drift { .. } => ClockKind::Drift,
            ClockShape::Jump { .. } => ClockKind::Jump,
            ClockShape::Periodic { .. } => ClockKind::Periodic,
            ClockShape::Noisy { .. } => ClockKind::Noisy,
        }
    }

    /// A random shape within `±max_skew_ms`, for a world drawn from a seed.
    pub fn random(rng: &mut Rng, max_skew_ms: i64, horizon_ms: i64) -> Self {
        let offset_ms = rng.range(-max_skew_ms, max_skew_ms);
        match rng.below(6) {
            0 => ClockShape::Offset { offset_ms: 0 },
            1 => ClockShape::Offset { offset_ms },
            2 => ClockShape::Drift {
                offset_ms,
                ppm: rng.range(-500, 500),
            },
            3 => ClockShape::Jump {
                offset_ms,
                at_ms: rng.range(0, horizon_ms.max(1)),
                jump_ms: rng.range(-max_skew_ms, max_skew_ms),
            },
            4 => ClockShape::Periodic {
                offset_ms,
                amp_ms: rng.range(0, max_skew_ms.min(60_000)),
                period_ms: rng.range(1_000, 600_000),
            },
            _ => ClockShape::Noisy {
                offset_ms,
                amp_ms: rng.range(0, 5_000),
                step_ms: rng.range(10, 10_000),
                seed: rng.next_u64(),
            },
        }
    }

    /// The same shape with every magnitude halved: what the shrinker tries.
    /// A shape whose variation (drift, jump, amplitude) is already zero
    /// becomes a plain offset; `None` once nothing is left to halve.
    pub fn halved(&self) -> Option<Self> {
        use ClockShape::{Drift, Jump, Noisy, Offset, Periodic};
        let h = |x: i64| x / 2;
        Some(match *self {
            Offset { offset_ms: 0 } => return None,
            Offset { offset_ms } => Offset {
                offset_ms: h(offset_ms),
            },
            Drift { offset_ms, ppm: 0 }
            | Jump {
                offset_ms,
                jump_ms: 0,
                ..
            }
            | Periodic {
                offset_ms,
                amp_ms: 0,
                ..
            }
            | Noisy {
                offset_ms,
                amp_ms: 0,
                ..
            } => Offset { offset_ms },
            Drift { offset_ms, ppm } => Drift {
                offset_ms: h(offset_ms),
                ppm: h(ppm),
            },
            Jump {
                offset_ms,
                at_ms,
                jump_ms,
            } => Jump {
                offset_ms: h(offset_ms),
                at_ms,
                jump_ms: h(jump_ms),
            },
            Periodic {
                offset_ms,
                amp_ms,
                period_ms,
            } => Periodic {
                offset_ms: h(offset_ms),
                amp_ms: h(amp_ms),
                period_ms,
            },
            Noisy {
                offset_ms,
                amp_ms,
                step_ms,
                seed,
            } => Noisy {
                offset_ms: h(offset_ms),
                amp_ms: h(amp_ms),
                step_ms,
                seed,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(ClockShape::Offset { offset_ms: -5 }.offset_at(1_000), -5);
        assert_eq!(
            ClockShape::Drift {
                offset_ms: 0,
                ppm: 1000
            }
            .offset_at(1_000_000),
            1000
        );
        let j = ClockShape::Jump {
            offset_ms: 1,
            at_ms: 10,
            jump_ms: -100,
        };
        assert_eq!((j.offset_at(9), j.offset_at(10)), (1, -99));
        let n = ClockShape::Noisy {
            offset_ms: 0,
            amp_ms: 50,
            step_ms: 10,
            seed: 3,
        };
        assert_eq!(n.offset_at(15), n.offset_at(19), "constant within a step");
        assert!((-50..=50).contains(&n.offset_at(1234)));
        let p = ClockShape::Periodic {
            offset_ms: 0,
            amp_ms: 100,
            period_ms: 1000,
        };
        for t in (0..3000).step_by(37) {
            assert!(
                (-50..=50).contains(&p.offset_at(t)),
                "{t}: {}",
                p.offset_at(t)
            );
        }
    }

    #[test]
    fn halving_reaches_a_fixed_point() {
        let mut s = ClockShape::Drift {
            offset_ms: 86_400_000,
            ppm: 400,
        };
        let mut steps = 0;
        while let Some(n) = s.halved() {
            s = n;
            steps += 1;
            assert!(steps < 200);
        }
        assert_eq!(s, ClockShape::Offset { offset_ms: 0 });
    }
}
