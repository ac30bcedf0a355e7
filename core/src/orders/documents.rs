//! Invoices and additional documents (ORD-2). An invoice is never edited: a correction adds an
//! [`AdditionalDocument`] (credit note, corrected invoice, other) linked to it.

use std::fmt;

use time::Date;

use crate::contact::Language;
use crate::digest::Sha256Digest;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::{DocumentId, OrderId};
use crate::money::Money;

use super::pricing::OrderTotals;

/// Largest document file accepted (the billing system's PDFs are far smaller).
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;
/// Longest document number.
const NUMBER_MAX: usize = 64;

/// A document number (invoice, credit note): 1 to 64 visible ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    /// Parses a number assigned elsewhere (a billing system).
    ///
    /// # Errors
    /// [`Error::Validation`] on `number` with `Required`, `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let n = raw.trim();
        if n.is_empty() {
            return Err(Error::validation(
                "number",
                ReasonCode::Required,
                "is required",
            ));
        }
        if n.len() > NUMBER_MAX {
            return Err(Error::validation(
                "number",
                ReasonCode::TooLong,
                format!("is longer than {NUMBER_MAX} characters"),
            ));
        }
        if !n.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                "number",
                ReasonCode::InvalidFormat,
                "may contain only visible ASCII characters",
            ));
        }
        Ok(InvoiceNumber(n.to_owned()))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvoiceNumber({})", self.0)
    }
}
impl TryFrom<String> for InvoiceNumber {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<InvoiceNumber> for String {
    fn from(value: InvoiceNumber) -> String {
        value.0
    }
}

/// Invoice numbering from the configuration: `{prefix}-{year}-{sequence}` with the sequence
/// zero-padded to `width` digits (`INV-2026-000123`). The store owns the counter; this only
/// formats.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "NumberingData", into = "NumberingData")]
pub struct InvoiceNumbering {
    prefix: String,
    include_year: bool,
    width: u8,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberingData {
    prefix: String,
    include_year: bool,
    width: u8,
}

impl Default for InvoiceNumbering {
    /// `INV-{year}-{000000}`.
    fn default() -> Self {
        InvoiceNumbering {
            prefix: "INV".to_owned(),
            include_year: true,
            width: 6,
        }
    }
}

impl InvoiceNumbering {
    /// A numbering scheme. `prefix` may be empty; it has at most 16 characters of `A-Z`,
    /// `0-9`, `-`, `/`. `width` is 1..=12.
    ///
    /// # Errors
    /// [`Error::Validation`] on `invoice_numbering.prefix` (`TooLong`, `InvalidFormat`) or
    /// `invoice_numbering.width` (`OutOfRange`).
    pub fn new(prefix: &str, include_year: bool, width: u8) -> Result<Self> {
        let prefix = prefix.trim();
        if prefix.len() > 16 {
            return Err(Error::validation(
                "invoice_numbering.prefix",
                ReasonCode::TooLong,
                "is longer than 16 characters",
            ));
        }
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'-' | b'/'))
        {
            return Err(Error::validation(
                "invoice_numbering.prefix",
                ReasonCode::InvalidFormat,
                "may contain only A-Z, 0-9, '-' and '/'",
            ));
        }
        if !(1..=12).contains(&width) {
            return Err(Error::validation(
                "invoice_numbering.width",
                ReasonCode::OutOfRange,
                "must be between 1 and 12",
            ));
        }
        Ok(InvoiceNumbering {
            prefix: prefix.to_owned(),
            include_year,
            width,
        })
    }

