//! The SIM CSV export of an order and its parser (ORD-3).
//!
//! Format, chosen once and kept stable:
//! - header `ICCID,Label,IMSI,MSISDN`, then one row per SIM;
//! - RFC 4180: fields separated by `,`, records ended by CRLF (`\r\n`, as RFC 4180 §2 says),
//!   a field quoted with `"` only when it contains `"`, `,`, CR or LF, a `"` inside doubled;
//! - UTF-8 without a byte order mark: RFC 4180 and every CSV library read it as is, whereas a
//!   BOM becomes part of the first header name for many of them. (Spreadsheets that guess the
//!   encoding should be told "UTF-8" when importing.) The parser accepts a leading BOM anyway,
//!   because a spreadsheet that re-saves the file often adds one;
//! - ICCID, IMSI and MSISDN as digits only, the MSISDN without `+`; a SIM without IMSI or
//!   MSISDN yet (not provisioned) has an empty cell;
//! - a label that starts with `=`, `+`, `-`, `@`, tab, CR, LF, NUL or `'` is written with one
//!   extra leading `'`, so a spreadsheet shows it as text instead of running it as a formula. The
//!   parser removes exactly one leading `'` from every label cell. Because `'` is itself one of
//!   the characters that trigger the prefix, a label that really starts with `'` is written with
//!   two, and parsing an export gives back every label exactly, whatever it contains.
//!
//! The writer streams: it keeps one reusable buffer and the `csv` crate's output buffer, so its
//! memory does not grow with the number of SIMs, and it allocates nothing per row.

use std::io;

use crate::error::{Error, ReasonCode, Result};
use crate::numbers::{Iccid, Imsi, Msisdn};
use crate::sims::Sim;

/// The header row of the export, column by column.
pub const HEADER: [&str; 4] = ["ICCID", "Label", "IMSI", "MSISDN"];

/// Size of the `csv` crate's output buffer: large enough that writes to the inner writer are
/// rare, small enough not to matter for memory.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// One SIM as it appears in the export (ORD-3).
///
/// The label is plain text rather than a [`crate::sims::SimLabel`]: the export must stay
/// lossless and safe for any text a store holds (labels written under older rules included),
/// and must never fail an order's export because of one label. An importer that needs a valid
/// label calls [`crate::sims::SimLabel::parse`] on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRow {
    /// The card number.
    pub iccid: Iccid,
    /// The label, exactly as stored (neutralisation happens only in the file).
    pub label: String,
    /// The IMSI; `None` before provisioning (an empty cell).
    pub imsi: Option<Imsi>,
    /// The MSISDN; `None` before provisioning (an empty cell).
    pub msisdn: Option<Msisdn>,
}

impl From<&Sim> for SimRow {
    fn from(sim: &Sim) -> Self {
        SimRow {
            iccid: sim.iccid.clone(),
            label: sim.label.as_str().to_owned(),
            imsi: sim.imsi.clone(),
            msisdn: sim.msisdn.clone(),
        }
    }
}

/// Whether `label` gets a leading `'` in the export: it starts with `=`, `+`, `-`, `@`, tab,
/// CR, LF, NUL or `'` (ORD-3). Only the first byte is looked at; every trigger is ASCII.
pub fn needs_neutralising(label: &str) -> bool {
    matches!(
        label.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\n' | b'\0' | b'\'')
    )
}

/// The label as written to the file: with one leading `'` when [`needs_neutralising`].
pub fn neutralise_label(label: &str) -> std::borrow::Cow<'_, str> {
    if needs_neutralising(label) {
        std::borrow::Cow::Owned(format!("'{label}"))
    } else {
        std::borrow::Cow::Borrowed(label)
    }
}

