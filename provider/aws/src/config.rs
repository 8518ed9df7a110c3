//! Provider configuration → validated settings → a configured AWS context.
//! Validation (`ProviderSettings::from_config`) makes no AWS call; `AwsContext::configure`
//! resolves credentials and, when `allowed_account_ids` is set, checks the account with
//! STS GetCallerIdentity before any resource is touched.

use super::errors::chain;
use super::logging::CallLogger;
use super::lost::LostAnswerGuard;
use super::stop::StopGate;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;
use tfplugin_framework::{AttributePath, Diagnostics, Value};
use tokio_util::sync::CancellationToken;

/// Services whose endpoint can be overridden one by one in `endpoints { ... }`. The list
/// covers every service a composite uses, so adding a composite never changes the schema.
pub const ENDPOINT_SERVICES: &[&str] = &[
    "s3",
    "dynamodb",
    "sts",
    "iam",
    "ec2",
    "logs",
    "kms",
    "eks",
    "rds",
    "secretsmanager",
    "organizations",
    "ecr",
    "cloudfront",
    "route53",
    "cloudtrail",
];

pub const DEFAULT_MAX_RETRIES: u32 = 5;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// Endpoint overrides for local emulators: one `url` for all services, or per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    pub url: Option<String>,
    pub per_service: BTreeMap<String, String>,
}

impl Endpoints {
    pub fn for_service(&self, service: &str) -> Option<&str> {
        self.per_service
            .get(service)
            .map(String::as_str)
            .or(self.url.as_deref())
    }
    pub fn is_empty(&self) -> bool {
        self.url.is_none() && self.per_service.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub assume_role: Option<AssumeRole>,
    pub allowed_account_ids: Vec<String>,
    pub default_tags: BTreeMap<String, String>,
    pub endpoints: Endpoints,
    pub max_retries: u32,
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl ProviderSettings {
    /// Reads and validates the provider block. Unknown values (a provider configured from
    /// another resource's output) are skipped here and checked again at configure time.
    pub fn from_config(config: &Value) -> Result<ProviderSettings, Diagnostics> {
        let mut d = Diagnostics::new();
        let mut s = ProviderSettings {
            max_retries: DEFAULT_MAX_RETRIES,
            ..Default::default()
        };

        s.region = opt_str(config.get("region"));
        if let Some(r) = &s.region {
            if let Err(why) = super::regions::check_region(r) {
                d.error_at(AttributePath::root("region"), "Invalid AWS region", why);
            }
        }
        s.profile = opt_str(config.get("profile"));
        if s.profile.as_deref() == Some("") {
            d.error_at(
                AttributePath::root("profile"),
                "Empty profile name",
                "Set a profile name or remove the attribute.",
            );
        }

        if let Some(n) = config.get("max_retries").as_i64() {
            if !(0..=100).contains(&n) {
                d.error_at(
                    AttributePath::root("max_retries"),
                    "Invalid max_retries",
                    format!("max_retries must be between 0 and 100, got {n}."),
                );
            } else {
                s.max_retries = n as u32;
            }
        }

        for (i, id) in config
            .get("allowed_account_ids")
            .elements()
            .iter()
            .enumerate()
        {
            match id {
                Value::String(id) if valid_account_id(id) => s.allowed_account_ids.push(id.clone()),
                Value::String(id) => d.error_at(
                    AttributePath::root("allowed_account_ids").index(i as i64),
                    "Invalid AWS account id",
                    format!("{id:?} is not a 12-digit AWS account id."),
                ),
                _ => {}
            }
        }

        if let Some(ar) = config.get("assume_role").elements().first() {
            let base = AttributePath::root("assume_role").index(0);
            let role_arn = ar.get("role_arn");
            match role_arn {
                Value::String(arn) if valid_role_arn(arn) => {
                    s.assume_role = Some(AssumeRole {
                        role_arn: arn.clone(),
                        session_name: opt_str(ar.get("session_name")),
                        external_id: opt_str(ar.get("external_id")),
                    })
                }
                Value::String(arn) => d.error_at(
                    base.clone().attr("role_arn"),
                    "Invalid role ARN",
                    format!(
                        "{arn:?} is not an IAM role ARN (arn:aws:iam::<account-id>:role/<name>)."
                    ),
                ),
                _ => {}
            }
            if let Some(name) = ar.get("session_name").as_str() {
                if !valid_session_name(name) {
                    d.error_at(
                        base.attr("session_name"),
                        "Invalid session name",
                        "A role session name is 2-64 characters of letters, digits and =,.@-_ .",
                    );
                }
            }
        }

        if let Some(dt) = config.get("default_tags").elements().first() {
            s.default_tags = dt.get("tags").to_string_map();
            super::tags::validate(
                AttributePath::root("default_tags").index(0).attr("tags"),
                dt.get("tags"),
                40,
                " in default_tags (they go on every object, with its own tags and the provider's, and AWS allows 50)",
                &mut d,
            );
        }

        if let Some(ep) = config.get("endpoints").elements().first() {
            let base = AttributePath::root("endpoints").index(0);
            if let Some(u) = ep.get("url").as_str() {
                match check_url(u) {
                    Ok(()) => s.endpoints.url = Some(u.trim_end_matches('/').to_string()),
                    Err(why) => d.error_at(base.clone().attr("url"), "Invalid endpoint URL", why),
                }
            }
            for svc in ENDPOINT_SERVICES {
                if let Some(u) = ep.get(svc).as_str() {
                    match check_url(u) {
                        Ok(()) => {
                            s.endpoints
                                .per_service
                                .insert(svc.to_string(), u.trim_end_matches('/').to_string());
                        }
                        Err(why) => d.error_at(base.clone().attr(svc), "Invalid endpoint URL", why),
                    }
                }
            }
        }

        if d.has_errors() {
            Err(d)
        } else {
            Ok(s)
        }
    }
}

/// The AWS partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`, ...), as ARNs name it.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// A region of the maintained list in [`super::regions`] (use
/// [`super::regions::check_region`] for a message with a suggestion).
pub fn valid_region(r: &str) -> bool {
    super::regions::is_region(r)
}

pub fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn valid_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && valid_account_id(parts[4])
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty())
}

