//! The visitor's country, from a GeoIP database in MaxMind's mmdb format.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[cfg(feature = "geoip")]
use maxminddb::geoip2;

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoIpError {
    /// The file could not be read.
    #[error("GeoIP database {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The bytes are not a MaxMind DB (mmdb) file.
    #[error("GeoIP database {origin}: not a MaxMind DB (mmdb) file: {message}")]
    Invalid {
        /// The file, or `"bytes"` for [`GeoIp::from_bytes`].
        origin: String,
        /// The reader's reason.
        message: String,
    },
    /// This build reads no GeoIP databases: salesiq-web's feature
    /// `geoip` (on by default) is off.
    #[error(
        "GeoIP database {origin}: this build reads no GeoIP databases (salesiq-web's feature `geoip` is off)"
    )]
    Unsupported {
        /// The file, or `"bytes"`.
        origin: String,
    },
}

/// A GeoIP database in MaxMind's mmdb format (GeoLite2-Country,
/// GeoIP2-Country, DB-IP's free "IP to Country Lite"; a City database
/// works too), read with the `maxminddb` crate: an address's country.
///
/// The whole file is read into memory once, at [`GeoIp::open`]; a lookup
/// ([`GeoIp::country`]) is a walk of its search tree, microseconds, with
/// no I/O. A replaced file is seen at the next start.
///
/// ```
/// use salesiq_web::{GeoIp, GeoIpError};
///
/// // A file that is not a MaxMind DB is refused when it is opened.
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("GeoLite2-Country.mmdb");
/// std::fs::write(&path, b"not a database").unwrap();
/// assert!(matches!(GeoIp::open(&path), Err(GeoIpError::Invalid { .. })));
/// ```
pub struct GeoIp {
    #[cfg(feature = "geoip")]
    reader: maxminddb::Reader<Vec<u8>>,
    /// Without the feature, no `GeoIp` is ever made.
    #[cfg(not(feature = "geoip"))]
    never: std::convert::Infallible,
}

#[cfg(not(feature = "geoip"))]
impl fmt::Debug for GeoIp {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.never {}
    }
}

#[cfg(feature = "geoip")]
impl fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = self.reader.metadata();
        f.debug_struct("GeoIp")
            .field("database_type", &metadata.database_type)
            .field("build_epoch", &metadata.build_epoch)
            .finish_non_exhaustive()
    }
}

impl GeoIp {
    /// Reads the database at `path` (e.g. `GeoLite2-Country.mmdb`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoIpError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::read(bytes, &path.display().to_string())
    }

    /// The database in `bytes`, the contents of an mmdb file.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
        Self::read(bytes, "bytes")
    }

    #[cfg(not(feature = "geoip"))]
    fn read(_: Vec<u8>, origin: &str) -> Result<Self, GeoIpError> {
        Err(GeoIpError::Unsupported {
            origin: origin.to_owned(),
        })
    }

    #[cfg(feature = "geoip")]
    fn read(bytes: Vec<u8>, origin: &str) -> Result<Self, GeoIpError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| GeoIpError::Invalid {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self { reader })
    }

    /// What the database says it is, e.g. `GeoLite2-Country` or
    /// `DBIP-Country-Lite`.
    pub fn database_type(&self) -> &str {
        #[cfg(not(feature = "geoip"))]
        match self.never {}
        #[cfg(feature = "geoip")]
        &self.reader.metadata().database_type
    }

    /// The country of `ip`: its English name (e.g. "Japan"), or its ISO
    /// 3166 code (e.g. "JP") when the database has no English name.
    /// `None` when the database does not know the address (private ranges,
    /// an IPv6 address in an IPv4-only database) or its record cannot be
    /// read. Where the record has no country (some satellite and anonymous
    /// networks), the country the network is registered in is taken.
    /// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are looked up as
    /// the IPv4 address they carry.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        #[cfg(not(feature = "geoip"))]
        match (self.never, ip) {}
        #[cfg(feature = "geoip")]
        self.lookup(ip)
    }

    #[cfg(feature = "geoip")]
    fn lookup(&self, ip: IpAddr) -> Option<String> {
        let result = self.reader.lookup(ip.to_canonical()).ok()?;
        let record: geoip2::Country<'_> = result.decode().ok()??;
        [record.country, record.registered_country]
            .into_iter()
            .find_map(|country| {
                let name = country.names.english.or(country.iso_code)?;
                Some(name.trim().to_owned()).filter(|n| !n.is_empty())
            })
    }
}

