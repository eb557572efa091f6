//! counter-sync figures for BENCHMARKS.md:
//! 1. durable enqueue latency (one `BEGIN IMMEDIATE` transaction, WAL, `synchronous=FULL`);
//! 2. drain throughput of N applications over M municipalities, next to the raw request rate
//!    of the same HTTP client, with the same concurrency, against the same backends;
//! 3. time for a backlog to clear once a backend that was down comes back.
//!
//! `cargo run -p madoguchi-tests --bin sync-bench -- [N] [M] [BATCH]` (defaults 10000 10 32).

use counter_core::client::{HttpClient, Outcome};
use counter_core::outbox::{Outbox, State};
use madoguchi_tests::harness::{wait_until, SyncFixture, SyncGuard, SyncOptions};
use madoguchi_tests::refbackend::{Chaos, Fault};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn delivered(outbox: &Outbox) -> u64 {
    outbox.count_in(State::Delivered).unwrap()
}

/// Fresh applications posted by each municipality's client, `batch_size` at a time, as fast
/// as it can: no database. Returns applications per second.
fn raw_rate(fx: &SyncFixture, n: usize) -> anyhow::Result<f64> {
    let m = fx.backends.len();
    let batch = fx.config.sync.batch_size as usize;
    let apps = counter_sync::synthetic::applications(&fx.config, n)?;
    let mut per: Vec<Vec<(String, Vec<u8>)>> = vec![vec![]; m];
    for (i, a) in apps.iter().enumerate() {
        let env = counter_core::api::ApplicationEnvelope {
            application_id: a.application_id.to_string(),
            kiosk_id: a.kiosk_id.clone(),
            municipality_code: a.municipality_code.clone(),
            procedure_code: a.procedure_code.clone(),
            submitted_at: "2026-11-22T10:00:00+09:00".into(),
            receipt_number: format!("RAW-{}", a.application_id),
            sealed: a.sealed.clone(),
        };
        per[i % m].push((env.application_id.clone(), serde_json::to_vec(&env)?));
    }
    let rt = tokio::runtime::Runtime::new()?;
    let elapsed = rt.block_on(async {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, bodies) in per.into_iter().enumerate() {
            let client = HttpClient::for_municipality(
                &fx.config,
                &fx.config.municipalities[i],
                Duration::from_secs(20),
                Duration::from_secs(5),
            )
            .expect("client");
            tasks.spawn(async move {
                for chunk in bodies.chunks(batch) {
                    let mut set = tokio::task::JoinSet::new();
                    for (id, body) in chunk.iter().cloned() {
                        let c = client.clone();
                        set.spawn(async move { c.post_application(&id, body).await });
                    }
                    while let Some(o) = set.join_next().await {
                        assert!(matches!(o.expect("task"), Outcome::Delivered { .. }));
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
        started.elapsed()
    });
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Enqueues `n` applications, then times the daemon until all are delivered.
fn drain_rate(fx: &SyncFixture, n: usize) -> anyhow::Result<f64> {
    let apps = counter_sync::synthetic::applications(&fx.config, n)?;
    let mut outbox = Outbox::open(&fx.config.outbox.path)?;
    let before = delivered(&outbox);
    for chunk in apps.chunks(1000) {
        outbox.enqueue_many(chunk, counter_core::now_ms())?;
    }
    let started = Instant::now();
    let sync = SyncGuard::in_process(fx.config.clone());
    // Look rarely (±0.1 s on a run of seconds) and cheaply (the state index): the machine's
    // two cores are what is being measured.
    while delivered(&outbox) < before + n as u64 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    drop(sync);
    Ok(n as f64 / elapsed.as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let m: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let batch: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let tuning = format!("poll_interval_ms = 20\nbatch_size = {batch}\n");

    // 1. Durable enqueue latency, as the kiosk does it: one application per transaction.
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 2,
        sync: tuning.clone(),
        ..Default::default()
    })?;
    let apps = counter_sync::synthetic::applications(&fx.config, 1_000)?;
    let mut outbox = Outbox::open(&fx.config.outbox.path)?;
    let mut lat: Vec<Duration> = apps
        .iter()
        .map(|a| {
            let t = Instant::now();
            outbox.enqueue(a, counter_core::now_ms()).expect("enqueue");
            t.elapsed()
        })
        .collect();
    lat.sort();
    println!(
        "enqueue (1 tx, fsync): n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    drop(fx);

    // 2. Drain throughput vs the raw request rate of the same client, alternated over
    //    several rounds against the same backends (the two share the machine's two cores with
    //    the backends, so single runs are noisy); medians are reported.
    let fx = SyncFixture::new(SyncOptions {
        municipalities: m,
        sync: tuning.clone(),
        ..Default::default()
    })?;
    let rounds = 3;
    let (mut raw_rates, mut drain_rates) = (vec![], vec![]);
    for round in 0..rounds {
        let raw = raw_rate(&fx, n)?;
        let drain = drain_rate(&fx, n)?;
        println!("  round {round}: raw client {raw:.0}/s, counter-sync {drain:.0}/s");
        raw_rates.push(raw);
        drain_rates.push(drain);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (raw, drain) = (median(&mut raw_rates), median(&mut drain_rates));
    println!(
        "drain: {n} applications over {m} municipalities, batch {}: counter-sync {drain:.0}/s, raw client {raw:.0}/s (medians of {rounds}); ratio {:.2}",
        fx.config.sync.batch_size,
        drain / raw
    );
    drop(fx);

    // 3. Backlog after an outage: one municipality answers 503 (no Retry-After) for a while,
    //    with the default policy (a down destination is probed with one application every
    //    1.5–3 s); then it is back. The wait for the next probe is random by design, so many
    //    outages are measured on one daemon, and the p95 is reported.
    let backlog = 100;
    let outages = 20;
    let down_for = Duration::from_secs(10);
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        ..Default::default()
    })?;
    let outbox = Outbox::open(&fx.config.outbox.path)?;
    let sync = SyncGuard::in_process(fx.config.clone());
    let (mut firsts, mut probe_rates) = (vec![], vec![]);
    for outage in 0..outages {
        fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
            seed: 7 + outage,
            faults: vec![(Fault::Status(503, None), 1000)],
        }));
        let before = delivered(&outbox);
        let posts_before = fx.backends[0].store.lock().unwrap().posts;
        let apps = counter_sync::synthetic::applications(&fx.config, backlog)?;
        Outbox::open(&fx.config.outbox.path)?.enqueue_many(&apps, counter_core::now_ms())?;
        std::thread::sleep(down_for); // the outage itself, not synchronisation
        let posts_while_down = fx.backends[0].store.lock().unwrap().posts - posts_before;
        let received_before = fx.backends[0].received().len();
        fx.backends[0].store.lock().unwrap().set_chaos(None);
        let back = Instant::now();
        wait_until(Duration::from_secs(3600), "first delivery", || {
            fx.backends[0].received().len() > received_before
        })?;
        let first = back.elapsed();
        wait_until(Duration::from_secs(3600), "backlog cleared", || {
            delivered(&outbox) == before + backlog as u64
        })?;
        let cleared = back.elapsed();
        // The first failed batch is one request per application; then single probes.
        let probes = posts_while_down.saturating_sub(fx.config.sync.batch_size as usize);
        let rate = probes as f64 / down_for.as_secs_f64();
        println!(
            "outage {outage}: {backlog} applications, backend down {} s ({posts_while_down} POSTs while down, {rate:.2} probes/s); back → next probe delivers {:.2} s, → all delivered {:.2} s",
            down_for.as_secs(),
            first.as_secs_f64(),
            cleared.as_secs_f64()
        );
        firsts.push(first.as_secs_f64());
        probe_rates.push(rate);
    }
    drop(sync);
    firsts.sort_by(f64::total_cmp);
    probe_rates.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "after {outages} outages: back → backlog starts p50 {:.2} s, p95 {:.2} s, max {:.2} s; probes to a down backend p50 {:.2}/s, max {:.2}/s",
        pct(&firsts, 0.5),
        pct(&firsts, 0.95),
        firsts[firsts.len() - 1],
        pct(&probe_rates, 0.5),
        probe_rates[probe_rates.len() - 1]
    );
    Ok(())
}
