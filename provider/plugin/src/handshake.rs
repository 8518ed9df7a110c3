//! The go-plugin handshake: the magic cookie, protocol negotiation, the line printed on stdout,
//! and the reattach configuration `--debug` prints.

use std::net::SocketAddr;

use base64::Engine as _;

use super::error::PluginError;

/// go-plugin's own protocol version (`CoreProtocolVersion`), first field of the handshake line.
pub(crate) const CORE_PROTOCOL_VERSION: u32 = 1;

/// The Terraform plugin protocol we speak (tfplugin6). Terraform 1.0 and later offer it.
pub(crate) const PROTOCOL_VERSION: u32 = 6;

/// Environment variable Terraform sets to its magic cookie value.
pub(crate) const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";

/// Terraform's magic cookie value (the same for every Terraform version). This is not a security
/// measure, only a guard so that a human running the binary gets an explanation instead of a
/// process silently waiting for gRPC.
pub(crate) const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Environment variable with the comma-separated protocol versions the client accepts.
pub(crate) const PROTOCOL_VERSIONS_ENV: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// What a human who ran the binary directly reads.
pub(crate) const NOT_A_COMMAND_MESSAGE: &str = "\
terraform-provider-platform is a Terraform provider plugin, not a command to run by hand.
Terraform starts it for you: declare the provider in your configuration
(source = \"platformkit/platform\"), run `terraform init`, then use terraform plan/apply as usual.
To debug the provider, run it with --debug and follow the instructions it prints.";

/// Whether the environment carries Terraform's magic cookie.
pub(crate) fn has_magic_cookie(value: Option<&str>) -> bool {
    value == Some(MAGIC_COOKIE_VALUE)
}

/// Picks the protocol version to serve from `PLUGIN_PROTOCOL_VERSIONS`.
///
/// Follows go-plugin's server: entries that are not integers are skipped, and a client that
/// offers no (valid) version at all gets the plugin's only version, leaving the client to judge
/// compatibility. A client that explicitly offers versions without 6 (Terraform 0.12 to 0.14
/// offer only 5) is refused here, with a message that names the fix.
pub(crate) fn negotiate_protocol(offered: Option<&str>) -> Result<u32, PluginError> {
    let raw = offered.unwrap_or("");
    let versions: Vec<u32> = raw
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .collect();
    if versions.is_empty() || versions.contains(&PROTOCOL_VERSION) {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(PluginError::UnsupportedProtocol {
            offered: raw.to_owned(),
        })
    }
}

/// The handshake line go-plugin clients read from the plugin's stdout:
/// `CORE|PROTOCOL|tcp|ADDR|grpc|CERT`, where CERT is the server certificate's DER in unpadded
/// standard base64 under AutoMTLS, and empty otherwise (go-plugin always prints the sixth field).
pub(crate) fn handshake_line(
    protocol: u32,
    addr: SocketAddr,
    server_cert_der: Option<&[u8]>,
) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{protocol}|tcp|{addr}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` JSON for a provider serving at `addr` in process `pid`.
/// `Test: true` tells Terraform it does not own the process, so it neither kills it nor waits
/// for it to exit when a command finishes.
pub(crate) fn reattach_json(addr: SocketAddr, pid: u32) -> String {
    serde_json::json!({
        (super::PROVIDER_ADDRESS): {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() },
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_cookie_must_match_exactly() {
        assert!(has_magic_cookie(Some(MAGIC_COOKIE_VALUE)));
        assert!(!has_magic_cookie(None));
        assert!(!has_magic_cookie(Some("")));
        assert!(!has_magic_cookie(Some("d602bf8f")));
    }

    #[test]
    fn protocol_six_is_chosen_when_offered() {
        assert_eq!(negotiate_protocol(Some("5,6")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("6")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("6,5")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some(" 5 , 6 ")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("x,6")).unwrap(), 6);
    }

    #[test]
    fn no_offer_falls_back_to_our_only_version_like_go_plugin() {
        assert_eq!(negotiate_protocol(None).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("abc")).unwrap(), 6);
    }

    #[test]
    fn offers_without_six_are_refused_with_the_upgrade_hint() {
        for offer in ["5", "4,5", "7"] {
            let err = negotiate_protocol(Some(offer)).unwrap_err();
            assert!(matches!(err, PluginError::UnsupportedProtocol { .. }));
            let text = err.to_string();
            assert!(
                text.starts_with(
                    "terraform-provider-platform requires Terraform >= 1.0 (plugin protocol 6)"
                ),
                "{text}"
            );
            assert!(text.contains(offer), "{text}");
            // Shown by go-plugin as an "unrecognized remote plugin message": it must not parse
            // as a handshake line (fewer than 4 '|'-separated parts).
            assert!(text.split('|').count() < 4);
        }
    }

    #[test]
    fn handshake_line_with_certificate() {
        let addr: SocketAddr = "127.0.0.1:10123".parse().unwrap();
        let der = [0x30u8, 0x82, 0x01, 0xff, 0xfe];
        let line = handshake_line(6, addr, Some(&der));
        assert_eq!(line, "1|6|tcp|127.0.0.1:10123|grpc|MIIB//4");
        let parts: Vec<&str> = line.splitn(6, '|').collect();
        assert_eq!(parts.len(), 6);
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[5])
            .unwrap();
        assert_eq!(decoded, der);
        assert!(!line.contains('\n') && !line.contains('='));
    }

    #[test]
    fn handshake_line_without_certificate_keeps_an_empty_sixth_field() {
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(
            handshake_line(6, addr, None),
            "1|6|tcp|127.0.0.1:40000|grpc|"
        );
    }

    #[test]
    fn reattach_json_has_terraforms_shape() {
        let addr: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        assert_eq!(
            reattach_json(addr, 4242),
            r#"{"registry.terraform.io/platformkit/platform":{"Protocol":"grpc","ProtocolVersion":6,"Pid":4242,"Test":true,"Addr":{"Network":"tcp","String":"127.0.0.1:5555"}}}"#
        );
    }
}
