//! Idle is free (issue 11): 50 Apps in one process, each on a `TestBackend`, sharing one
//! store and one model pool as `loupe serve` would, all left alone. Measures the process's
//! CPU time (user + system, `getrusage(RUSAGE_SELF)`) and the frames drawn over 10 s of
//! idling, after each App has drawn its first screen and finished its start-up work.
//!
//! Target: near zero (an idle App wakes only for input, a message, or something due).
//!
//! Run: `cargo bench --bench idle`. As a test (`cargo test --benches`) it idles for 1 s.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/tui_harness.rs"]
mod tui_harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe::services::Services;
use loupe::store::Store;
use nix::sys::resource::{UsageWho, getrusage};
use tui_harness::{App, config};

const APPS: usize = 50;

fn cpu() -> Duration {
    let u = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let d = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    d(u.user_time()) + d(u.system_time())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let full = std::env::args().any(|a| a == "--bench");
    let idle = if full {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let services = Services::new(store);
        let session = Arc::new(
            loupe::session::load(std::path::Path::new("sessions/demo.yaml")).unwrap(),
        );
        let apps: Vec<App> = (0..APPS)
            .map(|_| {
                App::spawn_with(services.clone(), session.clone(), config(), 100, 30)
            })
            .collect();
        for app in &apps {
            app.screen.wait_for("no run yet").await;
        }
        // Start-up work (the first preview, the newest run's load) ends well within this.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let frames = |apps: &[App]| apps.iter().map(|a| a.screen.frames().0).sum::<u64>();
        let (cpu0, frames0, t0) = (cpu(), frames(&apps), Instant::now());
        tokio::time::sleep(idle).await;
        let (spent, drawn, wall) = (cpu().saturating_sub(cpu0), frames(&apps) - frames0, t0.elapsed());

        println!(
            "idle: {APPS} Apps for {:.1} s: {:.1} ms of CPU ({:.2}% of one core), {drawn} frames drawn",
            wall.as_secs_f64(),
            spent.as_secs_f64() * 1000.0,
            100.0 * spent.as_secs_f64() / wall.as_secs_f64(),
        );
        drop(apps);
    });
}