    /// Formats the number of invoice `sequence` (from 1) issued in `year`. A sequence wider
    /// than `width` is written in full, never truncated.
    ///
    /// ```
    /// use selfcare_core::orders::InvoiceNumbering;
    /// let n = InvoiceNumbering::default().format(2026, 123).unwrap();
    /// assert_eq!(n.as_str(), "INV-2026-000123");
    /// ```
    ///
    /// # Errors
    /// [`Error::Validation`] on `sequence` with `OutOfRange` for 0, or on `year` outside
    /// 1..=9999.
    pub fn format(&self, year: i32, sequence: u64) -> Result<InvoiceNumber> {
        if sequence == 0 {
            return Err(Error::validation(
                "sequence",
                ReasonCode::OutOfRange,
                "starts at 1",
            ));
        }
        if !(1..=9999).contains(&year) {
            return Err(Error::validation(
                "year",
                ReasonCode::OutOfRange,
                "must be between 1 and 9999",
            ));
        }
        let width = usize::from(self.width);
        let mut parts = Vec::with_capacity(3);
        if !self.prefix.is_empty() {
            parts.push(self.prefix.clone());
        }
        if self.include_year {
            parts.push(format!("{year:04}"));
        }
        parts.push(format!("{sequence:0width$}"));
        InvoiceNumber::parse(&parts.join("-"))
    }
}

impl TryFrom<NumberingData> for InvoiceNumbering {
    type Error = Error;
    fn try_from(d: NumberingData) -> Result<Self> {
        InvoiceNumbering::new(&d.prefix, d.include_year, d.width)
    }
}
impl From<InvoiceNumbering> for NumberingData {
    fn from(n: InvoiceNumbering) -> Self {
        NumberingData {
            prefix: n.prefix,
            include_year: n.include_year,
            width: n.width,
        }
    }
}

/// The stored bytes of a document, described: a PDF from the billing system, its size and
/// SHA-256 (hex). The bytes themselves live in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentFile {
    media_type: String,
    size: u64,
    sha256: Sha256Digest,
}

impl DocumentFile {
    /// Describes a PDF after checking it is one (`%PDF-` header) and not too large.
    ///
    /// # Errors
    /// [`Error::Validation`] on `file` with `Required` (empty), `TooLong` (over
    /// [`MAX_DOCUMENT_BYTES`]) or `DocumentNotPdf`.
    pub fn pdf(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::validation("file", ReasonCode::Required, "is empty"));
        }
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::validation(
                "file",
                ReasonCode::TooLong,
                format!("is larger than {} MiB", MAX_DOCUMENT_BYTES / 1024 / 1024),
            ));
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err(Error::validation(
                "file",
                ReasonCode::DocumentNotPdf,
                "is not a PDF document",
            ));
        }
        Ok(DocumentFile {
            media_type: "application/pdf".to_owned(),
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            sha256: Sha256Digest::of(bytes),
        })
    }

    /// `application/pdf`.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// SHA-256 of the bytes (for integrity checks on download); serialised as lower-case hex.
    pub fn sha256(&self) -> Sha256Digest {
        self.sha256
    }
}

/// What an invoice is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvoice {
    /// The document id.
    pub id: DocumentId,
    /// The order invoiced.
    pub order: OrderId,
    /// The invoice number ([`InvoiceNumbering::format`] or the billing system's).
    pub number: InvoiceNumber,
    /// Date of issue.
    pub issued_on: Date,
    /// The amounts (normally the order's totals).
    pub amounts: OrderTotals,
    /// The customer's contact language at issue (ACC-4).
    pub language: Language,
    /// The attached PDF.
    pub file: DocumentFile,
}

/// The invoice of an order (ORD-2). It has no setters: it is never edited once issued.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    id: DocumentId,
    order: OrderId,
    number: InvoiceNumber,
    #[serde(with = "crate::formats::date")]
    issued_on: Date,
    amounts: OrderTotals,
    language: Language,
    file: DocumentFile,
}

impl Invoice {
    /// An invoice.
    ///
    /// # Errors
    /// [`Error::Validation`] on `amounts` with `AmountInvalid` when net + VAT ≠ gross, or
    /// `CurrencyMismatch`.
    pub fn new(new: NewInvoice) -> Result<Self> {
        check_totals(&new.amounts)?;
        Ok(Invoice {
            id: new.id,
            order: new.order,
            number: new.number,
            issued_on: new.issued_on,
            amounts: new.amounts,
            language: new.language,
            file: new.file,
        })
    }

