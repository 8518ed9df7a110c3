//! The Helm releases the resource installs, in install order, with the values each upstream
//! chart needs. The keys are the charts' documented ones (unit-tested below against the
//! keys each chart's README / values.yaml documents), so the values mean the same to the
//! real charts in your mirror as to the stand-ins the tests serve.

use super::desired::*;
use serde_json::{json, Value as J};

/// IRSA: the annotation EKS's pod identity webhook reads.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The version of the platform's own gateway chart, embedded in the provider.
pub const GATEWAY_CONFIG_VERSION: &str = "0.1.0";

/// One release to install.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRelease {
    pub name: &'static str,
    pub chart: &'static str,
    pub version: String,
    pub namespace: &'static str,
    pub values: J,
    /// The chart is the provider's own (embedded), not one from `chart_repository`.
    pub embedded: bool,
}

fn service_account(name: &str, role_arn: &str) -> J {
    json!({ "create": true, "name": name, "annotations": { IRSA_ANNOTATION: role_arn } })
}

/// `aws-load-balancer-controller` (eks-charts).
pub fn load_balancer_controller(d: &Desired, l: &LoadBalancerController) -> J {
    json!({
        "clusterName": d.cluster,
        "region": d.region,
        "vpcId": d.vpc_id,
        "replicaCount": l.replicas,
        "serviceAccount": service_account(LBC_SERVICE_ACCOUNT, &d.role_arn(&d.lbc_role_name())),
    })
}

/// `aws-for-fluent-bit` (eks-charts): only the CloudWatch Logs output, to exactly our group
/// in our region, never creating a group of its own.
pub fn fluent_bit(d: &Desired) -> J {
    json!({
        "cloudWatchLogs": {
            "enabled": true,
            "region": d.region,
            "logGroupName": d.log_group_name(),
            "logStreamPrefix": "fluentbit-",
            "autoCreateGroup": false,
        },
        "cloudWatch": { "enabled": false },
        "firehose": { "enabled": false },
        "kinesis": { "enabled": false },
        "elasticsearch": { "enabled": false },
        "serviceAccount": service_account(FLUENT_BIT_SERVICE_ACCOUNT, &d.role_arn(&d.fluent_bit_role_name())),
    })
}

