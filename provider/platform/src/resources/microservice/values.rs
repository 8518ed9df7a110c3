//! The Helm values document for `terraform-modules/charts/microservice`, rendered from the
//! resource's attributes. Pure (no AWS, no I/O) so plan can show it and tests can pin it: the
//! chart's `values.yaml` and this renderer are the two halves of one contract.

use serde_json::{json, Map, Value as J};
use std::collections::BTreeMap;

/// The service-account annotation EKS's pod identity webhook reads to inject IRSA credentials.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Requests and limits used when `resources` leaves a key out: small but not starved, and a
/// memory limit equal to the request so the scheduler's view matches what the pod may use.
pub const DEFAULT_RESOURCES: &[(&str, &str)] = &[
    ("cpu_request", "100m"),
    ("memory_request", "128Mi"),
    ("cpu_limit", "500m"),
    ("memory_limit", "128Mi"),
];

/// Everything the chart needs to know about one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub namespace: String,
    pub repository_url: String,
    pub image_tag: String,
    pub replicas: i64,
    pub max_replicas: i64,
    pub container_port: i64,
    pub health_check_path: String,
    pub path_prefix: Option<String>,
    pub resources: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub role_arn: String,
    pub cluster_name: String,
    /// The service's route on the platform gateway (`platform_cluster_services`), instead of
    /// an Ingress.
    pub gateway: Option<GatewayRoute>,
}

/// JWT authentication for one route, replacing the gateway-wide one for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteJwt {
    pub issuer: String,
    pub jwks_uri: String,
    pub audiences: Vec<String>,
}

/// An HTTPRoute attached to the platform Gateway, with per-service policy overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRoute {
    pub parent_name: String,
    pub parent_namespace: String,
    pub requests_per_minute: Option<i64>,
    pub jwt: Option<RouteJwt>,
}

/// The `gateway` section of the values: the HTTPRoute and its policies (Envoy Gateway's
/// `BackendTrafficPolicy` for the rate limit, `SecurityPolicy` for JWT), each targeting the
/// route, so they take precedence over the gateway-wide ones for this service only.
fn gateway_values(g: &GatewayRoute, path_prefix: &str) -> J {
    let rate = match g.requests_per_minute {
        Some(n) => json!({ "enabled": true, "requestsPerMinute": n }),
        None => json!({ "enabled": false }),
    };
    let jwt = match &g.jwt {
        Some(j) => json!({
            "enabled": true,
            "issuer": j.issuer,
            "jwksUri": j.jwks_uri,
            "audiences": j.audiences,
        }),
        None => json!({ "enabled": false }),
    };
    json!({
        "enabled": true,
        "pathPrefix": path_prefix,
        "parentRef": { "name": g.parent_name, "namespace": g.parent_namespace },
        "rateLimit": rate,
        "jwt": jwt,
    })
}

impl ServiceSpec {
    /// `repository_url:image_tag`, the reference a pod pulls.
    pub fn image(&self) -> String {
        format!("{}:{}", self.repository_url, self.image_tag)
    }

