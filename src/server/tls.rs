//! TLS for clients on `tls-port`: the rustls configuration the `tls-*` directives describe,
//! and the handshake that turns an admitted socket into a served connection.
//!
//! The handshake runs in the connection's own task, never in the accept loop, and has
//! [`HANDSHAKE_TIMEOUT`] to finish, so a client that connects and says nothing holds its
//! `maxclients` slot for that long at most. CONFIG SET of a certificate, key, CA or
//! `tls-auth-clients` builds a new configuration for the connections accepted from then on;
//! connections already open keep theirs, as in Redis.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use super::{ServerState, connection};
use crate::config::{Config, TlsAuthClients};

/// The settings CONFIG SET may change while TLS is served; naming one loads the files again.
pub const RELOADED_BY: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-auth-clients",
];

/// How long a TLS client may take to complete its handshake before it is disconnected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the `tls-*` directives do not make a usable TLS configuration. Each names the
/// directive and the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `tls-port` is set but a file it needs is not.
    #[error("tls-port is set, but {0} is not")]
    Missing(&'static str),
    /// Client certificates are asked for without a CA to check them against.
    #[error(
        "tls-auth-clients {0} needs tls-ca-cert-file, the CA that client certificates are \
         checked against (or tls-auth-clients no)"
    )]
    NoCa(&'static str),
    /// A file could not be read.
    #[error("cannot read {directive} '{}': {source}", path.display())]
    Read {
        /// The directive naming the file.
        directive: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file was read but does not hold what the directive needs.
    #[error("{directive} '{}' {problem}", path.display())]
    Invalid {
        /// The directive naming the file.
        directive: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// The configuration TLS connections are accepted with, replaced as a whole when CONFIG SET
/// changes a `tls-*` file or `tls-auth-clients`.
pub struct TlsContext {
    acceptor: RwLock<TlsAcceptor>,
}

impl TlsContext {
    /// Loads the certificate, key and CA that `config` names.
    pub fn from_config(config: &Config) -> Result<TlsContext, TlsError> {
        Ok(TlsContext {
            acceptor: RwLock::new(acceptor(config)?),
        })
    }

    /// What the next TLS connection is accepted with.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.read().clone()
    }

    /// Loads the files `config` names again for new connections; on error the configuration
    /// in force stays.
    pub fn reload(&self, config: &Config) -> Result<(), TlsError> {
        let acceptor = acceptor(config)?;
        *self.acceptor.write() = acceptor;
        Ok(())
    }
}

/// Builds the rustls server configuration: the certificate chain and its key, and a client
/// certificate verifier over the CA unless `tls-auth-clients no`.
fn acceptor(config: &Config) -> Result<TlsAcceptor, TlsError> {
    let cert_file = required(&config.tls_cert_file, "tls-cert-file")?;
    let key_file = required(&config.tls_key_file, "tls-key-file")?;
    let chain = certificates(cert_file, "tls-cert-file")?;
    let key = private_key(key_file)?;
    let ca = config
        .tls_ca_cert_file
        .as_deref()
        .map(|path| certificate_authorities(path).map(|roots| (path, roots)))
        .transpose()?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls's default protocol versions");
    let builder = match (config.tls_auth_clients, ca) {
        (TlsAuthClients::No, _) => builder.with_no_client_auth(),
        (auth, None) => return Err(TlsError::NoCa(auth.as_str())),
        (auth, Some((ca_file, roots))) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == TlsAuthClients::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|error| TlsError::Invalid {
                directive: "tls-ca-cert-file",
                path: ca_file.to_path_buf(),
                problem: format!("cannot verify client certificates: {error}"),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server_config =
        builder
            .with_single_cert(chain, key)
            .map_err(|error| TlsError::Invalid {
                directive: "tls-key-file",
                path: key_file.to_path_buf(),
                problem: format!(
                    "does not go with tls-cert-file '{}': {error}",
                    cert_file.display()
                ),
            })?;
    Ok(TlsAcceptor::from(Arc::new(server_config)))
}

/// The file a directive names, which TLS cannot do without.
fn required<'a>(path: &'a Option<PathBuf>, directive: &'static str) -> Result<&'a Path, TlsError> {
    path.as_deref().ok_or(TlsError::Missing(directive))
}

/// Reads a file a directive names.
fn read(path: &Path, directive: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        directive,
        path: path.to_path_buf(),
        source,
    })
}

/// The PEM certificates in a file, in order; at least one.
fn certificates(
    path: &Path,
    directive: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |problem: String| TlsError::Invalid {
        directive,
        path: path.to_path_buf(),
        problem,
    };
    let chain = CertificateDer::pem_slice_iter(&read(path, directive)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("is not valid PEM: {error}")))?;
    if chain.is_empty() {
        return Err(invalid("holds no PEM certificate".into()));
    }
    Ok(chain)
}

/// The first PEM private key (PKCS#8, PKCS#1 or SEC1) in `tls-key-file`.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path, "tls-key-file")?).map_err(|error| TlsError::Invalid {
        directive: "tls-key-file",
        path: path.to_path_buf(),
        problem: format!("holds no usable PEM private key: {error}"),
    })
}

/// The CA certificates in `tls-ca-cert-file` as trust anchors.
fn certificate_authorities(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path, "tls-ca-cert-file")? {
        roots.add(certificate).map_err(|error| TlsError::Invalid {
            directive: "tls-ca-cert-file",
            path: path.to_path_buf(),
            problem: format!("holds a certificate that is no CA: {error}"),
        })?;
    }
    Ok(roots)
}

/// Serves an admitted TLS client: the handshake (within [`HANDSHAKE_TIMEOUT`]), then the
/// protected-mode refusal when `denied`, else the connection as on the plain port. A failed
/// handshake gives the admission back and closes the socket, as Redis does, without a
/// reply: none can be sent without TLS.
pub async fn serve(
    state: Arc<ServerState>,
    socket: TcpStream,
    acceptor: TlsAcceptor,
    denied: bool,
) {
    let Some((addr, local_addr)) = connection::addresses(&state, &socket) else {
        return;
    };
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return handshake_failed(&state, addr, &error),
        Err(_) => return handshake_failed(&state, addr, &"timed out"),
    };
    if denied {
        state.clients.release_admission();
        tracing::debug!("refused {addr}: protected mode");
        super::refuse(stream, super::PROTECTED_MODE_DENIED.as_bytes()).await;
        return;
    }
    connection::serve_stream(state, stream, addr, local_addr).await;
}

/// Gives back the admission of a client whose handshake failed, and logs why at `verbose`.
fn handshake_failed(state: &ServerState, addr: SocketAddr, why: &dyn std::fmt::Display) {
    state.clients.release_admission();
    tracing::debug!("TLS handshake with {addr} failed: {why}");
}
