//! The schema of `platform_cluster_services`, its defaults (every chart pinned by version)
//! and the fixed names of what it installs.

use tfplugin_framework::{Attribute, Block, NestedBlock, Schema, Type};

pub const TYPE_NAME: &str = "platform_cluster_services";

// Each pinned chart version was checked to exist upstream (public sources searched on
// 2026-11-30; recorded here so the next bump knows where to look):
// - aws-load-balancer-controller 1.11.0 (eks-charts, https://aws.github.io/eks-charts): published
//   as a chart package `aws-load-balancer-controller-1.11.0` (mirrored e.g. as
//   ghcr.io/appscode-charts/aws-load-balancer-controller:1.11.0 and vendored as
//   `aws-load-balancer-controller-1.11.0/` in public Terraform repositories); app v2.11.0.
// - aws-for-fluent-bit 0.1.34 (eks-charts): pinned as `version = "0.1.34"` with repository
//   https://aws.github.io/eks-charts in public CDK/Terraform code (awsFluentBitChartVersion).
// - kube-prometheus-stack 66.3.1 (prometheus-community/helm-charts): the release tag
//   `kube-prometheus-stack-66.3.1` is linked from public configurations
//   (.../helm-charts/blob/kube-prometheus-stack-66.3.1/charts/kube-prometheus-stack/...).
// - gateway-helm v1.2.1 (Envoy Gateway, oci://docker.io/envoyproxy/gateway-helm): installed with
//   `helm install eg oci://docker.io/envoyproxy/gateway-helm --version v1.2.1` in many public
//   guides; Envoy Gateway's docs publish the chart at that OCI address.
// The tests install stand-ins (tests/charts) carrying these versions; the values sent to each
// real chart are unit-tested against its documented keys (values.rs).
pub const DEFAULT_LBC_VERSION: &str = "1.11.0";
pub const DEFAULT_LBC_REPLICAS: i64 = 2;
pub const DEFAULT_FLUENT_BIT_VERSION: &str = "0.1.34";
pub const DEFAULT_PROMETHEUS_STACK_VERSION: &str = "66.3.1";
pub const DEFAULT_LOG_RETENTION: i64 = 30;
pub const DEFAULT_PROMETHEUS_RETENTION: &str = "15d";
pub const DEFAULT_GATEWAY_IMPLEMENTATION: &str = "envoy-gateway";
pub const DEFAULT_ENVOY_GATEWAY_VERSION: &str = "v1.2.1";

/// The computed attributes: set by apply, kept by plan unless what they derive from changes.
pub(super) const COMPUTED: &[(&str, &str)] = &[
    ("load_balancer_controller_role_arn", "ARN of the load balancer controller's IRSA role (null when the controller is disabled)."),
    ("fluent_bit_role_arn", "ARN of Fluent Bit's IRSA role, allowed to write only to `log_group_name` (null when observability is disabled)."),
    ("log_group_name", "The CloudWatch log group every pod's logs go to: `/aws/eks/<cluster>/containers`."),
    ("log_group_arn", "ARN of that log group."),
    ("grafana_admin_secret_arn", "ARN of the Secrets Manager secret holding Grafana's generated admin password (the password itself is never in state)."),
    ("gateway_class_name", "The GatewayClass every microservice's route attaches to (`platform`)."),
    ("gateway_address", "The address the API gateway's load balancer got, once it has one (null until then)."),
];

/// Type of one entry of `releases`.
pub fn release_type() -> Type {
    Type::object([
        ("chart", Type::String),
        ("version", Type::String),
        ("namespace", Type::String),
        ("values", Type::String),
        ("status", Type::String),
        ("revision", Type::Number),
        ("crds", Type::list(Type::String)),
        ("objects", Type::map(Type::String)),
    ])
}

/// Type of `gateway`: the Gateway's name and namespace, and its class.
pub fn gateway_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("namespace", Type::String),
        ("class_name", Type::String),
    ])
}

/// The environment fields the services need; `platform_environment` exposes them under these
/// names, so `cluster = platform_environment.prod` works.
pub const CLUSTER_FIELDS: &[&str] = &[
    "cluster_name",
    "cluster_endpoint",
    "cluster_certificate_authority",
    "oidc_issuer_url",
    "oidc_provider_arn",
    "vpc_id",
];