#[cfg(all(test, feature = "geoip"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use mmdb_writer::ipnet::IpNet;
    use mmdb_writer::{IpVersion, Value, Writer};

    use super::*;

    fn country(iso_code: &str, english: Option<&str>) -> Value {
        let mut fields = vec![("iso_code", Value::from(iso_code))];
        if let Some(name) = english {
            fields.push(("names", Value::map([("en", name), ("ja", "日本")])));
        }
        Value::map(fields)
    }

    /// A small country database: 203.0.113.0/24 and 2001:db8::/32 in
    /// Japan, 198.51.100.0/24 with only an ISO code, 192.0.2.0/24 with only
    /// a registered country.
    fn database() -> GeoIp {
        let mut writer = Writer::new("Test-Country");
        let japan = Value::map([("country", country("JP", Some("Japan")))]);
        for net in ["203.0.113.0/24", "2001:db8::/32"] {
            writer
                .insert_value(net.parse::<IpNet>().unwrap(), japan.clone())
                .unwrap();
        }
        let code_only = Value::map([("country", country("NZ", None))]);
        writer
            .insert_value("198.51.100.0/24".parse::<IpNet>().unwrap(), code_only)
            .unwrap();
        let registered = Value::map([("registered_country", country("FR", Some("France")))]);
        writer
            .insert_value("192.0.2.0/24".parse::<IpNet>().unwrap(), registered)
            .unwrap();
        GeoIp::from_bytes(writer.to_bytes().unwrap()).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_known_network_has_its_country_by_english_name() {
        let db = database();
        assert_eq!(db.country(ip("203.0.113.7")).as_deref(), Some("Japan"));
        assert_eq!(db.country(ip("2001:db8::1")).as_deref(), Some("Japan"));
        assert_eq!(
            db.country(ip("::ffff:203.0.113.7")).as_deref(),
            Some("Japan"),
            "an IPv4-mapped address is its IPv4 address"
        );
        assert_eq!(db.database_type(), "Test-Country");
    }

    #[test]
    fn without_an_english_name_the_iso_code_is_shown() {
        assert_eq!(
            database().country(ip("198.51.100.1")).as_deref(),
            Some("NZ")
        );
    }

    #[test]
    fn without_a_country_the_registered_country_is_shown() {
        assert_eq!(
            database().country(ip("192.0.2.1")).as_deref(),
            Some("France")
        );
    }

    #[test]
    fn an_unknown_address_has_no_country() {
        let db = database();
        assert_eq!(db.country(ip("127.0.0.1")), None);
        assert_eq!(db.country(ip("203.0.114.1")), None);
        assert_eq!(db.country(ip("2001:db9::1")), None);
    }

    #[test]
    fn an_ipv4_database_knows_no_ipv6_address() {
        let mut writer = Writer::builder("Test-V4").ip_version(IpVersion::V4).build();
        let japan = Value::map([("country", country("JP", Some("Japan")))]);
        writer
            .insert_value("203.0.113.0/24".parse::<IpNet>().unwrap(), japan)
            .unwrap();
        let db = GeoIp::from_bytes(writer.to_bytes().unwrap()).unwrap();
        assert_eq!(db.country(ip("203.0.113.9")).as_deref(), Some("Japan"));
        assert_eq!(db.country(ip("2001:db8::1")), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.mmdb");
        std::fs::write(&garbage, b"\xab\xcd\xefMaxMind.com but nothing after it").unwrap();
        let error = GeoIp::open(&garbage).unwrap_err();
        assert!(
            matches!(&error, GeoIpError::Invalid { origin, .. } if origin.ends_with("garbage.mmdb")),
            "{error}"
        );
        assert!(error.to_string().contains("not a MaxMind DB"), "{error}");
        // Bytes cut short: the metadata is gone.
        let mut bytes = Writer::new("Test").to_bytes().unwrap();
        bytes.truncate(bytes.len() / 2);
        assert!(matches!(
            GeoIp::from_bytes(bytes),
            Err(GeoIpError::Invalid { .. })
        ));
        let missing = GeoIp::open(dir.path().join("missing.mmdb")).unwrap_err();
        assert!(
            matches!(&missing, GeoIpError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{missing}"
        );
    }
}