    fn resource(&self, key: &str) -> String {
        self.resources
            .get(key)
            .cloned()
            .or_else(|| {
                DEFAULT_RESOURCES
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_default()
    }
}

/// The values as a JSON value (key order fixed, so the rendered string is stable and a plan
/// only shows a change when something really changed).
pub fn values(s: &ServiceSpec) -> J {
    let env: Vec<J> = s
        .env
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    let mut annotations = Map::new();
    annotations.insert(IRSA_ANNOTATION.to_string(), J::from(s.role_arn.clone()));
    let mut v = json!({
        "nameOverride": s.name,
        "namespace": s.namespace,
        "image": {
            "repository": s.repository_url,
            "tag": s.image_tag,
            "pullPolicy": "IfNotPresent",
        },
        "replicaCount": s.replicas,
        "containerPort": s.container_port,
        "healthCheckPath": s.health_check_path,
        "resources": {
            "requests": { "cpu": s.resource("cpu_request"), "memory": s.resource("memory_request") },
            "limits": { "cpu": s.resource("cpu_limit"), "memory": s.resource("memory_limit") },
        },
        "env": env,
        "serviceAccount": {
            "create": true,
            "name": s.name,
            "annotations": J::Object(annotations),
        },
        "autoscaling": {
            "enabled": s.max_replicas > s.replicas,
            "minReplicas": s.replicas,
            "maxReplicas": s.max_replicas,
            "targetCPUUtilizationPercentage": 70,
        },
        "podDisruptionBudget": {
            "enabled": s.replicas > 1,
            "maxUnavailable": 1,
        },
        "route": {
            "enabled": s.path_prefix.is_some() && s.gateway.is_none(),
            "pathPrefix": s.path_prefix.clone().unwrap_or_default(),
        },
        "labels": {
            "platform.io/cluster": s.cluster_name,
        },
    });
    // Only a service on the gateway has the key, so the values of every other service stay
    // exactly as they were.
    if let Some(g) = &s.gateway {
        v["gateway"] = gateway_values(g, s.path_prefix.as_deref().unwrap_or_default());
    }
    v
}

/// The values as the compact JSON string stored in `helm_values`.
pub fn render(s: &ServiceSpec) -> String {
    values(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "mobile-service".into(),
            namespace: "apps".into(),
            repository_url: "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mobile-service".into(),
            image_tag: "0123456789abcdef0123456789abcdef01234567".into(),
            replicas: 2,
            max_replicas: 6,
            container_port: 8080,
            health_check_path: "/healthz".into(),
            path_prefix: Some("/mobile".into()),
            resources: BTreeMap::from([("cpu_limit".to_string(), "1".to_string())]),
            env: BTreeMap::from([
                ("LOG_LEVEL".to_string(), "info".to_string()),
                ("A".to_string(), "b".to_string()),
            ]),
            role_arn: "arn:aws:iam::111111111111:role/mobile-service-irsa".into(),
            cluster_name: "prod".into(),
            gateway: None,
        }
    }

    #[test]
    fn a_service_on_the_gateway_gets_a_route_and_its_overrides_instead_of_an_ingress() {
        let mut s = spec();
        assert!(values(&s).get("gateway").is_none());
        s.gateway = Some(GatewayRoute {
            parent_name: "platform".into(),
            parent_namespace: "envoy-gateway-system".into(),
            requests_per_minute: Some(120),
            jwt: Some(RouteJwt {
                issuer: "https://login.example".into(),
                jwks_uri: "https://login.example/jwks.json".into(),
                audiences: vec!["mobile".into()],
            }),
        });
        let v = values(&s);
        assert_eq!(v["route"]["enabled"], false);
        assert_eq!(
            v["gateway"],
            json!({
                "enabled": true,
                "pathPrefix": "/mobile",
                "parentRef": {"name": "platform", "namespace": "envoy-gateway-system"},
                "rateLimit": {"enabled": true, "requestsPerMinute": 120},
                "jwt": {
                    "enabled": true,
                    "issuer": "https://login.example",
                    "jwksUri": "https://login.example/jwks.json",
                    "audiences": ["mobile"],
                },
            })
        );
        if let Some(g) = s.gateway.as_mut() {
            g.requests_per_minute = None;
            g.jwt = None;
        }
        let v = values(&s);
        assert_eq!(v["gateway"]["rateLimit"], json!({"enabled": false}));
        assert_eq!(v["gateway"]["jwt"], json!({"enabled": false}));
    }

    #[test]
    fn values_carry_every_input() {
        let v = values(&spec());
        assert_eq!(
            v["image"]["repository"],
            "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mobile-service"
        );
        assert_eq!(
            v["image"]["tag"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(v["replicaCount"], 2);
        assert_eq!(v["containerPort"], 8080);
        assert_eq!(
            v["serviceAccount"]["annotations"][IRSA_ANNOTATION],
            "arn:aws:iam::111111111111:role/mobile-service-irsa"
        );
        assert_eq!(
            v["route"],
            json!({"enabled": true, "pathPrefix": "/mobile"})
        );
        assert_eq!(v["autoscaling"]["enabled"], true);
        assert_eq!(v["podDisruptionBudget"]["enabled"], true);
    }

    #[test]
    fn resources_fall_back_to_defaults_per_key() {
        let v = values(&spec());
        assert_eq!(v["resources"]["limits"]["cpu"], "1");
        assert_eq!(v["resources"]["requests"]["cpu"], "100m");
        assert_eq!(v["resources"]["limits"]["memory"], "128Mi");
    }

    #[test]
    fn env_is_a_sorted_list_of_name_value_pairs() {
        let v = values(&spec());
        assert_eq!(
            v["env"],
            json!([{"name": "A", "value": "b"}, {"name": "LOG_LEVEL", "value": "info"}])
        );
    }

    #[test]
    fn no_route_and_no_hpa_or_pdb_for_a_single_fixed_replica() {
        let mut s = spec();
        s.path_prefix = None;
        s.replicas = 1;
        s.max_replicas = 1;
        let v = values(&s);
        assert_eq!(v["route"]["enabled"], false);
        assert_eq!(v["autoscaling"]["enabled"], false);
        assert_eq!(v["podDisruptionBudget"]["enabled"], false);
    }

    #[test]
    fn only_the_tag_changes_when_the_tag_changes() {
        let a = spec();
        let mut b = spec();
        b.image_tag = "1.2.3".into();
        let (va, vb) = (values(&a), values(&b));
        assert_ne!(va["image"], vb["image"]);
        let strip = |mut v: J| {
            v["image"] = J::Null;
            v
        };
        assert_eq!(strip(va), strip(vb));
        assert_eq!(b.image(), format!("{}:1.2.3", a.repository_url));
    }

    #[test]
    fn rendering_is_stable() {
        assert_eq!(render(&spec()), render(&spec()));
    }
}