    /// The document id.
    pub fn id(&self) -> DocumentId {
        self.id
    }
    /// The order.
    pub fn order(&self) -> OrderId {
        self.order
    }
    /// The invoice number.
    pub fn number(&self) -> &InvoiceNumber {
        &self.number
    }
    /// Date of issue.
    pub fn issued_on(&self) -> Date {
        self.issued_on
    }
    /// The amounts.
    pub fn amounts(&self) -> &OrderTotals {
        &self.amounts
    }
    /// The document's language.
    pub fn language(&self) -> Language {
        self.language
    }
    /// The attached file.
    pub fn file(&self) -> &DocumentFile {
        &self.file
    }
}

fn check_totals(t: &OrderTotals) -> Result<()> {
    if t.net.checked_add(t.vat)? != t.gross {
        return Err(Error::validation(
            "amounts",
            ReasonCode::AmountInvalid,
            "net + VAT must equal gross",
        ));
    }
    if t.net.is_negative() || t.vat.is_negative() {
        return Err(Error::validation(
            "amounts",
            ReasonCode::AmountInvalid,
            "amounts are written as positive numbers",
        ));
    }
    Ok(())
}

/// The kind of an additional document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Credits (part of) the invoice back: a refund. Its amounts are the amounts credited.
    CreditNote,
    /// Replaces the invoice's content for the customer's records; the original stays.
    CorrectedInvoice,
    /// Anything else the billing system issues about the order (e.g. a delivery note).
    Other,
}

/// What an additional document is made from; `amounts` are required for a credit note and a
/// corrected invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// The document id.
    pub id: DocumentId,
    /// The kind.
    pub kind: DocumentKind,
    /// Its number.
    pub number: InvoiceNumber,
    /// Date of issue.
    pub issued_on: Date,
    /// The amounts (credited, or of the corrected invoice), positive.
    pub amounts: Option<OrderTotals>,
    /// The document's language.
    pub language: Language,
    /// The attached PDF.
    pub file: DocumentFile,
    /// A short note for the customer (at most 500 characters).
    pub note: String,
}

/// An additional document (ORD-2), linked to the invoice it corrects.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdditionalDocument {
    id: DocumentId,
    kind: DocumentKind,
    number: InvoiceNumber,
    corrects: DocumentId,
    order: OrderId,
    #[serde(with = "crate::formats::date")]
    issued_on: Date,
    amounts: Option<OrderTotals>,
    language: Language,
    file: DocumentFile,
    note: String,
}

impl AdditionalDocument {
    /// The document's id.
    pub fn id(&self) -> DocumentId {
        self.id
    }
    /// Its kind.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }
    /// Its number.
    pub fn number(&self) -> &InvoiceNumber {
        &self.number
    }
    /// The invoice it corrects.
    pub fn corrects(&self) -> DocumentId {
        self.corrects
    }
    /// The order.
    pub fn order(&self) -> OrderId {
        self.order
    }
    /// Date of issue.
    pub fn issued_on(&self) -> Date {
        self.issued_on
    }
    /// Its amounts, if it carries any.
    pub fn amounts(&self) -> Option<&OrderTotals> {
        self.amounts.as_ref()
    }
    /// Its language.
    pub fn language(&self) -> Language {
        self.language
    }
    /// The attached file.
    pub fn file(&self) -> &DocumentFile {
        &self.file
    }
    /// The note for the customer.
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// An invoice and the additional documents linked to it, oldest first: what the Orders page
/// shows in its "Invoice" and "Additional Documents" columns.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentTrail {
    invoice: Invoice,
    additional: Vec<AdditionalDocument>,
}

impl DocumentTrail {
    /// The trail of a freshly issued invoice.
    pub fn new(invoice: Invoice) -> Self {
        DocumentTrail {
            invoice,
            additional: Vec::new(),
        }
    }

    /// The original invoice, exactly as issued.
    pub fn invoice(&self) -> &Invoice {
        &self.invoice
    }

    /// The additional documents, in the order they were added.
    pub fn additional(&self) -> &[AdditionalDocument] {
        &self.additional
    }

