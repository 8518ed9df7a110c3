//! go-plugin's AutoMTLS, server side.
//!
//! Terraform generates a throwaway certificate for every provider process it starts and passes
//! it (PEM) in `PLUGIN_CLIENT_CERT`. The plugin answers with a throwaway certificate of its own,
//! sent base64 in the handshake line, and both ends then insist on exactly those two
//! certificates: another local process that finds the port cannot talk to the provider, which
//! holds cloud credentials.
//!
//! Terraform's certificate is a self-signed *CA* certificate (go-plugin's `generateCert`: ECDSA
//! P-521, `IsCA`, SAN `localhost`) used as a client end-entity certificate. webpki refuses a CA
//! certificate in that position, and no chain building is needed anyway, so the client
//! certificate is pinned instead: the presented certificate must be byte-identical to the one in
//! the environment, and the handshake signature must verify with its key.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName as RcgenName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::error::PluginError;

/// Environment variable holding Terraform's client certificate (PEM).
pub(crate) const CLIENT_CERT_ENV: &str = "PLUGIN_CLIENT_CERT";

/// The host name go-plugin clients verify the server certificate against.
const SERVER_NAME: &str = "localhost";

/// A client that connects but never finishes the TLS handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The crypto provider for everything here: aws-lc-rs, which (unlike ring) does P-521, the
/// curve go-plugin uses for both certificates.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The server's ephemeral certificate and key.
pub(crate) struct ServerIdentity {
    /// DER of the certificate; its base64 goes into the handshake line.
    pub(crate) cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("ServerIdentity").finish_non_exhaustive()
    }
}

