//! The server's certificate: from PEM files, or self-signed for
//! development.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha1::Sha1;
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

    /// A new self-signed certificate for `domain` (and `localhost` and
    /// `127.0.0.1`), made with rcgen: for development and tests. Clients
    /// must be told to accept it; [`TlsIdentity::fingerprint`] is what to
    /// compare.
    pub fn self_signed(domain: &str) -> Result<Self, Error> {
        let (cert, key) = Self::self_signed_pem(domain, &[])?;
        Self::from_pem(cert.as_bytes(), key.as_bytes())
    }

    /// A new self-signed certificate and its key, PEM-encoded (to keep in
    /// files, so that a fingerprint users accepted stays valid). The
    /// subject's common name is `domain`; the names it is valid for are
    /// `domain`, `localhost`, `127.0.0.1` and every one of `hosts` (host
    /// names or IP addresses: clients such as finch check the host they
    /// connect to, not the XMPP domain).
    pub fn self_signed_pem(domain: &str, hosts: &[&str]) -> Result<(String, String), Error> {
        let tls = |e: rcgen::Error| Error::Tls(e.to_string());
        let mut names = vec![
            domain.to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        for host in hosts {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
                names.push((*host).to_owned());
            }
        }
        let mut params = rcgen::CertificateParams::new(names).map_err(tls)?;
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CommonName, domain);
        params.distinguished_name = subject;
        let key = rcgen::KeyPair::generate().map_err(tls)?;
        let cert = params.self_signed(&key).map_err(tls)?;
        Ok((cert.pem(), key.serialize_pem()))
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
        colon_hex(&Sha256::digest(self.certificate_der()))
    }

    /// The SHA-1 fingerprint of the leaf certificate, upper-case hex pairs
    /// joined by colons: what profanity shows.
    pub fn fingerprint_sha1(&self) -> String {
        colon_hex(&Sha1::digest(self.certificate_der()))
    }

    /// The SHA-256 fingerprint as lower-case hex without colons: what
    /// mcabber's `ssl_fingerprint` wants.
    pub fn fingerprint_hex(&self) -> String {
        Sha256::digest(self.certificate_der())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
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

/// Upper-case hex pairs joined by colons, as clients show fingerprints.
fn colon_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
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

    /// Issue 10, defect 9: the domain is the common name, and the
    /// certificate is valid for 127.0.0.1 and the public host too.
    #[test]
    fn self_signed_names_the_domain_and_the_hosts() {
        use rustls::client::danger::ServerCertVerifier as _;
        let (pem, _) =
            TlsIdentity::self_signed_pem("salesiq.zoho.com", &["chat.example.net"]).unwrap();
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new({
                let mut roots = rustls::RootCertStore::empty();
                roots.add(der.clone()).unwrap();
                roots
            }),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        for name in [
            "salesiq.zoho.com",
            "localhost",
            "127.0.0.1",
            "chat.example.net",
        ] {
            let server = rustls::pki_types::ServerName::try_from(name).unwrap();
            assert!(
                verifier
                    .verify_server_cert(&der, &[], &server, &[], now)
                    .is_ok(),
                "{name}"
            );
        }
        let other = rustls::pki_types::ServerName::try_from("other.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&der, &[], &other, &[], now)
                .is_err()
        );
        // The common name is the domain: its UTF8String is in the subject.
        let cn = b"salesiq.zoho.com";
        assert!(der.as_ref().windows(cn.len()).any(|w| w == cn));
    }

    #[test]
    fn self_signed_round_trips_through_pem() {
        let identity = TlsIdentity::self_signed("salesiq.zoho.com").unwrap();
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
        assert_eq!(identity.fingerprint_sha1().len(), 20 * 3 - 1);
        assert_eq!(
            identity.fingerprint_hex(),
            identity.fingerprint().replace(':', "").to_lowercase()
        );
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
