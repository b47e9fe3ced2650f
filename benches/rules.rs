//! Parse + evaluate a 5,000-user credential report: the work the Lambda does on every run before
//! any API call besides fetching the report.

use chrono::{TimeZone, Utc};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use iam_sweeper::core::config::Policy;
use iam_sweeper::core::{report, rules};
use iam_sweeper::testing::synthetic;

fn parse_and_evaluate(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let csv = iam_sweeper::testing::report::render(&synthetic::records(5_000, now));
    let policy = Policy::default();
    let mut group = c.benchmark_group("report_5000_users");
    group.bench_function("parse", |b| {
        b.iter(|| report::parse(black_box(csv.as_bytes())).unwrap())
    });
    let records = report::parse(csv.as_bytes()).unwrap();
    group.bench_function("evaluate", |b| {
        b.iter(|| rules::evaluate(black_box(&records), &policy, now))
    });
    group.bench_function("parse_and_evaluate", |b| {
        b.iter(|| {
            let records = report::parse(black_box(csv.as_bytes())).unwrap();
            rules::evaluate(&records, &policy, now)
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_evaluate);
criterion_main!(benches);
