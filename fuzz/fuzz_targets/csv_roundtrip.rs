//! The SIM CSV export (ORD-3): any SIM rows (labels of any text: quotes, commas, CR/LF, NUL,
//! Hebrew, formula prefixes) written by the exporter read back to exactly the same rows, the
//! header appears once, every neutralised label cell starts with `'`; and the parser, fed the
//! same input bytes as a file, never panics.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use selfcare_core::export::{SimCsvReader, SimCsvWriter, SimRow, needs_neutralising};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};

/// A few valid MSISDNs to pick from: phone metadata makes random digits mostly invalid.
const MSISDNS: [&str; 4] = ["+491701234567", "+972501234567", "+447700900123", "+12025550123"];

fn row(u: &mut Unstructured<'_>) -> arbitrary::Result<SimRow> {
    let serial = u64::arbitrary(u)? % 10_000_000_000_000_000;
    let iccid = Iccid::from_payload(&format!("89{serial:016}")).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let label = String::arbitrary(u)?;
    let imsi = if bool::arbitrary(u)? {
        let n = u64::arbitrary(u)? % 1_000_000_000_000_000;
        Some(Imsi::parse(&format!("{n:015}")).map_err(|_| arbitrary::Error::IncorrectFormat)?)
    } else {
        None
    };
    let msisdn = match u8::arbitrary(u)? % 5 {
        0 => None,
        i => Some(
            Msisdn::parse(MSISDNS[usize::from(i - 1)]).map_err(|_| arbitrary::Error::IncorrectFormat)?,
        ),
    };
    Ok(SimRow { iccid, label, imsi, msisdn })
}

fuzz_target!(|data: &[u8]| {
    // The parser must survive any file.
    if let Ok(reader) = SimCsvReader::new(data) {
        for parsed in reader.take(1_000) {
            let _ = parsed;
        }
    }

    let mut u = Unstructured::new(data);
    let mut rows = Vec::new();
    while rows.len() < 64 {
        match row(&mut u) {
            Ok(r) => rows.push(r),
            Err(_) => break,
        }
    }
    let mut writer = SimCsvWriter::new(Vec::new()).unwrap();
    for r in &rows {
        writer.write(r).unwrap();
    }
    let bytes = writer.finish().unwrap();
    assert!(bytes.starts_with(b"ICCID,Label,IMSI,MSISDN\r\n"));
    let back: Vec<SimRow> = SimCsvReader::new(bytes.as_slice())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, rows);
    // Every label that needed it carries the quote in the file (checked cell by cell).
    let mut cells = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    for (record, r) in cells.records().zip(&rows) {
        let record = record.unwrap();
        let cell = record.get(1).unwrap();
        if needs_neutralising(&r.label) {
            assert!(cell.starts_with('\''), "label cell {cell:?} not neutralised");
        } else {
            assert_eq!(cell, r.label);
        }
    }
});
