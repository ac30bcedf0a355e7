//! Shared input shapes of the fuzz targets, so the seed generator in `examples/` writes exactly
//! what the targets read.

use arbitrary::Arbitrary;
use selfcare_core::address::AddressInput;

/// The fields of an address form as arbitrary strings; decoded by the `address` target.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct AddressFields {
    /// Name.
    pub name: String,
    /// Company.
    pub company: Option<String>,
    /// Street.
    pub street: String,
    /// House number.
    pub house_number: Option<String>,
    /// Line 2.
    pub line2: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// City.
    pub city: String,
    /// Region.
    pub region: Option<String>,
    /// Country code.
    pub country: String,
    /// Phone (last: it takes the rest of the input).
    pub phone: Option<String>,
}

impl From<AddressFields> for AddressInput {
    fn from(f: AddressFields) -> Self {
        AddressInput {
            name: f.name,
            company: f.company,
            street: f.street,
            house_number: f.house_number,
            line2: f.line2,
            postal_code: f.postal_code,
            city: f.city,
            region: f.region,
            country: f.country,
            phone: f.phone,
        }
    }
}
