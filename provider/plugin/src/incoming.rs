//! Accepted connections, plain or TLS, as the stream tonic serves.
//!
//! TLS handshakes run in their own tasks so that one slow or hostile client cannot hold up the
//! accept loop, and a failed handshake (a process without Terraform's certificate) is logged and
//! dropped without reaching tonic.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::mtls;

/// How long to back off after `accept` itself fails (typically out of file descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// One accepted client connection.
#[derive(Debug)]
pub(crate) enum Conn {
    /// `--debug`, or a client that did not ask for AutoMTLS.
    Plain(TcpStream),
    /// After a successful AutoMTLS handshake. Boxed: the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        let tcp = self.tcp();
        TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: tcp.peer_addr().ok(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(tcp) => tcp.is_write_vectored(),
            Conn::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections on `listener` until `shutdown` fires or the returned stream is dropped
/// (tonic drops it when it stops serving, which also closes the listening socket). With `tls`,
/// only connections that complete the AutoMTLS handshake are yielded. Must be called inside the
/// Tokio runtime.
pub(crate) fn incoming(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<Conn>(16);
    tokio::spawn(accept_loop(listener, tls, shutdown, tx));
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|conn| (Ok(conn), rx))
    })
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
    tx: mpsc::Sender<Conn>,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            () = tx.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        // gRPC is request/response over small frames: Nagle's algorithm only adds latency.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        match &tls {
            None => {
                tracing::trace!(%peer, "accepted a connection");
                if tx.send(Conn::Plain(tcp)).await.is_err() {
                    break;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match mtls::accept(&acceptor, tcp).await {
                        Ok(stream) => {
                            tracing::trace!(%peer, "accepted a mutually authenticated connection");
                            // A closed channel means the server stopped; the connection just drops.
                            let _ = tx.send(Conn::Tls(Box::new(stream))).await;
                        }
                        Err(err) => tracing::warn!(
                            %peer,
                            error = %err,
                            "refused a connection: TLS handshake failed (only the Terraform process \
                             that started this provider may connect)"
                        ),
                    }
                });
            }
        }
    }
    tracing::trace!("stopped accepting connections");
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn plain_connections_flow_and_stop_on_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let mut conns = Box::pin(incoming(listener, None, shutdown.clone()));

        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut conn = conns.next().await.unwrap().unwrap();
        let info = conn.connect_info();
        assert_eq!(info.local_addr, Some(addr));
        assert_eq!(info.remote_addr, client.local_addr().ok());
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        shutdown.cancel();
        assert!(conns.next().await.is_none());
    }
}