/// `kube-prometheus-stack` (prometheus-community): monitors and rules from every release, not
/// only its own (`*SelectorNilUsesHelmValues: false`), the retention, and Grafana reading its
/// admin credentials from a Secret the provider writes (never from values, which Helm keeps
/// in clear in its release records).
pub fn prometheus_stack(o: &Observability) -> J {
    let grafana = if o.grafana {
        json!({
            "enabled": true,
            "admin": {
                "existingSecret": GRAFANA_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
        })
    } else {
        json!({ "enabled": false })
    };
    json!({
        "prometheus": {
            "prometheusSpec": {
                "retention": o.prometheus_retention,
                "serviceMonitorSelectorNilUsesHelmValues": false,
                "podMonitorSelectorNilUsesHelmValues": false,
                "ruleSelectorNilUsesHelmValues": false,
                "probeSelectorNilUsesHelmValues": false,
            },
        },
        "grafana": grafana,
    })
}

/// `gateway-helm` (Envoy Gateway): the controller name our GatewayClass names.
pub fn envoy_gateway() -> J {
    json!({
        "config": {
            "envoyGateway": {
                "gateway": { "controllerName": GATEWAY_CONTROLLER },
                "provider": { "type": "Kubernetes" },
            },
        },
    })
}

/// The platform's gateway objects: GatewayClass, Gateway, JWT and rate-limit policies.
pub fn gateway_config(g: &Gateway) -> J {
    let jwt = match &g.jwt {
        Some(j) => json!({
            "enabled": true,
            "issuer": j.issuer,
            "jwksUri": j.jwks_uri,
            "audiences": j.audiences,
        }),
        None => json!({ "enabled": false }),
    };
    let rate = match g.requests_per_minute {
        Some(n) => json!({ "enabled": true, "requestsPerMinute": n }),
        None => json!({ "enabled": false }),
    };
    json!({
        "gatewayClassName": GATEWAY_CLASS,
        "controllerName": GATEWAY_CONTROLLER,
        "jwt": jwt,
        "rateLimit": rate,
    })
}

/// Every release the configuration asks for, in install order (uninstall is the reverse):
/// the load balancer controller first and last out, so it is there to remove the load
/// balancers of the others' Ingresses and Services.
pub fn releases(d: &Desired) -> Vec<PlannedRelease> {
    let mut out = Vec::new();
    if let Some(l) = &d.lbc {
        out.push(PlannedRelease {
            name: LBC_RELEASE,
            chart: LBC_RELEASE,
            version: l.version.clone(),
            namespace: LBC_NAMESPACE,
            values: load_balancer_controller(d, l),
            embedded: false,
        });
    }
    if let Some(o) = &d.observability {
        out.push(PlannedRelease {
            name: FLUENT_BIT_RELEASE,
            chart: FLUENT_BIT_RELEASE,
            version: o.fluent_bit_version.clone(),
            namespace: FLUENT_BIT_NAMESPACE,
            values: fluent_bit(d),
            embedded: false,
        });
        out.push(PlannedRelease {
            name: PROMETHEUS_RELEASE,
            chart: PROMETHEUS_RELEASE,
            version: o.prometheus_stack_version.clone(),
            namespace: MONITORING_NAMESPACE,
            values: prometheus_stack(o),
            embedded: false,
        });
    }
    if let Some(g) = &d.gateway {
        out.push(PlannedRelease {
            name: GATEWAY_RELEASE,
            chart: GATEWAY_CHART,
            version: g.version.clone(),
            namespace: GATEWAY_NAMESPACE,
            values: envoy_gateway(),
            embedded: false,
        });
        out.push(PlannedRelease {
            name: GATEWAY_CONFIG_RELEASE,
            chart: GATEWAY_CONFIG_RELEASE,
            version: GATEWAY_CONFIG_VERSION.to_owned(),
            namespace: GATEWAY_NAMESPACE,
            values: gateway_config(g),
            embedded: true,
        });
    }
    out
}

/// Every dotted key path of the leaves of a values document (`a.b.c`); keys containing dots
/// (annotations) end the path.
pub fn leaf_paths(v: &J) -> Vec<String> {
    fn walk(v: &J, prefix: &str, out: &mut Vec<String>) {
        match v {
            J::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if k.contains('.') || k.contains('/') {
                        out.push(prefix.to_owned());
                    } else {
                        walk(x, &p, out);
                    }
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            cluster: "prod".into(),
            region: "eu-west-1".into(),
            partition: "aws".into(),
            account: "111111111111".into(),
            vpc_id: "vpc-0123456789abcdef0".into(),
            oidc_provider_arn:
                "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
                    .into(),
            oidc_issuer_url: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC".into(),
            repository: "https://charts.mirror.internal".into(),
            lbc: Some(LoadBalancerController {
                version: "1.11.0".into(),
                replicas: 2,
            }),
            observability: Some(Observability {
                log_retention_in_days: 30,
                prometheus_retention: "15d".into(),
                grafana: true,
                fluent_bit_version: "0.1.34".into(),
                prometheus_stack_version: "66.3.1".into(),
            }),
            gateway: Some(Gateway {
                version: "v1.2.1".into(),
                jwt: Some(Jwt {
                    issuer: "https://issuer.example".into(),
                    jwks_uri: "https://issuer.example/jwks.json".into(),
                    audiences: vec!["api".into()],
                }),
                requests_per_minute: Some(600),
            }),
        }
    }

    /// Every key we set must be one the upstream chart documents.
    fn assert_documented(values: &J, documented: &[&str]) {
        for p in leaf_paths(values) {
            assert!(
                documented.contains(&p.as_str()),
                "{p} is not a documented key of the chart"
            );
        }
    }

    // Keys documented in the eks-charts README of aws-load-balancer-controller (its configuration
    // table: `clusterName`, `region`, `vpcId` "The VPC ID for the Kubernetes cluster",
    // `replicaCount`, `serviceAccount.*`; stable/aws-load-balancer-controller/README.md).
    const LBC_KEYS: &[&str] = &[
        "clusterName",
        "region",
        "vpcId",
        "replicaCount",
        "serviceAccount.create",
        "serviceAccount.name",
        "serviceAccount.annotations",
    ];

    // Keys documented in the eks-charts README of aws-for-fluent-bit (stable/aws-for-fluent-bit/
    // README.md: the `cloudWatchLogs.*` rows of the core plugin, incl. `autoCreateGroup`, and the
    // `enabled` switch of each other output).
    const FLUENT_BIT_KEYS: &[&str] = &[
        "cloudWatchLogs.enabled",
        "cloudWatchLogs.region",
        "cloudWatchLogs.logGroupName",
        "cloudWatchLogs.logStreamPrefix",
        "cloudWatchLogs.autoCreateGroup",
        "cloudWatch.enabled",
        "firehose.enabled",
        "kinesis.enabled",
        "elasticsearch.enabled",
        "serviceAccount.create",
        "serviceAccount.name",
        "serviceAccount.annotations",
    ];

    // Keys of kube-prometheus-stack's values.yaml (and its grafana subchart's `admin.*`).
    const PROMETHEUS_KEYS: &[&str] = &[
        "prometheus.prometheusSpec.retention",
        "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
        "grafana.enabled",
        "grafana.admin.existingSecret",
        "grafana.admin.userKey",
        "grafana.admin.passwordKey",
    ];

    // Keys of gateway-helm's values.yaml (the EnvoyGateway configuration it renders:
    // `config.envoyGateway.gateway.controllerName`, `config.envoyGateway.provider.type`, as in
    // the chart's default values and Envoy Gateway's install docs).
    const ENVOY_GATEWAY_KEYS: &[&str] = &[
        "config.envoyGateway.gateway.controllerName",
        "config.envoyGateway.provider.type",
    ];

    #[test]
    fn load_balancer_controller_values_use_documented_keys() {
        let d = desired();
        let v = load_balancer_controller(&d, d.lbc.as_ref().expect("lbc"));
        assert_documented(&v, LBC_KEYS);
        assert_eq!(v["clusterName"], "prod");
        assert_eq!(v["vpcId"], "vpc-0123456789abcdef0");
        assert_eq!(v["region"], "eu-west-1");
        assert_eq!(
            v["serviceAccount"]["annotations"][IRSA_ANNOTATION],
            "arn:aws:iam::111111111111:role/prod-aws-load-balancer-controller"
        );
    }

    #[test]
    fn fluent_bit_writes_only_to_our_group_and_never_creates_one() {
        let d = desired();
        let v = fluent_bit(&d);
        assert_documented(&v, FLUENT_BIT_KEYS);
        assert_eq!(
            v["cloudWatchLogs"]["logGroupName"],
            "/aws/eks/prod/containers"
        );
        assert_eq!(v["cloudWatchLogs"]["region"], "eu-west-1");
        assert_eq!(v["cloudWatchLogs"]["autoCreateGroup"], false);
        for other in ["cloudWatch", "firehose", "kinesis", "elasticsearch"] {
            assert_eq!(v[other]["enabled"], false, "{other}");
        }
    }

    #[test]
    fn prometheus_selects_every_release_and_keeps_the_password_out_of_values() {
        let d = desired();
        let v = prometheus_stack(d.observability.as_ref().expect("obs"));
        assert_documented(&v, PROMETHEUS_KEYS);
        assert_eq!(v["prometheus"]["prometheusSpec"]["retention"], "15d");
        assert_eq!(
            v["prometheus"]["prometheusSpec"]["serviceMonitorSelectorNilUsesHelmValues"],
            false
        );
        assert_eq!(v["grafana"]["admin"]["existingSecret"], GRAFANA_SECRET);
        assert!(!v.to_string().contains("adminPassword"));
    }

    #[test]
    fn envoy_gateway_values_use_documented_keys() {
        assert_documented(&envoy_gateway(), ENVOY_GATEWAY_KEYS);
    }

    #[test]
    fn releases_install_in_order_and_follow_the_switches() {
        let mut d = desired();
        let names: Vec<_> = releases(&d).iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                LBC_RELEASE,
                FLUENT_BIT_RELEASE,
                PROMETHEUS_RELEASE,
                GATEWAY_RELEASE,
                GATEWAY_CONFIG_RELEASE
            ]
        );
        d.observability = None;
        d.gateway = None;
        let names: Vec<_> = releases(&d).iter().map(|r| r.name).collect();
        assert_eq!(names, [LBC_RELEASE]);
    }

    #[test]
    fn gateway_config_carries_jwt_and_rate_limit() {
        let d = desired();
        let v = gateway_config(d.gateway.as_ref().expect("gw"));
        assert_eq!(v["jwt"]["jwksUri"], "https://issuer.example/jwks.json");
        assert_eq!(v["rateLimit"]["requestsPerMinute"], 600);
    }
}
