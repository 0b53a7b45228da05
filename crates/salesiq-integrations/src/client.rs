//! The one way this crate makes HTTP clients, for the Zoho connectors and
//! the webhook sender alike.

use std::sync::Arc;

use crate::error::ConnectorError;

/// A reqwest client builder on rustls with the ring provider and the
/// platform's certificate verifier, set up here rather than through a
/// process-wide default provider.
pub(crate) fn builder() -> Result<reqwest::ClientBuilder, ConnectorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| ConnectorError::Unavailable(format!("TLS setup: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::Unavailable(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}
