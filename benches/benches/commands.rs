//! ns/line of `salesiq_commands::parse` over a mixed corpus of operator
//! lines, against two tokenizers that validate nothing.
//!
//! `cargo bench -p salesiq-benches --bench commands`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use salesiq_benches::{corpus, naive_split_whitespace, regex_captures};
use salesiq_commands::parse;

fn bench_group(c: &mut Criterion, name: &str, lines: &[&str]) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("salesiq_commands::parse", |b| {
        b.iter(|| {
            for line in lines {
                let _ = black_box(parse(black_box(line)));
            }
        })
    });
    group.bench_function("naive split_whitespace", |b| {
        b.iter(|| {
            for line in lines {
                black_box(naive_split_whitespace(black_box(line)));
            }
        })
    });
    group.bench_function("regex captures", |b| {
        b.iter(|| {
            for line in lines {
                black_box(regex_captures(black_box(line)));
            }
        })
    });
    group.finish();
}

fn commands(c: &mut Criterion) {
    let corpus = corpus();
    bench_group(c, "mixed corpus", &corpus);
    let commands: Vec<&str> = corpus
        .iter()
        .copied()
        .filter(|line| line.starts_with(['#', '＃']))
        .collect();
    bench_group(c, "command lines only", &commands);
}

criterion_group!(benches, commands);
criterion_main!(benches);
