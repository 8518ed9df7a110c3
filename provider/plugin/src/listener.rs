//! The TCP listener the provider serves on.
//!
//! go-plugin clients pass `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT` (10000..25000 unless configured) so
//! that firewalled hosts can allow a known range. go-plugin's own TCP listener treats an unset
//! variable as 0, requires min <= max and tries each port in order, 0 meaning "any free port";
//! this does the same. (go-plugin uses a Unix socket on Unix; the client accepts either, and TCP
//! keeps the host code the same everywhere.)

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use super::error::PluginError;

/// Lower bound of the port range.
pub(crate) const MIN_PORT_ENV: &str = "PLUGIN_MIN_PORT";
/// Upper bound of the port range.
pub(crate) const MAX_PORT_ENV: &str = "PLUGIN_MAX_PORT";

/// An inclusive port range; `0..=0` lets the OS choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRange {
    pub(crate) min: u16,
    pub(crate) max: u16,
}

impl PortRange {
    /// Any free port.
    pub(crate) const ANY: PortRange = PortRange { min: 0, max: 0 };

    /// Parses the two environment values (`None` or empty = 0, as go-plugin does).
    pub(crate) fn parse(min: Option<&str>, max: Option<&str>) -> Result<Self, PluginError> {
        let min = parse_port(MIN_PORT_ENV, min)?;
        let max = parse_port(MAX_PORT_ENV, max)?;
        if min > max {
            return Err(PluginError::InvertedPortRange { min, max });
        }
        Ok(PortRange { min, max })
    }

    /// Reads the range from the process environment.
    pub(crate) fn from_env() -> Result<Self, PluginError> {
        let min = std::env::var(MIN_PORT_ENV).ok();
        let max = std::env::var(MAX_PORT_ENV).ok();
        Self::parse(min.as_deref(), max.as_deref())
    }
}

fn parse_port(var: &'static str, value: Option<&str>) -> Result<u16, PluginError> {
    match value.map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<u16>().map_err(|_| PluginError::InvalidPort {
            var,
            value: v.to_owned(),
        }),
    }
}

/// Binds 127.0.0.1 on the first free port of `range`. Loopback only: the client is always on
/// the same machine, and nothing else should be able to reach the provider.
///
/// Returns a non-blocking std listener so the caller can hand it to Tokio.
pub(crate) fn bind(range: PortRange) -> Result<(TcpListener, SocketAddr), PluginError> {
    let mut last_error = None;
    for port in range.min..=range.max {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => {
                let addr = listener
                    .local_addr()
                    .map_err(PluginError::io("reading the listener address"))?;
                listener
                    .set_nonblocking(true)
                    .map_err(PluginError::io("configuring the listener"))?;
                return Ok((listener, addr));
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(PluginError::Bind {
        min: range.min,
        max: range.max,
        source: last_error.unwrap_or_else(|| std::io::Error::other("empty port range")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_means_any_port() {
        assert_eq!(PortRange::parse(None, None).unwrap(), PortRange::ANY);
        assert_eq!(
            PortRange::parse(Some(""), Some(" ")).unwrap(),
            PortRange::ANY
        );
    }

    #[test]
    fn terraform_default_range_parses() {
        assert_eq!(
            PortRange::parse(Some("10000"), Some("25000")).unwrap(),
            PortRange {
                min: 10000,
                max: 25000
            }
        );
        assert_eq!(
            PortRange::parse(None, Some("25000")).unwrap(),
            PortRange { min: 0, max: 25000 }
        );
    }

    #[test]
    fn bad_values_are_rejected_with_the_variable_name() {
        for bad in ["abc", "-1", "65536", "1.5"] {
            let err = PortRange::parse(Some(bad), Some("25000")).unwrap_err();
            assert!(
                matches!(
                    err,
                    PluginError::InvalidPort {
                        var: MIN_PORT_ENV,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        let err = PortRange::parse(Some("100"), Some("x")).unwrap_err();
        assert!(matches!(
            err,
            PluginError::InvalidPort {
                var: MAX_PORT_ENV,
                ..
            }
        ));
    }

    #[test]
    fn min_above_max_is_an_error_like_go_plugin() {
        // Including min set and max unset (max = 0), exactly as go-plugin reports it.
        assert!(matches!(
            PortRange::parse(Some("20000"), Some("10000")),
            Err(PluginError::InvertedPortRange {
                min: 20000,
                max: 10000
            })
        ));
        assert!(matches!(
            PortRange::parse(Some("20000"), None),
            Err(PluginError::InvertedPortRange { .. })
        ));
    }

    #[test]
    fn binds_inside_the_range_skipping_busy_ports() {
        let (busy, busy_addr) = bind(PortRange::ANY).unwrap();
        let port = busy_addr.port();
        let Some(max) = port.checked_add(50) else {
            return; // No room above it for this test; vanishingly rare.
        };
        let (_listener, addr) =
            bind(PortRange { min: port, max }).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
        assert!(addr.port() > port && addr.port() <= max, "{addr}");
        drop(busy);
    }

    #[test]
    fn a_fully_busy_range_is_an_error() {
        let (_busy, busy_addr) = bind(PortRange::ANY).unwrap();
        let port = busy_addr.port();
        let err = bind(PortRange {
            min: port,
            max: port,
        })
        .unwrap_err();
        assert!(matches!(err, PluginError::Bind { .. }));
    }
}
