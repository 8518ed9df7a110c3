//! What the configuration asks for, with every default filled in (an absent block means the
//! service is on with its defaults), and every name and ARN derived from it. Built at plan
//! time once the inputs are known, so the plan shows the roles, the log group and each
//! release's values; apply builds the same from the planned state.

use super::schema::*;
use platform_aws::irsa;
use tfplugin_framework::Value;

pub const LBC_RELEASE: &str = "aws-load-balancer-controller";
pub const LBC_NAMESPACE: &str = "kube-system";
pub const LBC_SERVICE_ACCOUNT: &str = "aws-load-balancer-controller";
pub const FLUENT_BIT_RELEASE: &str = "aws-for-fluent-bit";
pub const FLUENT_BIT_NAMESPACE: &str = "kube-system";
pub const FLUENT_BIT_SERVICE_ACCOUNT: &str = "aws-for-fluent-bit";
pub const PROMETHEUS_RELEASE: &str = "kube-prometheus-stack";
pub const MONITORING_NAMESPACE: &str = "monitoring";
pub const GATEWAY_RELEASE: &str = "envoy-gateway";
pub const GATEWAY_CHART: &str = "gateway-helm";
pub const GATEWAY_NAMESPACE: &str = "envoy-gateway-system";
/// The release of the platform's own gateway objects (GatewayClass, Gateway, policies).
pub const GATEWAY_CONFIG_RELEASE: &str = "platform-gateway";
pub const GATEWAY_CLASS: &str = "platform";
pub const GATEWAY_CONTROLLER: &str = "gateway.envoyproxy.io/gatewayclass-controller";
/// The Kubernetes Secret Grafana reads its admin credentials from.
pub const GRAFANA_SECRET: &str = "grafana-admin";

#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancerController {
    pub version: String,
    pub replicas: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observability {
    pub log_retention_in_days: i64,
    pub prometheus_retention: String,
    pub grafana: bool,
    pub fluent_bit_version: String,
    pub prometheus_stack_version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub issuer: String,
    pub jwks_uri: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub version: String,
    pub jwt: Option<Jwt>,
    pub requests_per_minute: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub cluster: String,
    pub region: String,
    pub partition: String,
    pub account: String,
    pub vpc_id: String,
    pub oidc_provider_arn: String,
    pub oidc_issuer_url: String,
    pub repository: String,
    pub lbc: Option<LoadBalancerController>,
    pub observability: Option<Observability>,
    pub gateway: Option<Gateway>,
}

fn block<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).elements().first()
}

fn enabled(b: Option<&Value>) -> Option<bool> {
    match b {
        None => Some(true),
        Some(b) => match b.get("enabled") {
            Value::Null => Some(true),
            e => e.as_bool(),
        },
    }
}

fn str_or(b: Option<&Value>, attr: &str, default: &str) -> Option<String> {
    match b.map(|b| b.get(attr)) {
        None | Some(Value::Null) => Some(default.to_owned()),
        Some(v) => v.as_str().map(str::to_owned),
    }
}

fn int_or(b: Option<&Value>, attr: &str, default: i64) -> Option<i64> {
    match b.map(|b| b.get(attr)) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_i64(),
    }
}

/// The account of an ARN (`arn:partition:service:region:account:...`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

impl Desired {
    /// `None` while an input is unknown.
    pub fn from(v: &Value, region: &str) -> Option<Desired> {
        let cluster = v.get("cluster");
        let field = |f: &str| cluster.get(f).as_str().map(str::to_owned);
        let oidc_provider_arn = field("oidc_provider_arn")?;
        let account = arn_account(&oidc_provider_arn)?.to_owned();
        let lbc_b = block(v, "load_balancer_controller");
        let lbc = if enabled(lbc_b)? {
            Some(LoadBalancerController {
                version: str_or(lbc_b, "version", DEFAULT_LBC_VERSION)?,
                replicas: int_or(lbc_b, "replicas", DEFAULT_LBC_REPLICAS)?,
            })
        } else {
            None
        };
        let o_b = block(v, "observability");
        let observability = if enabled(o_b)? {
            Some(Observability {
                log_retention_in_days: int_or(o_b, "log_retention_in_days", DEFAULT_LOG_RETENTION)?,
                prometheus_retention: str_or(
                    o_b,
                    "prometheus_retention",
                    DEFAULT_PROMETHEUS_RETENTION,
                )?,
                grafana: match o_b.map(|b| b.get("grafana")) {
                    None | Some(Value::Null) => true,
                    Some(g) => g.as_bool()?,
                },
                fluent_bit_version: str_or(o_b, "fluent_bit_version", DEFAULT_FLUENT_BIT_VERSION)?,
                prometheus_stack_version: str_or(
                    o_b,
                    "prometheus_stack_version",
                    DEFAULT_PROMETHEUS_STACK_VERSION,
                )?,
            })
        } else {
            None
        };
        let g_b = block(v, "api_gateway");
        let gateway = if enabled(g_b)? {
            let jwt = match g_b.and_then(|g| block(g, "jwt")) {
                None => None,
                Some(j) => {
                    if !j.is_wholly_known() {
                        return None;
                    }
                    Some(Jwt {
                        issuer: j.get("issuer").as_str()?.to_owned(),
                        jwks_uri: j.get("jwks_uri").as_str()?.to_owned(),
                        audiences: j
                            .get("audiences")
                            .elements()
                            .iter()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect(),
                    })
                }
            };
            let requests_per_minute = match g_b.and_then(|g| block(g, "rate_limit")) {
                None => None,
                Some(r) => Some(r.get("requests_per_minute").as_i64()?),
            };
            Some(Gateway {
                version: str_or(g_b, "version", DEFAULT_ENVOY_GATEWAY_VERSION)?,
                jwt,
                requests_per_minute,
            })
        } else {
            None
        };
        Some(Desired {
            cluster: field("cluster_name")?,
            region: region.to_owned(),
            partition: platform_aws::partition(region).to_owned(),
            account,
            vpc_id: field("vpc_id")?,
            oidc_issuer_url: field("oidc_issuer_url")?,
            oidc_provider_arn,
            repository: v.get("chart_repository").as_str()?.to_owned(),
            lbc,
            observability,
            gateway,
        })
    }

    pub fn lbc_role_name(&self) -> String {
        format!("{}-aws-load-balancer-controller", self.cluster)
    }

    pub fn fluent_bit_role_name(&self) -> String {
        format!("{}-fluent-bit", self.cluster)
    }

    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::{}:role/{name}", self.partition, self.account)
    }

    pub fn log_group_name(&self) -> String {
        format!("/aws/eks/{}/containers", self.cluster)
    }

    pub fn log_group_arn(&self) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition,
            self.region,
            self.account,
            self.log_group_name()
        )
    }

    pub fn grafana_secret_name(&self) -> String {
        format!("platformkit/{}/grafana-admin", self.cluster)
    }

    /// The trust policy of a role only `namespace/service_account` may assume.
    pub fn trust_policy(&self, namespace: &str, service_account: &str) -> serde_json::Value {
        irsa::trust_policy(
            &self.oidc_provider_arn,
            irsa::issuer_host_path(&self.oidc_issuer_url),
            &irsa::service_account_subject(namespace, service_account),
        )
    }

    pub fn grafana(&self) -> bool {
        self.observability.as_ref().is_some_and(|o| o.grafana)
    }
}
