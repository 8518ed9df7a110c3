//! Logging as Terraform wants it from a provider: hclog JSON lines on stderr.
//!
//! go-plugin reads the plugin's stderr line by line; a line that parses as JSON with `@level`
//! and `@message` is re-logged by Terraform at that level with the other keys as fields, so it
//! shows up under `TF_LOG_PROVIDER=debug` like a Go provider's logs. Anything else is logged
//! verbatim at DEBUG. The timestamp must have go-plugin's exact layout
//! (`2006-01-02T15:04:05.000000Z07:00`: six fractional digits) or the whole line is rejected as
//! JSON.
//!
//! The verbosity comes from `TF_LOG_PROVIDER`, falling back to `TF_LOG`, the variables Terraform
//! itself filters provider logs by (and passes on in the plugin's environment): filtering here as
//! well keeps the provider from formatting lines Terraform would drop anyway.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Provider-specific log level variable; wins over [`TF_LOG`].
pub const TF_LOG_PROVIDER: &str = "TF_LOG_PROVIDER";
/// Terraform's general log level variable.
pub const TF_LOG: &str = "TF_LOG";

/// hclog logger name prefix for this provider's own modules.
const MODULE_PREFIX: &str = "provider.platform";

/// Crate names whose targets are "ours" and get a short `@module`.
const OWN_CRATES: [&str; 5] = [
    "platform_provider",
    "terraform_provider_platform",
    "platform_aws",
    "tfplugin_framework",
    "tfplugin_host",
];

/// Maps a Terraform log level value to a filter.
///
/// Empty means the variable is unset: INFO, so a developer running `--debug` sees progress.
/// `JSON` is Terraform's "TRACE, as JSON". Terraform treats any other unknown value as TRACE,
/// and so does this, so both ends agree on what is shown.
pub fn level_from_env_value(value: &str) -> LevelFilter {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "info" => LevelFilter::INFO,
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The level configured by `TF_LOG_PROVIDER`, else `TF_LOG`.
pub fn level_from_env() -> LevelFilter {
    let provider = std::env::var(TF_LOG_PROVIDER).unwrap_or_default();
    let value = if provider.trim().is_empty() {
        std::env::var(TF_LOG).unwrap_or_default()
    } else {
        provider
    };
    level_from_env_value(&value)
}

/// The filter for `level`. At DEBUG and TRACE the HTTP/2 and TLS plumbing would drown the
/// provider's own lines (h2 logs every frame), so those crates are capped.
fn filter_for(level: LevelFilter) -> EnvFilter {
    let mut directives = level.to_string().to_ascii_lowercase();
    if level > LevelFilter::INFO {
        directives.push_str(",h2=info,hyper=info,hyper_util=info,tower=info");
        if level > LevelFilter::DEBUG {
            directives.push_str(",rustls=debug");
        }
    }
    EnvFilter::builder().parse_lossy(directives)
}

/// Installs the stderr hclog subscriber as the global default, with the level from the
/// environment. Returns `false` when a global subscriber was already set (e.g. by a test harness);
/// that one keeps working.
pub fn init() -> bool {
    let subscriber = tracing_subscriber::registry()
        .with(filter_for(level_from_env()))
        .with(HclogLayer::new(std::io::stderr()));
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

/// A `tracing` layer writing one hclog JSON object per event to `W`.
///
/// Each event's fields, and the fields of the spans it is in (outermost first, innermost winning),
/// become top-level keys beside `@level`, `@message`, `@module`, `@timestamp` and `@caller`.
#[derive(Debug)]
pub struct HclogLayer<W> {
    writer: Mutex<W>,
}

impl<W: Write> HclogLayer<W> {
    /// A layer writing to `writer`; each line is written with a single `write_all` so lines
    /// from concurrent tasks never interleave.
    pub fn new(writer: W) -> Self {
        Self {
            writer: Mutex::new(writer),
        }
    }
}

/// The JSON fields recorded for a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Write + Send + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(SpanFields(visitor.fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        values.record(&mut visitor);
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(SpanFields(fields)) => fields.extend(visitor.fields),
            None => extensions.insert(SpanFields(visitor.fields)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        fields.extend(visitor.fields);

        let meta = event.metadata();
        let caller = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => Some(format!("{}:{line}", short_source_path(file))),
            _ => None,
        };
        let mut line = format_line(&LineParts {
            level: *meta.level(),
            message: visitor.message.as_deref().unwrap_or(""),
            module: &module_for_target(meta.target()),
            timestamp: OffsetDateTime::now_utc(),
            caller: caller.as_deref(),
            fields,
        });
        line.push('\n');
        if let Ok(mut writer) = self.writer.lock() {
            // Nowhere to report a failure to write the log: Terraform has gone away.
            let _ = writer.write_all(line.as_bytes());
            let _ = writer.flush();
        }
    }
}