/// Generates a certificate shaped like go-plugin's `generateCert`, which Go's TLS client in
/// Terraform verifies with that very certificate as its only root and `ServerName: localhost`:
/// self-signed ECDSA P-521, a CA (so it can be its own root), SAN DNS `localhost`, key usages
/// digital signature + key encipherment + key agreement + cert sign, extended key usages client
/// and server auth, valid from 30 s ago (clock skew) for 262 980 hours (30 years) like go-plugin.
/// The serial number is derived from the fresh random key, so it is unique per process.
pub(crate) fn generate_server_identity() -> Result<ServerIdentity, PluginError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)?;
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_owned()])?;
    let mut name = RcgenName::new();
    name.push(DnType::CommonName, SERVER_NAME);
    name.push(DnType::OrganizationName, "platformkit");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::hours(262_980);
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// Accepts only client certificates byte-identical to a pinned set (Terraform's one).
#[derive(Debug)]
pub(crate) struct PinnedClientCertVerifier {
    allowed: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCertVerifier {
    /// Pins every certificate in `pem` (Terraform sends one). Errors when there is none: a
    /// server that can accept nobody should fail at start, loudly, not on every connection.
    pub(crate) fn from_pem(pem: &str, provider: &CryptoProvider) -> Result<Self, PluginError> {
        let allowed = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PluginError::ClientCertificate(e.to_string()))?;
        if allowed.is_empty() {
            return Err(PluginError::ClientCertificate(
                "no CERTIFICATE block found".to_owned(),
            ));
        }
        Ok(Self {
            allowed,
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ClientCertVerifier for PinnedClientCertVerifier {
    /// Empty on purpose: with no hints Go's client offers its certificate unconditionally,
    /// whereas a hint that failed to match byte-for-byte would make it send none.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Identity, not validity period: the certificate was minted seconds ago by the process
        // that started us, and pinning the exact bytes already rules out any other certificate.
        if self
            .allowed
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The rustls server configuration: TLS 1.3 and 1.2 (Go's client allows both, minimum 1.2),
/// client certificate required and pinned, ALPN `h2` (grpc-go insists on it).
pub(crate) fn server_config(
    identity: &ServerIdentity,
    verifier: Arc<dyn ClientCertVerifier>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<ServerConfig>, PluginError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Everything the server needs for AutoMTLS.
pub(crate) struct AutoMtls {
    /// Performs the server side of handshakes.
    pub(crate) acceptor: TlsAcceptor,
    /// The server certificate, for the handshake line.
    pub(crate) server_cert_der: CertificateDer<'static>,
}

impl AutoMtls {
    /// Sets up AutoMTLS for the client certificate Terraform passed.
    pub(crate) fn for_client_cert(client_cert_pem: &str) -> Result<Self, PluginError> {
        let start = std::time::Instant::now();
        let provider = crypto_provider();
        let verifier = PinnedClientCertVerifier::from_pem(client_cert_pem, &provider)?;
        let parsed_us = start.elapsed().as_micros() as u64;
        let identity = generate_server_identity()?;
        let generated_us = start.elapsed().as_micros() as u64;
        let config = server_config(&identity, Arc::new(verifier), provider)?;
        tracing::debug!(
            parsed_us,
            generated_us,
            total_us = start.elapsed().as_micros() as u64,
            "AutoMTLS identity ready"
        );
        Ok(Self {
            acceptor: TlsAcceptor::from(config),
            server_cert_der: identity.cert_der,
        })
    }
}

/// Runs the server side of one TLS handshake, bounded by [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn accept(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
) -> std::io::Result<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::ServerName;
    use rustls::ClientConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsConnector;

    /// A certificate like the one Terraform (go-plugin's client) generates: self-signed CA,
    /// ECDSA P-521 with SHA-512, SAN localhost.
    fn terraform_like_client_cert() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = RcgenName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "HashiCorp");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        (
            cert.pem(),
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// What Go's client does with the server certificate from the handshake line: trust exactly
    /// that certificate. (webpki would reject it as a CA used as end entity, like the client
    /// side; Go accepts a leaf that is itself in the root pool.)
    #[derive(Debug)]
    struct PinnedServer {
        cert: CertificateDer<'static>,
        algorithms: WebPkiSupportedAlgorithms,
    }

    impl ServerCertVerifier for PinnedServer {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            assert_eq!(server_name.to_str(), "localhost");
            if end_entity.as_ref() == self.cert.as_ref() {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer,
                ))
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    }

    fn client_config(
        server_cert: &CertificateDer<'static>,
        client: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<ClientConfig> {
        let provider = crypto_provider();
        let verifier = Arc::new(PinnedServer {
            cert: server_cert.clone(),
            algorithms: provider.signature_verification_algorithms,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client {
            Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Arc::new(config)
    }

    /// Runs one handshake between the production acceptor and a client with `client_config`.
    /// Returns (server result, client could exchange data).
    async fn handshake(
        mtls: &AutoMtls,
        client_config: Arc<ClientConfig>,
    ) -> (std::io::Result<Option<Vec<u8>>>, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = mtls.acceptor.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = accept(&acceptor, tcp).await?;
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            // Echo one byte so the client knows the server really accepted it.
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await?;
            tls.write_all(&byte).await?;
            tls.flush().await?;
            Ok(alpn)
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let connector = TlsConnector::from(client_config);
        let client_ok = match connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
        {
            Ok(mut tls) => {
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                // With TLS 1.3 the server's verdict on the client certificate arrives after the
                // client considers the handshake done, so only a round trip proves acceptance.
                let mut byte = [0u8; 1];
                tls.write_all(b"x").await.is_ok()
                    && tls.flush().await.is_ok()
                    && tls.read_exact(&mut byte).await.is_ok()
                    && byte == *b"x"
            }
            Err(_) => false,
        };
        (server.await.unwrap(), client_ok)
    }

    #[test]
    fn server_certificate_parses_as_pem_and_der() {
        let identity = generate_server_identity().unwrap();
        assert!(
            identity.cert_der.len() > 50,
            "go-plugin ignores certs of <= 50 base64 chars"
        );
        // rustls can load it as a server identity (checks the key matches the certificate).
        let config = server_config(
            &identity,
            Arc::new(
                PinnedClientCertVerifier::from_pem(
                    &terraform_like_client_cert().0,
                    &crypto_provider(),
                )
                .unwrap(),
            ),
            crypto_provider(),
        )
        .unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn p521_sha512_is_a_supported_client_signature_scheme() {
        let (pem, _, _) = terraform_like_client_cert();
        let verifier = PinnedClientCertVerifier::from_pem(&pem, &crypto_provider()).unwrap();
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(verifier.client_auth_mandatory());
        assert!(verifier.root_hint_subjects().is_empty());
    }

    #[test]
    fn client_cert_env_without_a_certificate_is_an_error() {
        for bad in [
            "",
            "garbage",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(matches!(
                PinnedClientCertVerifier::from_pem(bad, &crypto_provider()),
                Err(PluginError::ClientCertificate(_))
            ));
        }
    }

    #[tokio::test]
    async fn terraforms_client_certificate_is_accepted_and_h2_negotiated() {
        let (pem, cert, key) = terraform_like_client_cert();
        let mtls = AutoMtls::for_client_cert(&pem).unwrap();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let config = client_config(
                &mtls.server_cert_der,
                Some((cert.clone(), key.clone_key())),
                version,
            );
            let (server, client_ok) = handshake(&mtls, config).await;
            assert_eq!(server.unwrap(), Some(b"h2".to_vec()), "{version:?}");
            assert!(client_ok, "{version:?}");
        }
    }

    #[tokio::test]
    async fn a_client_without_certificate_is_refused() {
        let (pem, _, _) = terraform_like_client_cert();
        let mtls = AutoMtls::for_client_cert(&pem).unwrap();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let config = client_config(&mtls.server_cert_der, None, version);
            let (server, client_ok) = handshake(&mtls, config).await;
            assert!(server.is_err(), "{version:?}");
            assert!(!client_ok, "{version:?}");
        }
    }

    #[tokio::test]
    async fn a_client_with_another_valid_certificate_is_refused() {
        let (pem, _, _) = terraform_like_client_cert();
        let (_, other_cert, other_key) = terraform_like_client_cert();
        let mtls = AutoMtls::for_client_cert(&pem).unwrap();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let config = client_config(
                &mtls.server_cert_der,
                Some((other_cert.clone(), other_key.clone_key())),
                version,
            );
            let (server, client_ok) = handshake(&mtls, config).await;
            let err = server.unwrap_err();
            assert!(
                err.to_string().contains("ApplicationVerificationFailure")
                    || err.kind() == std::io::ErrorKind::InvalidData,
                "{err}"
            );
            assert!(!client_ok, "{version:?}");
        }
    }

    #[tokio::test]
    async fn a_client_that_does_not_trust_our_certificate_cannot_connect() {
        // Sanity check of the test client itself: pinning a different server certificate fails.
        let (pem, cert, key) = terraform_like_client_cert();
        let mtls = AutoMtls::for_client_cert(&pem).unwrap();
        let other = generate_server_identity().unwrap();
        let config = client_config(&other.cert_der, Some((cert, key)), &rustls::version::TLS13);
        let (server, client_ok) = handshake(&mtls, config).await;
        assert!(server.is_err());
        assert!(!client_ok);
    }
}