fn valid_session_name(n: &str) -> bool {
    (2..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=,.@-_".contains(&b))
}

/// An endpoint must be `http(s)://host[:port][/path]` with a non-empty host and a numeric
/// port, so a typo is caught at validate time instead of as a connection error.
pub fn check_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| format!("{u:?} must start with http:// or https://."))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("{u:?} has no host."));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_[]:".contains(&b))
    {
        return Err(format!("{u:?} has an invalid host {host:?}."));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("{u:?} has an invalid port {p:?}."));
        }
    }
    if rest.contains(char::is_whitespace) {
        return Err(format!("{u:?} contains white space."));
    }
    Ok(())
}

/// Everything a resource needs to talk to AWS, built once at ConfigureProvider.
#[derive(Debug)]
pub struct AwsContext {
    pub sdk: SdkConfig,
    pub region: String,
    /// The account the credentials belong to, when it was looked up.
    pub account_id: Option<String>,
    pub default_tags: BTreeMap<String, String>,
    pub endpoints: Endpoints,
    /// Cancelled by `StopProvider`: waiters stop, the server keeps running.
    pub cancel: CancellationToken,
    clients: Clients,
}

impl AwsContext {
    /// Builds the SDK configuration and checks credentials and the account guard.
    pub async fn configure(
        s: &ProviderSettings,
        cancel: CancellationToken,
    ) -> Result<AwsContext, Diagnostics> {
        let region = s
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty());
        let Some(region) = region else {
            return Err(Diagnostics::from_error(
                "No AWS region",
                "Set `region` in the provider block or the AWS_REGION environment variable.",
            ));
        };
        if let Err(why) = super::regions::check_region(&region) {
            let mut d = Diagnostics::new();
            d.error_at(
                AttributePath::root("region"),
                "Invalid AWS region",
                format!("{why} (The region came from the provider block or AWS_REGION / AWS_DEFAULT_REGION.)"),
            );
            return Err(d);
        }