/// What goes into one hclog line.
pub(crate) struct LineParts<'a> {
    pub(crate) level: Level,
    pub(crate) message: &'a str,
    pub(crate) module: &'a str,
    pub(crate) timestamp: OffsetDateTime,
    pub(crate) caller: Option<&'a str>,
    pub(crate) fields: Map<String, Value>,
}

/// Renders one hclog JSON object (without the newline). Reserved `@` keys come first, as hclog
/// writes them; a field that collides with one of them is dropped rather than allowed to change
/// the level or message Terraform sees.
pub(crate) fn format_line(parts: &LineParts<'_>) -> String {
    let mut object = Map::new();
    object.insert("@level".into(), Value::from(hclog_level(parts.level)));
    object.insert("@message".into(), Value::from(parts.message));
    object.insert("@module".into(), Value::from(parts.module));
    object.insert(
        "@timestamp".into(),
        Value::from(format_timestamp(parts.timestamp)),
    );
    if let Some(caller) = parts.caller {
        object.insert("@caller".into(), Value::from(caller));
    }
    for (key, value) in &parts.fields {
        if !object.contains_key(key) {
            object.insert(key.clone(), value.clone());
        }
    }
    Value::Object(object).to_string()
}

/// hclog's level names.
fn hclog_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// `2006-01-02T15:04:05.000000Z07:00` in UTC: exactly six fractional digits, as go-plugin parses.
pub(crate) fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The hclog `@module` for a tracing target: `provider.platform.<last path segment>` for this
/// crate's modules (`platform_provider::resources::environment` → `provider.platform.environment`),
/// `provider.platform.<crate>` for dependencies (`aws_smithy_runtime::client` →
/// `provider.platform.aws_smithy_runtime`), which keeps the crate visible where it matters.
pub(crate) fn module_for_target(target: &str) -> String {
    let mut segments = target.split("::");
    let krate = segments.next().unwrap_or("");
    let segment = if OWN_CRATES.contains(&krate) {
        match target.rsplit("::").next() {
            Some(last) if last != krate => last,
            _ => return MODULE_PREFIX.to_owned(),
        }
    } else {
        krate
    };
    if segment.is_empty() {
        MODULE_PREFIX.to_owned()
    } else {
        format!("{MODULE_PREFIX}.{segment}")
    }
}

/// Source paths of dependencies are absolute paths into Cargo's registry; keep them from the
/// crate directory on (`tonic-0.14.9/src/transport/server/mod.rs`), which is all a reader needs.
pub(crate) fn short_source_path(file: &str) -> &str {
    const REGISTRY: &str = "/registry/src/";
    match file.find(REGISTRY) {
        Some(i) => {
            let after_registry = &file[i + REGISTRY.len()..];
            // Skip the registry index directory (`index.crates.io-<hash>/`).
            match after_registry.find('/') {
                Some(j) => &after_registry[j + 1..],
                None => file,
            }
        }
        None => file,
    }
}

/// Collects tracing fields as JSON values, keeping numbers and booleans typed so Terraform shows
/// `count=3`, not `count="3"`.
#[derive(Default)]
struct JsonVisitor {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let json = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.put(field, json);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain: "request failed: connection refused" beats "request failed".
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(err) = source {
            let _ = write!(text, ": {err}");
            source = err.source();
        }
        self.put(field, Value::from(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn timestamp_has_six_fractional_digits_and_z() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_467_600_000_123_456).unwrap();
        assert_eq!(format_timestamp(t), "2026-11-23T21:00:00.000123Z");
        let t = OffsetDateTime::from_unix_timestamp(1_795_467_600).unwrap();
        assert_eq!(format_timestamp(t), "2026-11-23T21:00:00.000000Z");
    }