/// The label a label cell stands for: the cell without exactly one leading `'`, if it has one.
pub fn restore_label(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// Writes the SIM CSV of ORD-3 to any [`io::Write`], one row at a time.
///
/// ```
/// use selfcare_core::export::{SimCsvWriter, SimRow};
/// use selfcare_core::numbers::{Iccid, Msisdn};
///
/// let mut out = SimCsvWriter::new(Vec::new()).unwrap();
/// out.write(&SimRow {
///     iccid: Iccid::parse("8988228000000000004").unwrap(),
///     label: "=cmd".into(),
///     imsi: None,
///     msisdn: Some(Msisdn::parse("+491701234567").unwrap()),
/// })
/// .unwrap();
/// let bytes = out.finish().unwrap();
/// assert_eq!(
///     String::from_utf8(bytes).unwrap(),
///     "ICCID,Label,IMSI,MSISDN\r\n8988228000000000004,'=cmd,,491701234567\r\n"
/// );
/// ```
pub struct SimCsvWriter<W: io::Write> {
    csv: csv::Writer<W>,
    /// Reused for labels that get the `'` prefix, so no row allocates.
    scratch: Vec<u8>,
}

impl<W: io::Write> SimCsvWriter<W> {
    /// Starts an export into `inner` and writes the header.
    ///
    /// # Errors
    /// An I/O error of `inner`.
    pub fn new(inner: W) -> io::Result<Self> {
        let mut writer = Self::continuing(inner);
        writer.csv.write_record(HEADER)?;
        Ok(writer)
    }

    /// Continues an export whose header was written already: the rows of one chunk of a
    /// stream that a store produces in pieces (the chunks, concatenated after one header, are
    /// exactly the export [`SimCsvWriter::new`] would write).
    pub fn continuing(inner: W) -> Self {
        let csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .buffer_capacity(OUTPUT_BUFFER)
            .from_writer(inner);
        SimCsvWriter {
            csv,
            scratch: Vec::with_capacity(4 * crate::sims::SIM_LABEL_MAX_CHARS + 1),
        }
    }

    /// Writes one SIM.
    ///
    /// # Errors
    /// An I/O error of the inner writer.
    pub fn write(&mut self, row: &SimRow) -> io::Result<()> {
        self.write_parts(
            &row.iccid,
            &row.label,
            row.imsi.as_ref(),
            row.msisdn.as_ref(),
        )
    }

    /// Writes one SIM straight from its record, without building a [`SimRow`].
    ///
    /// # Errors
    /// An I/O error of the inner writer.
    pub fn write_sim(&mut self, sim: &Sim) -> io::Result<()> {
        self.write_parts(
            &sim.iccid,
            sim.label.as_str(),
            sim.imsi.as_ref(),
            sim.msisdn.as_ref(),
        )
    }

    /// Writes one SIM from borrowed parts (for stores that stream rows without owning them).
    ///
    /// # Errors
    /// An I/O error of the inner writer.
    pub fn write_parts(
        &mut self,
        iccid: &Iccid,
        label: &str,
        imsi: Option<&Imsi>,
        msisdn: Option<&Msisdn>,
    ) -> io::Result<()> {
        self.write_stored(
            iccid.as_str(),
            label,
            imsi.map(Imsi::as_str),
            msisdn.map(Msisdn::digits),
        )
    }

    /// Writes one SIM from the text a store holds: the ICCID and IMSI as digits, the MSISDN as
    /// digits without `+` (a leading `+` is dropped), the label as stored. For stores that
    /// stream an export straight from their rows: the values were validated (SIM-1, SIM-2)
    /// when they were written, and the rules of the CSV itself (a label that a spreadsheet
    /// would run gets one leading `'`) are applied here as for every other row.
    ///
    /// # Errors
    /// An I/O error of the inner writer.
    pub fn write_stored(
        &mut self,
        iccid: &str,
        label: &str,
        imsi: Option<&str>,
        msisdn: Option<&str>,
    ) -> io::Result<()> {
        self.csv.write_field(iccid)?;
        if needs_neutralising(label) {
            self.scratch.clear();
            self.scratch.push(b'\'');
            self.scratch.extend_from_slice(label.as_bytes());
            self.csv.write_field(&self.scratch)?;
        } else {
            self.csv.write_field(label)?;
        }
        self.csv.write_field(imsi.unwrap_or(""))?;
        self.csv
            .write_field(msisdn.map_or("", |m| m.strip_prefix('+').unwrap_or(m)))?;
        self.csv.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// Flushes everything written and gives the inner writer back.
    ///
    /// # Errors
    /// An I/O error of the inner writer while flushing.
    pub fn finish(self) -> io::Result<W> {
        self.csv.into_inner().map_err(|e| {
            let kind = e.error().kind();
            io::Error::new(kind, e.error().to_string())
        })
    }
}

/// Reads a SIM CSV of ORD-3 back into [`SimRow`]s, checking the header and every field.
///
/// Rows are numbered as a spreadsheet numbers them: the header is row 1, the first SIM row 2.
/// Errors name the row and the field, e.g. `row 17.iccid`; a bad row does not stop the
/// iteration, so an importer can report every bad row at once. Any bytes are accepted as input
/// without panicking.
///
/// ```
/// use selfcare_core::export::SimCsvReader;
/// let csv = "ICCID,Label,IMSI,MSISDN\r\n8988228000000000004,'=cmd,,491701234567\r\n";
/// let rows: Vec<_> = SimCsvReader::new(csv.as_bytes()).unwrap().collect();
/// let row = rows[0].as_ref().unwrap();
/// assert_eq!(row.label, "=cmd");
/// assert_eq!(row.msisdn.as_ref().unwrap().e164(), "+491701234567");
/// ```
pub struct SimCsvReader<R: io::Read> {
    csv: csv::Reader<R>,
    record: csv::ByteRecord,
    /// The spreadsheet row number of the last record read (the header is 1).
    row: u64,
    /// Set after an I/O error, which the `csv` reader cannot resume from.
    failed: bool,
}

impl<R: io::Read> SimCsvReader<R> {
    /// Opens `reader` and checks the header (an optional UTF-8 BOM, then
    /// `ICCID,Label,IMSI,MSISDN`; names compared ignoring ASCII case and surrounding spaces).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `header` with `CsvHeader` (missing or different header),
    /// or `CsvIo` when `reader` fails.
    pub fn new(reader: R) -> Result<Self> {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut this = SimCsvReader {
            csv,
            record: csv::ByteRecord::new(),
            row: 0,
            failed: false,
        };
        if !this.next_record("header")? {
            return Err(Error::validation(
                "header",
                ReasonCode::CsvHeader,
                "is missing: the file is empty",
            ));
        }
        let matches = this.record.len() == HEADER.len()
            && this
                .record
                .iter()
                .zip(HEADER)
                .enumerate()
                .all(|(i, (cell, name))| {
                    let cell = if i == 0 {
                        cell.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(cell)
                    } else {
                        cell
                    };
                    cell.trim_ascii().eq_ignore_ascii_case(name.as_bytes())
                });
        if !matches {
            return Err(Error::validation(
                "header",
                ReasonCode::CsvHeader,
                "must be ICCID,Label,IMSI,MSISDN",
            ));
        }
        Ok(this)
    }

    /// Reads the next record into the reusable buffer; `false` at the end of the input.
    fn next_record(&mut self, field: &str) -> Result<bool> {
        match self.csv.read_byte_record(&mut self.record) {
            Ok(more) => {
                if more {
                    self.row = self.row.saturating_add(1);
                }
                Ok(more)
            }
            Err(e) => {
                self.failed = true;
                Err(Error::validation(
                    field,
                    ReasonCode::CsvIo,
                    format!("could not be read: {e}"),
                ))
            }
        }
    }

    /// Reads the next SIM; `Ok(None)` at the end.
    ///
    /// # Errors
    /// [`Error::Validation`] on `row N` (`CsvFieldCount`, `CsvIo`), `row N.label`
    /// (`CsvEncoding`) or `row N.iccid` / `row N.imsi` / `row N.msisdn` (as their parsers,
    /// SIM-1).
    pub fn read_row(&mut self) -> Result<Option<SimRow>> {
        if self.failed {
            return Ok(None);
        }
        let next_row = self.row.saturating_add(1);
        if !self.next_record(&format!("row {next_row}"))? {
            return Ok(None);
        }
        let row = format!("row {}", self.row);
        self.parse_record(&row).map(Some)
    }

    fn parse_record(&self, row: &str) -> Result<SimRow> {
        let record = &self.record;
        let (Some(iccid), Some(label), Some(imsi), Some(msisdn), 4) = (
            record.get(0),
            record.get(1),
            record.get(2),
            record.get(3),
            record.len(),
        ) else {
            return Err(Error::validation(
                row,
                ReasonCode::CsvFieldCount,
                format!(
                    "has {} fields; each row has 4 (ICCID,Label,IMSI,MSISDN)",
                    record.len()
                ),
            ));
        };
        let text = |cell: &[u8], field: &str| -> Result<String> {
            std::str::from_utf8(cell).map(str::to_owned).map_err(|_| {
                Error::validation(field, ReasonCode::CsvEncoding, "is not valid UTF-8").within(row)
            })
        };
        let iccid = Iccid::parse(&text(iccid, "iccid")?).map_err(|e| e.within(row))?;
        let label = text(label, "label")?;
        let label = match label.strip_prefix('\'') {
            Some(rest) => rest.to_owned(),
            None => label,
        };
        let imsi = text(imsi, "imsi")?;
        let imsi = if imsi.trim().is_empty() {
            None
        } else {
            Some(Imsi::parse(&imsi).map_err(|e| e.within(row))?)
        };
        let msisdn = text(msisdn, "msisdn")?;
        let msisdn = if msisdn.trim().is_empty() {
            None
        } else {
            Some(Msisdn::parse(&msisdn).map_err(|e| e.within(row))?)
        };
        Ok(SimRow {
            iccid,
            label,
            imsi,
            msisdn,
        })
    }
}

impl<R: io::Read> Iterator for SimCsvReader<R> {
    type Item = Result<SimRow>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_row().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iccid(n: u32) -> Iccid {
        Iccid::from_payload(&format!("8988228{n:011}")).unwrap()
    }

    proptest! {
        /// A store's chunks (rows written from stored text by `continuing` writers) after one
        /// header are byte for byte the one-pass export, wherever the chunks are cut.
        #[test]
        fn ord_3_chunked_export_from_stored_text_equals_one_pass(
            labels in proptest::collection::vec("[=+@ a-zA-Z0-9',\"\t-]{0,12}", 1..40),
            cut in 1usize..10,
        ) {
            let rows: Vec<SimRow> = labels.iter().enumerate().map(|(i, l)| SimRow {
                iccid: iccid(u32::try_from(i).unwrap()),
                label: l.clone(),
                imsi: (i % 2 == 0).then(|| Imsi::parse("262011234567890").unwrap()),
                msisdn: (i % 3 == 0).then(|| Msisdn::parse("+491701234567").unwrap()),
            }).collect();
            let mut one = SimCsvWriter::new(Vec::new()).unwrap();
            for r in &rows {
                one.write(r).unwrap();
            }
            let one = one.finish().unwrap();
            let mut chunked = SimCsvWriter::new(Vec::new()).unwrap().finish().unwrap();
            for chunk in rows.chunks(cut) {
                let mut w = SimCsvWriter::continuing(Vec::new());
                for r in chunk {
                    w.write_stored(
                        r.iccid.as_str(),
                        &r.label,
                        r.imsi.as_ref().map(Imsi::as_str),
                        r.msisdn.as_ref().map(Msisdn::e164),
                    ).unwrap();
                }
                chunked.extend(w.finish().unwrap());
            }
            prop_assert_eq!(one, chunked);
        }
    }

    fn row(n: u32, label: &str) -> SimRow {
        SimRow {
            iccid: iccid(n),
            label: label.to_owned(),
            imsi: Some(Imsi::parse(&format!("26201{n:010}")).unwrap()),
            msisdn: Some(Msisdn::parse("+491701234567").unwrap()),
        }
    }

    fn export(rows: &[SimRow]) -> Vec<u8> {
        let mut w = SimCsvWriter::new(Vec::new()).unwrap();
        for r in rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap()
    }

    fn parse(bytes: &[u8]) -> Vec<SimRow> {
        SimCsvReader::new(bytes)
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn ord_3_exact_bytes_header_crlf_digits_only() {
        let mut unprovisioned = row(2, "Truck, \"big\"");
        unprovisioned.imsi = None;
        unprovisioned.msisdn = None;
        let out = String::from_utf8(export(&[row(1, "Truck 17"), unprovisioned])).unwrap();
        let expected = format!(
            "ICCID,Label,IMSI,MSISDN\r\n{},Truck 17,262010000000001,491701234567\r\n{},\"Truck, \"\"big\"\"\",,\r\n",
            iccid(1),
            iccid(2)
        );
        assert_eq!(out, expected);
        assert!(!out.starts_with('\u{feff}'), "no BOM");
    }

    #[test]
    fn ord_3_empty_export_has_only_the_header() {
        let out = export(&[]);
        assert_eq!(out, b"ICCID,Label,IMSI,MSISDN\r\n");
        assert!(parse(&out).is_empty());
    }

    #[test]
    fn ord_3_every_formula_prefix_gets_exactly_one_quote() {
        for first in ["=", "+", "-", "@", "\t", "\r", "\n", "\0", "'"] {
            let label = format!("{first}1+1");
            assert!(needs_neutralising(&label), "{first:?}");
            assert_eq!(neutralise_label(&label), format!("'{label}"));
            let out = export(&[row(1, &label)]);
            assert_eq!(parse(&out), vec![row(1, &label)], "{first:?}");
        }
        for plain in ["", "a=1", " =1", "#1", "1", "ש", "\"=1\""] {
            assert!(!needs_neutralising(plain), "{plain:?}");
            assert_eq!(neutralise_label(plain), plain);
        }
        // A label that really starts with quotes keeps all of them.
        assert_eq!(neutralise_label("''x"), "'''x");
        assert_eq!(restore_label("'''x"), "''x");
    }

    #[test]
    fn ord_3_sim_rows_from_sims_and_write_sim_agree() {
        use crate::ids::{OrderId, SimId};
        use crate::sims::{SimBilling, SimLabel, SimStatus};
        let now = time::macros::datetime!(2025-03-01 10:00 UTC);
        let sim = Sim {
            id: SimId::new(now, [1; 10]),
            iccid: iccid(5),
            imsi: None,
            msisdn: Some(Msisdn::parse("+972501234567").unwrap()),
            label: SimLabel::parse("-north").unwrap(),
            status: SimStatus::Enabled,
            order: OrderId::new(now, [2; 10]),
            billing: SimBilling::Tariff { code: "t".into() },
            auto_top_up: true,
        };
        let mut a = SimCsvWriter::new(Vec::new()).unwrap();
        a.write_sim(&sim).unwrap();
        let a = a.finish().unwrap();
        assert_eq!(a, export(&[SimRow::from(&sim)]));
        assert!(String::from_utf8_lossy(&a).contains(",'-north,,972501234567\r\n"));
    }

    #[test]
    fn ord_3_parser_names_row_and_field() {
        let good = iccid(1);
        let csv = format!(
            "ICCID,Label,IMSI,MSISDN\r\n{good},a,,\r\n8988228000000000005,b,,\r\n{good},c,123,\r\n{good},d,,+999 1\r\n{good},e\r\n{good},\u{ff},,\r\n"
        );
        let mut bytes = csv.into_bytes();
        // Replace the UTF-8 encoding of U+00FF with a lone invalid byte.
        let pos = bytes.windows(2).position(|w| w == [0xC3, 0xBF]).unwrap();
        bytes.splice(pos..pos + 2, [0xFF]);
        let results: Vec<_> = SimCsvReader::new(&bytes[..]).unwrap().collect();
        assert_eq!(results.len(), 6);
        assert!(results[0].is_ok());
        let fields: Vec<_> = results[1..]
            .iter()
            .map(|r| {
                let e = r.as_ref().unwrap_err();
                (e.field().unwrap().to_owned(), e.reason())
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                ("row 3.iccid".to_owned(), ReasonCode::IccidCheckDigit),
                ("row 4.imsi".to_owned(), ReasonCode::ImsiLength),
                (
                    "row 5.msisdn".to_owned(),
                    ReasonCode::PhoneNumberCountryCode
                ),
                ("row 6".to_owned(), ReasonCode::CsvFieldCount),
                ("row 7.label".to_owned(), ReasonCode::CsvEncoding),
            ]
        );
    }

    #[test]
    fn ord_3_parser_checks_header_and_tolerates_bom() {
        for bad in [
            "",
            "ICCID,Label,IMSI\r\n",
            "ICCID,IMSI,Label,MSISDN\r\n",
            "x\r\n",
        ] {
            let err = SimCsvReader::new(bad.as_bytes()).err().unwrap();
            assert_eq!(err.reason(), ReasonCode::CsvHeader, "{bad:?}");
            assert_eq!(err.field(), Some("header"));
        }
        let with_bom = format!("\u{feff}iccid, label ,IMSI,msisdn\n{},x,,\n", iccid(1));
        let rows = parse(with_bom.as_bytes());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label, "x");
    }

    #[test]
    fn ord_3_parser_reports_io_errors_once() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        assert_eq!(
            SimCsvReader::new(Broken).err().unwrap().reason(),
            ReasonCode::CsvIo
        );
    }

    #[test]
    fn ord_3_writer_reports_io_errors() {
        struct Full;
        impl io::Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let w = SimCsvWriter::new(Full).unwrap();
        assert_eq!(w.finish().err().unwrap().kind(), io::ErrorKind::StorageFull);
    }

    #[test]
    fn ord_3_writer_memory_does_not_grow_with_rows() {
        // A sink that only counts, so the only buffers are the writer's own: writing many rows
        // with long neutralised labels must not grow the reusable scratch buffer past the
        // largest label.
        struct Count(usize);
        impl io::Write for Count {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0 += b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = SimCsvWriter::new(Count(0)).unwrap();
        let r = row(1, &format!("={}", "x".repeat(63)));
        w.write(&r).unwrap();
        let capacity = w.scratch.capacity();
        for _ in 0..20_000 {
            w.write(&r).unwrap();
        }
        assert_eq!(w.scratch.capacity(), capacity);
        let written = w.finish().unwrap().0;
        assert!(written > 20_000 * 64);
    }

    fn label_strategy() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("=".to_owned()),
            Just("+".to_owned()),
            Just("-".to_owned()),
            Just("@".to_owned()),
            Just("'".to_owned()),
            Just("\t".to_owned()),
            Just("\r".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\0".to_owned()),
            Just("\"".to_owned()),
            Just(",".to_owned()),
            Just(" ".to_owned()),
            Just("שלום".to_owned()),
            Just("\u{feff}".to_owned()),
            "[a-z0-9]{1,5}",
            "\\PC{1,3}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn ord_3_export_then_parse_is_identity(
            labels in prop::collection::vec(label_strategy(), 0..8),
            provisioned in prop::collection::vec(any::<bool>(), 8),
        ) {
            let rows: Vec<SimRow> = labels.iter().enumerate().map(|(i, l)| {
                let mut r = row(u32::try_from(i).unwrap(), l);
                if !provisioned[i] {
                    r.imsi = None;
                    r.msisdn = None;
                }
                r
            }).collect();
            let out = export(&rows);
            let text = String::from_utf8(out.clone()).unwrap();
            prop_assert_eq!(text.matches("ICCID,Label,IMSI,MSISDN").count(), 1);
            prop_assert!(text.starts_with("ICCID,Label,IMSI,MSISDN\r\n"));
            prop_assert_eq!(parse(&out), rows.clone());

            // Each record's label cell as the csv crate sees it starts with `'` exactly when
            // the label needed neutralising, so no spreadsheet runs it.
            let mut rdr = csv::ReaderBuilder::new().from_reader(&out[..]);
            for (record, r) in rdr.records().zip(&rows) {
                let record = record.unwrap();
                let cell = record.get(1).unwrap();
                if needs_neutralising(&r.label) {
                    prop_assert!(cell.starts_with('\''));
                    prop_assert_eq!(&cell[1..], r.label.as_str());
                } else {
                    prop_assert_eq!(cell, r.label.as_str());
                }
                prop_assert!(!needs_neutralising(cell) || cell.starts_with('\''));
            }
        }

        #[test]
        fn ord_3_parser_never_panics_on_arbitrary_bytes(
            body in prop::collection::vec(any::<u8>(), 0..400),
            with_header in any::<bool>(),
        ) {
            let mut bytes = if with_header { b"ICCID,Label,IMSI,MSISDN\r\n".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&body);
            if let Ok(reader) = SimCsvReader::new(&bytes[..]) {
                for item in reader.take(1000) {
                    if let Err(e) = item {
                        prop_assert!(e.field().unwrap_or_default().starts_with("row "));
                    }
                }
            }
        }
    }
}