        let retry = RetryConfig::standard()
            .with_max_attempts(s.max_retries + 1)
            .with_initial_backoff(Duration::from_millis(200));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(p) = &s.profile {
            loader = loader.profile_name(p);
        }
        if let Some(sts) = s.endpoints.for_service("sts") {
            // Used by the assume-role credentials provider below.
            loader = loader.endpoint_url(sts);
        }
        let base = loader.load().await;

        let Some(creds) = base.credentials_provider() else {
            return Err(no_credentials("no credentials provider is configured"));
        };
        if let Err(e) = creds.provide_credentials().await {
            let mut d = no_credentials(&e.to_string());
            if s.profile.is_some() {
                d = Diagnostics::new();
                d.error_at(
                    AttributePath::root("profile"),
                    "No AWS credentials",
                    format!("The profile could not supply credentials: {e}"),
                );
            }
            return Err(d);
        }

        let sdk = match &s.assume_role {
            None => base,
            Some(ar) => {
                let mut b = aws_config::sts::AssumeRoleProvider::builder(ar.role_arn.clone())
                    .session_name(
                        ar.session_name
                            .clone()
                            .unwrap_or_else(|| "platformkit".into()),
                    )
                    .region(Region::new(region.clone()))
                    .configure(&base);
                if let Some(x) = &ar.external_id {
                    b = b.external_id(x.clone());
                }
                let provider = b.build().await;
                if let Err(e) = provider.provide_credentials().await {
                    let mut d = Diagnostics::new();
                    d.error_at(
                        AttributePath::root("assume_role").index(0).attr("role_arn"),
                        "Cannot assume role",
                        format!("Assuming {} failed: {}", ar.role_arn, chain(&e)),
                    );
                    return Err(d);
                }
                base.into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    .build()
            }
        };

        let mut ctx = AwsContext {
            sdk,
            region,
            account_id: None,
            default_tags: s.default_tags.clone(),
            endpoints: s.endpoints.clone(),
            cancel,
            clients: Clients::default(),
        };

        if !s.allowed_account_ids.is_empty() {
            let who = ctx.sts().get_caller_identity().send().await.map_err(|e| {
                Diagnostics::from_error(
                    "Cannot determine the AWS account",
                    format!(
                        "STS GetCallerIdentity failed: {}",
                        super::errors::describe(&e)
                    ),
                )
            })?;
            let account = who.account().unwrap_or_default().to_string();
            if !s.allowed_account_ids.contains(&account) {
                let mut d = Diagnostics::new();
                d.error_at(
                    AttributePath::root("allowed_account_ids"),
                    "AWS account not allowed",
                    format!(
                        "The credentials belong to account {account}, which is not in allowed_account_ids ({}). \
                         Nothing was changed. Check the profile, assume_role and environment credentials.",
                        s.allowed_account_ids.join(", ")
                    ),
                );
                return Err(d);
            }
            ctx.account_id = Some(account);
        }
        Ok(ctx)
    }

    /// The endpoint override for `service`, if any (see `sdk_clients!`).
    fn endpoint(&self, service: &str) -> Option<&str> {
        self.endpoints.for_service(service)
    }
}

/// The lazily built SDK clients, one per service, and `AwsContext`'s accessor for each
/// (`aws.s3()`, `aws.ec2()`, ...): the shared SDK configuration, the call logger, and the
/// service's endpoint override from `endpoints { ... }` when there is one. `extra` adjusts the
/// builder further when the endpoint is overridden.
macro_rules! sdk_clients {
    ($($name:ident: $sdk:ident, $service:literal $(, extra: |$b:ident| $extra:expr)?;)*) => {
        #[derive(Debug, Default)]
        struct Clients {
            $($name: OnceLock<$sdk::Client>,)*
        }

        impl AwsContext {
            $(
                pub fn $name(&self) -> &$sdk::Client {
                    self.clients.$name.get_or_init(|| {
                        let mut b = $sdk::config::Builder::from(&self.sdk)
                            .interceptor(CallLogger)
                            .interceptor(LostAnswerGuard)
                            .interceptor(StopGate(self.cancel.clone()));
                        if let Some(u) = self.endpoint($service) {
                            b = b.endpoint_url(u);
                            $(let $b = b; b = $extra;)?
                        }
                        $sdk::Client::from_conf(b.build())
                    })
                }
            )*
        }
    };
}