    #[test]
    fn line_format_is_hclog_json() {
        let mut fields = Map::new();
        fields.insert("vpc_id".into(), Value::from("vpc-123"));
        fields.insert("attempt".into(), Value::from(3));
        fields.insert("@level".into(), Value::from("error")); // must not override
        let line = format_line(&LineParts {
            level: Level::DEBUG,
            message: "created VPC",
            module: "provider.platform.network",
            timestamp: OffsetDateTime::from_unix_timestamp(1_795_467_600).unwrap(),
            caller: Some("provider/src/resources/network.rs:42"),
            fields,
        });
        assert_eq!(
            line,
            r#"{"@level":"debug","@message":"created VPC","@module":"provider.platform.network","@timestamp":"2026-11-23T21:00:00.000000Z","@caller":"provider/src/resources/network.rs:42","vpc_id":"vpc-123","attempt":3}"#
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn modules_from_targets() {
        assert_eq!(
            module_for_target("platform_provider::resources::environment"),
            "provider.platform.environment"
        );
        assert_eq!(module_for_target("platform_provider"), "provider.platform");
        assert_eq!(
            module_for_target("terraform_provider_platform"),
            "provider.platform"
        );
        assert_eq!(
            module_for_target("aws_smithy_runtime::client::orchestrator"),
            "provider.platform.aws_smithy_runtime"
        );
        assert_eq!(
            module_for_target("my-span-target"),
            "provider.platform.my-span-target"
        );
    }

    #[test]
    fn dependency_source_paths_are_shortened() {
        assert_eq!(
            short_source_path(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tonic-0.14.9/src/lib.rs"
            ),
            "tonic-0.14.9/src/lib.rs"
        );
        assert_eq!(
            short_source_path("provider/src/plugin/server.rs"),
            "provider/src/plugin/server.rs"
        );
    }

    #[test]
    fn levels_follow_terraform() {
        assert_eq!(level_from_env_value(""), LevelFilter::INFO);
        assert_eq!(level_from_env_value("TRACE"), LevelFilter::TRACE);
        assert_eq!(level_from_env_value("debug"), LevelFilter::DEBUG);
        assert_eq!(level_from_env_value("Info"), LevelFilter::INFO);
        assert_eq!(level_from_env_value("WARN"), LevelFilter::WARN);
        assert_eq!(level_from_env_value("error"), LevelFilter::ERROR);
        assert_eq!(level_from_env_value("JSON"), LevelFilter::TRACE);
        assert_eq!(level_from_env_value("off"), LevelFilter::OFF);
        assert_eq!(level_from_env_value("bogus"), LevelFilter::TRACE);
    }

    /// A cloneable in-memory writer to read back what the layer wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn layer_writes_one_parseable_line_per_event_with_span_fields() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(filter_for(LevelFilter::DEBUG))
            .with(HclogLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc", tf_rpc = "ApplyResourceChange", tf_req_id = 7u64);
            let _entered = span.enter();
            tracing::debug!(vpc_id = "vpc-1", ready = true, "waiting for \"VPC\"\nnow");
            tracing::trace!("filtered out");
            let err = std::io::Error::other("boom");
            tracing::warn!(error = &err as &(dyn std::error::Error + 'static), "failed");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");

        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["@level"], "debug");
        assert_eq!(first["@message"], "waiting for \"VPC\"\nnow");
        // The target is `platform_provider::plugin::logging::tests`.
        assert_eq!(first["@module"], "provider.platform.tests");
        assert_eq!(first["vpc_id"], "vpc-1");
        assert_eq!(first["ready"], true);
        assert_eq!(first["tf_rpc"], "ApplyResourceChange");
        assert_eq!(first["tf_req_id"], 7);
        let ts = first["@timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2026-11-23T21:00:00.000000Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.');
        assert!(first["@caller"].as_str().unwrap().contains("logging.rs:"));

        let second: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["@level"], "warn");
        assert_eq!(second["error"], "boom");
    }

    #[test]
    fn noisy_transport_crates_are_capped_when_verbose() {
        let filter = filter_for(LevelFilter::TRACE).to_string();
        assert!(filter.contains("h2=info"), "{filter}");
        let filter = filter_for(LevelFilter::WARN).to_string();
        assert!(!filter.contains("h2"), "{filter}");
    }
}
