//! ORD-3 export speed: `SimCsvWriter` against the bare `csv` crate writing the same rows.
//!
//! Goal (DESIGN §6): exporting `SELFCARE_BENCH_ROWS` SIMs (default 1 000 000) into a `Vec<u8>`
//! at no less than 0.8× the speed of `csv::Writer` writing the same, already rendered strings
//! with no checks. Both produce byte-identical output (checked before measuring), so the ratio
//! is the cost of neutralisation and of rendering typed numbers, nothing else.
//!
//! `cargo test -p selfcare-benches --bench export` runs each benchmark once (criterion's test
//! mode); `SELFCARE_BENCH_ROWS=1000` keeps that quick.

// A benchmark is a test harness: a failed setup should stop it loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use selfcare_core::export::{SimCsvWriter, SimRow, neutralise_label};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};

fn rows_from_env() -> usize {
    std::env::var("SELFCARE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

/// `n` SIM rows as a store would hand them over: every tenth label starts with a formula
/// character, a few contain commas or quotes, every seventh SIM is not provisioned yet.
fn generate(n: usize) -> Vec<SimRow> {
    // Parsing a phone number is the slowest step of generation; a small pool keeps setup short.
    let msisdns: Vec<Msisdn> = (0..100)
        .map(|i| Msisdn::parse(&format!("+4917012{i:05}")).expect("valid msisdn"))
        .collect();
    (0..n)
        .map(|i| {
            let label = match i % 10 {
                0 => format!("=HYPERLINK(\"x\";{i})"),
                3 => format!("Truck {i}, north"),
                5 => format!("-{i}"),
                7 => format!("@sensor {i}"),
                _ => format!("Sensor {i}"),
            };
            let provisioned = i % 7 != 0;
            SimRow {
                iccid: Iccid::from_payload(&format!("8949{i:014}")).expect("valid iccid"),
                label,
                imsi: provisioned
                    .then(|| Imsi::parse(&format!("26201{i:010}")).expect("valid imsi")),
                msisdn: provisioned.then(|| msisdns[i % msisdns.len()].clone()),
            }
        })
        .collect()
}

/// The same rows as the four strings the file contains, rendered ahead of time.
fn prerender(rows: &[SimRow]) -> Vec<[String; 4]> {
    rows.iter()
        .map(|r| {
            [
                r.iccid.as_str().to_owned(),
                neutralise_label(&r.label).into_owned(),
                r.imsi
                    .as_ref()
                    .map_or(String::new(), |i| i.as_str().to_owned()),
                r.msisdn
                    .as_ref()
                    .map_or(String::new(), |m| m.digits().to_owned()),
            ]
        })
        .collect()
}

fn selfcare_export(rows: &[SimRow], capacity: usize) -> Vec<u8> {
    let mut w = SimCsvWriter::new(Vec::with_capacity(capacity)).expect("vec write");
    for row in rows {
        w.write(row).expect("vec write");
    }
    w.finish().expect("vec write")
}

fn bare_export(rendered: &[[String; 4]], capacity: usize) -> Vec<u8> {
    // CRLF like the export, so both write the same bytes; everything else is the default.
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(capacity));
    w.write_record(["ICCID", "Label", "IMSI", "MSISDN"])
        .expect("vec write");
    for record in rendered {
        w.write_record(record).expect("vec write");
    }
    w.into_inner().expect("vec write")
}

fn export(c: &mut Criterion) {
    let n = rows_from_env();
    let rows = generate(n);
    let rendered = prerender(&rows);
    let expected = bare_export(&rendered, 0);
    // Fixed before measuring: both sides must write exactly the same file.
    assert_eq!(
        selfcare_export(&rows, 0),
        expected,
        "the two exports differ"
    );
    let capacity = expected.len();
    drop(expected);

    let mut group = c.benchmark_group("export");
    group
        .throughput(Throughput::Elements(u64::try_from(n).unwrap_or(u64::MAX)))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("selfcare_writer", |b| {
        b.iter(|| black_box(selfcare_export(black_box(&rows), capacity)));
    });
    group.bench_function("bare_csv", |b| {
        b.iter(|| black_box(bare_export(black_box(&rendered), capacity)));
    });
    group.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
