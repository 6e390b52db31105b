//! The device clock: real time plus the offset of `set_clock`.
//!
//! A driver binary invokes [`override_clock!`](crate::override_clock) once
//! at its top level. That defines the process's own `clock_gettime` and
//! `gettimeofday` (`#[no_mangle] extern "C"`), which the linker prefers to
//! glibc's, so every reader of the wall clock in the binary follows the
//! offset: `std::time::SystemTime` (and chrono on top of it), SQLite's
//! `'now'`, C code. They read the real clock with the raw system call and
//! add the offset to `CLOCK_REALTIME` and `CLOCK_REALTIME_COARSE` only;
//! monotonic clocks (tokio's timers, `Instant`) are untouched.
//!
//! It is a macro, not a library item, on purpose: a `#[no_mangle]` symbol
//! in a library would be linked into every binary that depends on it
//! (`peek-conform` itself) and shift their clocks too.

// `time_t`, `c_long` and `suseconds_t` are i64 here but not on every
// target: the casts are kept.
#![allow(clippy::unnecessary_cast)]

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{json, Value};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// The current offset (ms).
pub fn offset_ms() -> i64 {
    OFFSET_MS.load(Ordering::SeqCst)
}

/// Sets the offset (ms), unchecked.
pub fn set_offset_ms(ms: i64) {
    OFFSET_MS.store(ms, Ordering::SeqCst);
}

/// Sets the offset, then checks that the process clock follows it: a
/// binary that forgot `override_clock!()` answers `unsupported` rather
/// than run skew scenarios on the true clock.
pub fn set_offset_checked(ms: i64) -> Result<(), crate::DriverError> {
    set_offset_ms(ms);
    if ms == 0 {
        return Ok(());
    }
    let real = real_realtime_ms();
    let seen = system_time_ms();
    if (seen - real - ms).abs() > 1000 {
        set_offset_ms(0);
        return Err(crate::DriverError::unsupported(
            "set_clock: the clock override is not linked into this binary (driver_kit::override_clock!())",
        ));
    }
    Ok(())
}

/// `clock_gettime` through the raw system call (never the override).
///
/// # Safety
/// `tp` must be null or point to a writable `timespec`.
pub unsafe fn real_clock_gettime(clk: libc::clockid_t, tp: *mut libc::timespec) -> libc::c_int {
    libc::syscall(libc::SYS_clock_gettime, clk as libc::c_long, tp) as libc::c_int
}

/// The override's `clock_gettime`: the real clock, plus the offset for the
/// realtime clocks.
///
/// # Safety
/// `tp` must be null or point to a writable `timespec`.
pub unsafe fn shifted_clock_gettime(clk: libc::clockid_t, tp: *mut libc::timespec) -> libc::c_int {
    let r = real_clock_gettime(clk, tp);
    if r == 0
        && !tp.is_null()
        && (clk == libc::CLOCK_REALTIME || clk == libc::CLOCK_REALTIME_COARSE)
    {
        let off = offset_ms();
        if off != 0 {
            let ts = &mut *tp;
            let total = (ts.tv_sec as i128) * 1_000_000_000
                + ts.tv_nsec as i128
                + (off as i128) * 1_000_000;
            ts.tv_sec = total.div_euclid(1_000_000_000) as libc::time_t;
            ts.tv_nsec = total.rem_euclid(1_000_000_000) as libc::c_long;
        }
    }
    r
}

/// The override's `gettimeofday`, from the shifted realtime clock.
///
/// # Safety
/// `tv` must be null or point to a writable `timeval`; `tz` null or to a
/// writable `struct timezone`.
pub unsafe fn shifted_gettimeofday(tv: *mut libc::timeval, tz: *mut libc::c_void) -> libc::c_int {
    if !tv.is_null() {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let r = shifted_clock_gettime(libc::CLOCK_REALTIME, &mut ts);
        if r != 0 {
            return r;
        }
        (*tv).tv_sec = ts.tv_sec;
        (*tv).tv_usec = (ts.tv_nsec / 1000) as libc::suseconds_t;
    }
    if !tz.is_null() {
        // struct timezone { int tz_minuteswest; int tz_dsttime; }
        std::ptr::write_bytes(tz as *mut u8, 0, 2 * std::mem::size_of::<libc::c_int>());
    }
    0
}

fn real_realtime_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec.
    unsafe { real_clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as i64) * 1000 + (ts.tv_nsec as i64) / 1_000_000
}

// The kit reads the device clock here on purpose: this is the shell that
// reports what the app's clock says.
#[allow(clippy::disallowed_methods)]
fn system_time_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the clocks read now (the `clock_probe` debug command): the true
/// time, `SystemTime`, a `gettimeofday` call (through whatever symbol the
/// binary links), and the monotonic clock, for tests of the override.
pub fn probe() -> Value {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a valid timeval, the zone pointer is null.
    unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
    let mut mono = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `mono` is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono) };
    let mut real_mono = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as above.
    unsafe { real_clock_gettime(libc::CLOCK_MONOTONIC, &mut real_mono) };
    json!({
        "offsetMs": offset_ms(),
        "realMs": real_realtime_ms(),
        "systemTimeMs": system_time_ms(),
        "gettimeofdayMs": (tv.tv_sec as i64) * 1000 + (tv.tv_usec as i64) / 1000,
        "monotonicMs": (mono.tv_sec as i64) * 1000 + (mono.tv_nsec as i64) / 1_000_000,
        "realMonotonicMs": (real_mono.tv_sec as i64) * 1000 + (real_mono.tv_nsec as i64) / 1_000_000,
    })
}

/// Defines the binary's `clock_gettime` and `gettimeofday`, shifted by
/// `set_clock` (see the module doc). Invoke once, at the top level of the
/// driver's binary crate (`main.rs`), never in a library.
#[macro_export]
macro_rules! override_clock {
    () => {
        /// The device clock (driver-kit): real time plus `set_clock`'s
        /// offset for the realtime clocks.
        ///
        /// # Safety
        /// As libc's `clock_gettime`.
        #[no_mangle]
        pub unsafe extern "C" fn clock_gettime(
            clk: $crate::libc::clockid_t,
            tp: *mut $crate::libc::timespec,
        ) -> $crate::libc::c_int {
            $crate::clock::shifted_clock_gettime(clk, tp)
        }

        /// The device clock (driver-kit), as `gettimeofday`.
        ///
        /// # Safety
        /// As libc's `gettimeofday`.
        #[no_mangle]
        pub unsafe extern "C" fn gettimeofday(
            tv: *mut $crate::libc::timeval,
            tz: *mut $crate::libc::c_void,
        ) -> $crate::libc::c_int {
            $crate::clock::shifted_gettimeofday(tv, tz)
        }
    };
}
