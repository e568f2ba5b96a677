//! Word diff of two ~20 KB model outputs that differ in scattered places: the size of a
//! long answer on the Compare screen. Target: well under 20 ms, so switching cases feels
//! instant even on a cold cache.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use loupe::diff::{DiffMode, diff};

#[path = "support/text.rs"]
mod text;

use text::{edited, text};

fn bench(c: &mut Criterion) {
    let a = text(7, 20 * 1024);
    let b = edited(&a);
    assert!(b.len() > 19 * 1024);
    c.bench_function("word diff 20 KB", |bench| {
        bench.iter(|| diff(black_box(&a), black_box(&b), DiffMode::Word));
    });
    c.bench_function("line diff 20 KB", |bench| {
        bench.iter(|| diff(black_box(&a), black_box(&b), DiffMode::Line));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
