//! The server's certificate: from PEM files, or self-signed for
//! development.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// A certificate chain and its private key.
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, Error> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Error::Tls(format!("{}: {e}", cert.display())))?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| Error::Tls(format!("{}: {e}", key.display())))?;
        Self::new(chain, key)
    }

    /// Parses a PEM certificate chain and a PEM private key.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, Error> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("certificate: {e}")))?;
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|e| Error::Tls(format!("key: {e}")))?;
        Self::new(chain, key)
    }

    /// A new self-signed certificate for `domain` (and `localhost`), made
    /// with rcgen: for development and tests. Clients must be told to
    /// accept it; [`TlsIdentity::fingerprint`] is what to compare.
    pub fn self_signed(domain: &str) -> Result<Self, Error> {
        let names = vec![domain.to_owned(), "localhost".to_owned()];
        let certified =
            rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(e.to_string()))?;
        let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .map_err(|e| Error::Tls(e.to_string()))?;
        Self::new(vec![certified.cert.der().clone()], key)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, Error> {
        if chain.is_empty() {
            return Err(Error::Tls("no certificate in the chain".into()));
        }
        let identity = Self { chain, key };
        identity.server_config()?; // refuse a key that does not fit now, not at the first client
        Ok(identity)
    }

    /// The leaf certificate, DER-encoded: what a test client trusts.
    pub fn certificate_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |cert| cert.as_ref())
    }

    /// The leaf certificate, PEM-encoded.
    pub fn certificate_pem(&self) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(self.certificate_der());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    /// The SHA-256 fingerprint of the leaf certificate, as clients show it:
    /// upper-case hex pairs joined by colons.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.certificate_der())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3).
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(Arc::new(config))
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trips_through_pem() {
        let identity = TlsIdentity::self_signed("salesiq.zoho.com").unwrap();
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
        let key_pem = match &identity.key {
            PrivateKeyDer::Pkcs8(key) => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD.encode(key.secret_pkcs8_der());
                format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
            }
            other => panic!("{other:?}"),
        };
        let again =
            TlsIdentity::from_pem(identity.certificate_pem().as_bytes(), key_pem.as_bytes())
                .unwrap();
        assert_eq!(again.fingerprint(), identity.fingerprint());
        assert!(matches!(
            TlsIdentity::from_pem(b"", key_pem.as_bytes()),
            Err(Error::Tls(_))
        ));
        assert!(matches!(
            TlsIdentity::from_pem(identity.certificate_pem().as_bytes(), b"junk"),
            Err(Error::Tls(_))
        ));
    }
}