pub fn schema() -> Schema {
    let mut b = Block::new()
        .description("The cluster's core services, installed as Helm releases before any microservice: the AWS Load Balancer Controller (IRSA role with its documented policy), observability (Fluent Bit shipping every pod's logs to a CloudWatch log group created here with a retention, kube-prometheus-stack with Grafana whose admin password is generated into Secrets Manager), and an API gateway (Envoy Gateway) with JWT authentication and rate limits. Every chart is pinned by version; CRDs are applied before and removed after their release (a CRD still holding objects this resource did not create is left, with a warning); destroy deletes the Ingresses and LoadBalancer Services the load balancer controller manages first and waits for their load balancers to go, so the VPC can be deleted. Microservices route through the gateway with `platform_microservice`'s `gateway { parent = <this>.gateway }`. Grafana's secret is deleted with a 7-day recovery window; a re-create within it restores the secret. Import by cluster name (`terraform import platform_cluster_services.<name> <cluster>`).")
        .attr(Attribute::string("id").computed().description("The cluster name."))
        .attr(Attribute::new("cluster", Type::object(CLUSTER_FIELDS.iter().map(|f| (*f, Type::String)))).required().description("The EKS cluster: `platform_environment.<name>`, or an object with `cluster_name`, `cluster_endpoint`, `cluster_certificate_authority`, `oidc_issuer_url`, `oidc_provider_arn` and `vpc_id`. The provider signs a fresh EKS token for every connection (the provider's `kubernetes` override wins when set)."))
        .attr(Attribute::string("chart_repository").required().description("URL of your mirror of the upstream chart repositories (an HTTP(S) Helm repository holding `aws-load-balancer-controller`, `aws-for-fluent-bit`, `kube-prometheus-stack` and `gateway-helm` at the pinned versions). No default: platformkit does not reach out to public repositories on your behalf."))
        .attr(Attribute::bool("wait").default(true).description("Wait until each release's Deployments, DaemonSets and Services are ready before the next (bounded by `timeouts`). Default true."))
        .attr(Attribute::string_map("tags").optional().description("Tags for the AWS objects created here (IAM roles, log group, secret), besides the provider's default tags."));
    for (name, desc) in COMPUTED {
        b = b.attr(Attribute::string(name).computed().description(desc));
    }
    b = b
        .attr(Attribute::new("gateway", gateway_type()).computed().description("The platform Gateway every microservice route attaches to: `name`, `namespace` and `class_name`. Pass it to `platform_microservice`'s `gateway { parent = platform_cluster_services.<name>.gateway }`. Null when the API gateway is disabled."))
        .attr(Attribute::new("releases", Type::map(release_type())).computed().description("Each Helm release by name: `chart`, pinned `version`, `namespace`, the `values` (JSON) the resource sets, Helm's `status` (`deployed`; `missing` or `drifted` when refresh found it uninstalled or its objects deleted/edited out of band, which the next apply repairs), `revision`, the `crds` applied before it, and its `objects`: each object of the release (`Kind/namespace/name`) with a digest, rendered against the cluster at plan time for a release that changes (so the plan names the objects that change), and `absent` or `edited:<digest>` when refresh found one deleted or changed in the cluster."))
        .block(NestedBlock::at_most_one(
            "load_balancer_controller",
            Block::new()
                .description("The AWS Load Balancer Controller: turns Ingresses into ALBs and LoadBalancer Services into NLBs. On unless `enabled = false`.")
                .attr(Attribute::bool("enabled").default(true).description("Install the controller. Default true."))
                .attr(Attribute::string("version").default(DEFAULT_LBC_VERSION).description("Version of the `aws-load-balancer-controller` chart."))
                .attr(Attribute::number("replicas").default(DEFAULT_LBC_REPLICAS).description("Controller replicas, 1-10. Default 2.")),
        ))
        .block(NestedBlock::at_most_one(
            "observability",
            Block::new()
                .description("Logs to CloudWatch (Fluent Bit) and metrics (kube-prometheus-stack, Grafana). On unless `enabled = false`.")
                .attr(Attribute::bool("enabled").default(true).description("Install Fluent Bit and kube-prometheus-stack and create the log group. Default true."))
                .attr(Attribute::number("log_retention_in_days").default(DEFAULT_LOG_RETENTION).description("Retention of the container log group, one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653). Default 30."))
                .attr(Attribute::string("prometheus_retention").default(DEFAULT_PROMETHEUS_RETENTION).description("How long Prometheus keeps metrics, a Prometheus duration such as `15d` or `12h`. Default `15d`."))
                .attr(Attribute::bool("grafana").default(true).description("Install Grafana, its admin password generated into Secrets Manager. Default true."))
                .attr(Attribute::string("fluent_bit_version").default(DEFAULT_FLUENT_BIT_VERSION).description("Version of the `aws-for-fluent-bit` chart."))
                .attr(Attribute::string("prometheus_stack_version").default(DEFAULT_PROMETHEUS_STACK_VERSION).description("Version of the `kube-prometheus-stack` chart.")),
        ))
        .block(NestedBlock::at_most_one(
            "api_gateway",
            Block::new()
                .description("The in-cluster API gateway every microservice's `path_prefix` routes through, with authentication and rate limits. On unless `enabled = false`.")
                .attr(Attribute::bool("enabled").default(true).description("Install the gateway. Default true."))
                .attr(Attribute::string("implementation").default(DEFAULT_GATEWAY_IMPLEMENTATION).description("The gateway implementation: `envoy-gateway` (Gateway API with JWT and rate limits built in)."))
                .attr(Attribute::string("version").default(DEFAULT_ENVOY_GATEWAY_VERSION).description("Version of the implementation's chart (`gateway-helm` for envoy-gateway)."))
                .block(NestedBlock::at_most_one(
                    "jwt",
                    Block::new()
                        .description("Require a valid JWT on every request through the gateway.")
                        .attr(Attribute::string("issuer").required().description("The `iss` the tokens must carry."))
                        .attr(Attribute::string("jwks_uri").required().description("HTTPS URL of the issuer's JSON Web Key Set."))
                        .attr(Attribute::string_list("audiences").optional().description("Accepted `aud` values; any audience when unset.")),
                ))
                .block(NestedBlock::at_most_one(
                    "rate_limit",
                    Block::new()
                        .description("A request rate limit applied to every route through the gateway.")
                        .attr(Attribute::number("requests_per_minute").required().description("Requests per minute allowed, greater than 0.")),
                )),
        ))
        .block(NestedBlock::at_most_one(
            "timeouts",
            Block::new()
                .description("How long apply and destroy may take, e.g. \"20m\". Default 20m each; `delete` bounds the wait for load balancers to go.")
                .attr(Attribute::string("create").optional().description("Create timeout."))
                .attr(Attribute::string("update").optional().description("Update timeout."))
                .attr(Attribute::string("delete").optional().description("Destroy timeout, including the wait for the load balancer controller's Ingresses and LoadBalancer Services (and their load balancers) to go.")),
        ));
    Schema::new(0, b)
}