    /// Gross amount still creditable: the invoice's gross minus every credit note.
    ///
    /// # Errors
    /// [`Error::Validation`] with `AmountInvalid` on overflow.
    pub fn creditable(&self) -> Result<Money> {
        self.additional
            .iter()
            .filter(|d| d.kind == DocumentKind::CreditNote)
            .filter_map(|d| d.amounts.as_ref())
            .try_fold(self.invoice.amounts.gross, |left, a| {
                left.checked_sub(a.gross)
            })
    }

    /// Adds a document correcting the invoice; the invoice itself is left untouched.
    ///
    /// # Errors
    /// [`Error::Validation`] on `amounts` (`Required` for a credit note or corrected invoice
    /// without amounts, `AmountInvalid`, `CurrencyMismatch`) or `note`;
    /// [`Error::Conflict`] with `DuplicateDocument` for a reused id or number, or
    /// `CreditExceedsInvoice` when credit notes would exceed the invoice's gross total.
    pub fn add(&mut self, new: NewDocument) -> Result<&AdditionalDocument> {
        let note = text_field("note", &new.note, 500, false, true)?;
        let duplicate = new.id == self.invoice.id
            || new.number == self.invoice.number
            || self
                .additional
                .iter()
                .any(|d| d.id == new.id || d.number == new.number);
        if duplicate {
            return Err(Error::conflict(ReasonCode::DuplicateDocument));
        }
        match (&new.amounts, new.kind) {
            (None, DocumentKind::CreditNote | DocumentKind::CorrectedInvoice) => {
                return Err(Error::validation(
                    "amounts",
                    ReasonCode::Required,
                    "a credit note or corrected invoice states its amounts",
                ));
            }
            (Some(a), _) => {
                check_totals(a)?;
                if a.gross.currency != self.invoice.amounts.gross.currency {
                    return Err(Error::validation(
                        "amounts",
                        ReasonCode::CurrencyMismatch,
                        "must be in the invoice's currency",
                    ));
                }
            }
            (None, DocumentKind::Other) => {}
        }
        if let (DocumentKind::CreditNote, Some(a)) = (new.kind, &new.amounts)
            && self.creditable()?.checked_sub(a.gross)?.is_negative()
        {
            return Err(Error::conflict(ReasonCode::CreditExceedsInvoice));
        }
        self.additional.push(AdditionalDocument {
            id: new.id,
            kind: new.kind,
            number: new.number,
            corrects: self.invoice.id,
            order: self.invoice.order,
            issued_on: new.issued_on,
            amounts: new.amounts,
            language: new.language,
            file: new.file,
            note,
        });
        self.additional
            .last()
            .ok_or(Error::conflict(ReasonCode::DuplicateDocument))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use time::macros::{date, datetime};

    fn totals(net: i64, vat: i64) -> OrderTotals {
        OrderTotals {
            net: Money::from_minor(net, Currency::EUR),
            vat: Money::from_minor(vat, Currency::EUR),
            gross: Money::from_minor(net + vat, Currency::EUR),
        }
    }

    fn doc_id(n: u8) -> DocumentId {
        DocumentId::new(datetime!(2026-01-01 0:00 UTC), [n; 10])
    }

    fn pdf() -> DocumentFile {
        DocumentFile::pdf(b"%PDF-1.7\n...").unwrap()
    }

    fn invoice() -> Invoice {
        Invoice::new(NewInvoice {
            id: doc_id(1),
            order: OrderId::new(datetime!(2026-01-01 0:00 UTC), [9; 10]),
            number: InvoiceNumbering::default().format(2026, 1).unwrap(),
            issued_on: date!(2026 - 01 - 02),
            amounts: totals(10000, 1900),
            language: Language::German,
            file: pdf(),
        })
        .unwrap()
    }

    fn credit(n: u8, net: i64, vat: i64) -> NewDocument {
        NewDocument {
            id: doc_id(n),
            kind: DocumentKind::CreditNote,
            number: InvoiceNumber::parse(&format!("CN-2026-{n:06}")).unwrap(),
            issued_on: date!(2026 - 02 - 01),
            amounts: Some(totals(net, vat)),
            language: Language::German,
            file: pdf(),
            note: "Refund of one SIM".into(),
        }
    }

    #[test]
    fn ord_2_invoice_numbering_formats_the_sequence() {
        let n = InvoiceNumbering::default();
        assert_eq!(n.format(2026, 123).unwrap().as_str(), "INV-2026-000123");
        assert_eq!(
            n.format(2026, 1_234_567).unwrap().as_str(),
            "INV-2026-1234567"
        );
        assert_eq!(
            n.format(2026, 0).unwrap_err().reason(),
            ReasonCode::OutOfRange
        );
        let plain = InvoiceNumbering::new("", false, 4).unwrap();
        assert_eq!(plain.format(2026, 7).unwrap().as_str(), "0007");
        assert!(InvoiceNumbering::new("inv", true, 6).is_err());
        assert!(InvoiceNumbering::new("INV", true, 0).is_err());
    }

    #[test]
    fn ord_2_correction_adds_documents_and_never_edits_the_invoice() {
        let original = invoice();
        let mut trail = DocumentTrail::new(original.clone());
        let cn = trail.add(credit(2, 5000, 950)).unwrap().clone();
        assert_eq!(cn.corrects(), original.id());
        assert_eq!(cn.order(), original.order());
        assert_eq!(trail.invoice(), &original);
        assert_eq!(
            trail.creditable().unwrap(),
            Money::from_minor(5950, Currency::EUR)
        );
        // A second credit note beyond the rest is refused; up to the rest is fine.
        assert_eq!(
            trail.add(credit(3, 5001, 950)).unwrap_err(),
            Error::conflict(ReasonCode::CreditExceedsInvoice)
        );
        trail.add(credit(4, 5000, 950)).unwrap();
        assert!(trail.creditable().unwrap().amount.is_zero());
        // Reusing a number is a conflict.
        assert_eq!(
            trail.add(credit(5, 1, 0)).map(|_| ()).unwrap_err(),
            Error::conflict(ReasonCode::CreditExceedsInvoice)
        );
        let mut dup = credit(6, 0, 0);
        dup.number = cn.number().clone();
        assert_eq!(
            trail.add(dup).unwrap_err(),
            Error::conflict(ReasonCode::DuplicateDocument)
        );
        assert_eq!(trail.additional().len(), 2);
        assert_eq!(trail.invoice(), &original);
    }

    #[test]
    fn ord_2_documents_need_consistent_amounts() {
        let mut trail = DocumentTrail::new(invoice());
        let mut corrected = credit(2, 100, 19);
        corrected.kind = DocumentKind::CorrectedInvoice;
        corrected.amounts = None;
        assert_eq!(
            trail.add(corrected).unwrap_err().reason(),
            ReasonCode::Required
        );
        let mut bad = credit(3, 100, 19);
        if let Some(a) = bad.amounts.as_mut() {
            a.gross = Money::from_minor(120, Currency::EUR);
        }
        assert_eq!(
            trail.add(bad).unwrap_err().reason(),
            ReasonCode::AmountInvalid
        );
        let mut other = credit(4, 0, 0);
        other.kind = DocumentKind::Other;
        other.amounts = None;
        assert!(trail.add(other).is_ok());
    }

    #[test]
    fn ord_2_document_file_must_be_a_pdf() {
        assert_eq!(
            DocumentFile::pdf(b"GIF89a").unwrap_err().reason(),
            ReasonCode::DocumentNotPdf
        );
        assert_eq!(
            DocumentFile::pdf(b"").unwrap_err().reason(),
            ReasonCode::Required
        );
        let f = pdf();
        assert_eq!(f.size(), 12);
        assert_eq!(f.sha256(), Sha256Digest::of(b"%PDF-1.7\n..."));
        assert_eq!(f.sha256().to_hex().len(), 64);
        assert_eq!(f.media_type(), "application/pdf");
    }
}
