//! Criterion benchmarks of the timing wheel at the design load: 100k timers expiring over
//! 2 s. Arming, moving, disarming and firing report time per timer (throughput in
//! elements); the idle benches report the cost of one 1 ms `advance` that fires nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sessiond::store::wheel::TimingWheel;

/// Timers per batch: the design load.
const TIMERS: u64 = 100_000;
/// Span the deadlines are spread over, in ms.
const SPREAD_MS: u64 = 2_000;
/// Clock every wheel starts at: a Unix time in ms, so slots straddle real boundaries.
const START: u64 = 1_700_000_000_123;

/// Deadline of timer `i`: spread over (START, START + SPREAD_MS], consecutive timers far apart.
fn deadline(i: u64) -> u64 {
    START + 1 + (i * 7_919) % SPREAD_MS
}

/// Insert, reschedule, remove and fire of 100k timers, per timer.
fn per_timer(c: &mut Criterion) {
    // A wheel with `TIMERS` armed timers, and their ids.
    let armed = || {
        let mut wheel = TimingWheel::new(START);
        let ids: Vec<_> = (0..TIMERS).map(|i| wheel.insert(deadline(i), i)).collect();
        (wheel, ids)
    };
    let mut group = c.benchmark_group("timing_wheel");
    group.throughput(Throughput::Elements(TIMERS));

    group.bench_function("insert_100k", |b| {
        b.iter_batched(
            || {
                // Steady state: the slab has already grown and its free list is full.
                let (mut wheel, ids) = armed();
                for id in ids {
                    wheel.remove(id);
                }
                wheel
            },
            |mut wheel| {
                for i in 0..TIMERS {
                    black_box(wheel.insert(deadline(i), i));
                }
                wheel
            },
            BatchSize::LargeInput,
        );
    });

    group.bench_function("reschedule_100k", |b| {
        b.iter_batched(
            armed,
            |(mut wheel, ids)| {
                for (i, id) in (0..TIMERS).zip(ids) {
                    wheel.reschedule(id, deadline(i + 1));
                }
                wheel
            },
            BatchSize::LargeInput,
        );
    });

    group.bench_function("remove_100k", |b| {
        b.iter_batched(
            armed,
            |(mut wheel, ids)| {
                for id in ids {
                    black_box(wheel.remove(id));
                }
                wheel
            },
            BatchSize::LargeInput,
        );
    });

    group.bench_function("advance_fire_100k_over_2s", |b| {
        b.iter_batched(
            || (armed().0, Vec::with_capacity(TIMERS as usize)),
            |(mut wheel, mut fired)| {
                let mut count = 0;
                for t in 1..=SPREAD_MS {
                    wheel.advance(START + t, &mut fired);
                    count += fired.len();
                    fired.clear();
                }
                assert_eq!(count as u64, TIMERS);
                wheel
            },
            BatchSize::LargeInput,
        );
    });

    group.finish();
}

/// One 1 ms `advance` that fires nothing, on `wheel`, `iters` times.
fn idle_ticks(mut wheel: TimingWheel<u64>, iters: u64) -> Duration {
    let mut fired = Vec::new();
    let began = Instant::now();
    for t in 1..=iters {
        wheel.advance(black_box(START + t), &mut fired);
    }
    let took = began.elapsed();
    assert!(fired.is_empty());
    took
}

/// Cost of the expiry driver's tick when nothing is due.
fn idle(c: &mut Criterion) {
    c.bench_function("advance_empty_wheel", |b| {
        b.iter_custom(|iters| idle_ticks(TimingWheel::new(START), iters));
    });
    c.bench_function("advance_idle_100k_armed_days_ahead", |b| {
        b.iter_custom(|iters| {
            // 100 to 200 days ahead: far beyond any sample's clock, in the top level.
            let mut wheel = TimingWheel::new(START);
            let day = 86_400_000;
            for i in 0..TIMERS {
                wheel.insert(START + 100 * day + i * 100 * day / TIMERS, i);
            }
            idle_ticks(wheel, iters)
        });
    });
}

criterion_group!(benches, per_timer, idle);
criterion_main!(benches);