sdk_clients! {
    // Emulators answer path-style requests; virtual-hosted names need DNS.
    s3: aws_sdk_s3, "s3", extra: |b| b.force_path_style(true);
    dynamodb: aws_sdk_dynamodb, "dynamodb";
    sts: aws_sdk_sts, "sts";
    organizations: aws_sdk_organizations, "organizations";
    ec2: aws_sdk_ec2, "ec2";
    logs: aws_sdk_cloudwatchlogs, "logs";
    iam: aws_sdk_iam, "iam";
    kms: aws_sdk_kms, "kms";
    eks: aws_sdk_eks, "eks";
    rds: aws_sdk_rds, "rds";
    ecr: aws_sdk_ecr, "ecr";
    cloudfront: aws_sdk_cloudfront, "cloudfront";
    route53: aws_sdk_route53, "route53";
    cloudtrail: aws_sdk_cloudtrail, "cloudtrail";
    secretsmanager: aws_sdk_secretsmanager, "secretsmanager";
}

fn no_credentials(why: &str) -> Diagnostics {
    Diagnostics::from_error(
        "No AWS credentials",
        format!(
            "The provider found no credentials ({why}). Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             a `profile`, or run where an instance or container role is available."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "cn-north-1",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "moon-base-1",
            "us--1",
            "us-est-1",
            "us-east-9",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:5000").is_ok());
        assert!(check_url("https://s3.local/path").is_ok());
        assert!(check_url("127.0.0.1:5000").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("http://host:notaport").is_err());
        assert!(check_url("http://ho st").is_err());
    }

    #[test]
    fn settings_diagnostics_point_at_attributes() {
        let cfg = Value::object([
            ("region", Value::from("narnia")),
            ("allowed_account_ids", Value::List(vec![Value::from("123")])),
            (
                "endpoints",
                Value::List(vec![Value::object([(
                    "url",
                    Value::from("localhost:5000"),
                )])]),
            ),
            (
                "assume_role",
                Value::List(vec![Value::object([(
                    "role_arn",
                    Value::from("arn:aws:iam::1:user/x"),
                )])]),
            ),
        ]);
        let d = ProviderSettings::from_config(&cfg).expect_err("invalid");
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|d| d.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(
            paths,
            vec![
                "region",
                "allowed_account_ids[0]",
                "assume_role[0].role_arn",
                "endpoints[0].url"
            ]
        );
    }

    #[test]
    fn default_tags_follow_the_tag_rules() {
        let cfg = Value::object([
            ("region", Value::from("us-est-1")),
            (
                "default_tags",
                Value::List(vec![Value::object([(
                    "tags",
                    Value::string_map([("aws:team", "a"), ("ok", "b")]),
                )])]),
            ),
        ]);
        let d = ProviderSettings::from_config(&cfg).expect_err("invalid");
        let got: Vec<(String, String)> =
            d.0.iter()
                .map(|x| (x.path.as_ref().expect("path").to_string(), x.detail.clone()))
                .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "region");
        assert!(
            got[0].1.contains("did you mean \"us-east-1\""),
            "{}",
            got[0].1
        );
        assert_eq!(got[1].0, "default_tags[0].tags[\"aws:team\"]");
    }

    #[test]
    fn settings_ok() {
        let cfg = Value::object([
            ("region", Value::from("us-east-1")),
            ("max_retries", Value::int(2)),
            (
                "endpoints",
                Value::List(vec![Value::object([
                    ("url", Value::from("http://127.0.0.1:5000/")),
                    ("s3", Value::from("http://127.0.0.1:6000")),
                ])]),
            ),
        ]);
        let s = ProviderSettings::from_config(&cfg).expect("valid");
        assert_eq!(s.max_retries, 2);
        assert_eq!(s.endpoints.for_service("s3"), Some("http://127.0.0.1:6000"));
        assert_eq!(
            s.endpoints.for_service("sts"),
            Some("http://127.0.0.1:5000")
        );
    }
}
