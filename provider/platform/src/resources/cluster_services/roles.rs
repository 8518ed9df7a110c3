//! The two IRSA roles: the load balancer controller's, with the controller's documented IAM
//! policy (kept in `policies/`, versioned with the chart's major version, never fetched), and
//! Fluent Bit's, which may write only to the container log group.

use super::desired::*;
use platform_aws::irsa::DesiredRole;
use serde_json::{json, Value as J};
use std::collections::{BTreeMap, BTreeSet};

/// The AWS Load Balancer Controller v2 policy, written from the controller's documented
/// action list. `arn:aws:` is rewritten to the region's partition.
const LBC_POLICY: &str = include_str!("policies/load-balancer-controller-v2.json");

pub fn lbc_policy(partition: &str) -> String {
    let doc: J =
        serde_json::from_str(&LBC_POLICY.replace("arn:aws:", &format!("arn:{partition}:")))
            .unwrap_or(J::Null);
    doc.to_string()
}

/// Fluent Bit: create streams in and put events to exactly one log group.
pub fn fluent_bit_policy(log_group_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ContainerLogsOnly",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, format!("{log_group_arn}:log-stream:*")],
        }]
    })
    .to_string()
}

pub fn lbc_role(d: &Desired, tags: &BTreeMap<String, String>, owner: &str) -> DesiredRole {
    DesiredRole {
        name: d.lbc_role_name(),
        trust_policy: d.trust_policy(LBC_NAMESPACE, LBC_SERVICE_ACCOUNT),
        policy_arns: BTreeSet::new(),
        inline_policy: Some(lbc_policy(&d.partition)),
        tags: tags.clone(),
        owner: owner.to_owned(),
        description: format!(
            "AWS Load Balancer Controller of cluster {} (platformkit)",
            d.cluster
        ),
    }
}

pub fn fluent_bit_role(d: &Desired, tags: &BTreeMap<String, String>, owner: &str) -> DesiredRole {
    DesiredRole {
        name: d.fluent_bit_role_name(),
        trust_policy: d.trust_policy(FLUENT_BIT_NAMESPACE, FLUENT_BIT_SERVICE_ACCOUNT),
        policy_arns: BTreeSet::new(),
        inline_policy: Some(fluent_bit_policy(&d.log_group_arn())),
        tags: tags.clone(),
        owner: owner.to_owned(),
        description: format!("Fluent Bit of cluster {} (platformkit)", d.cluster),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbc_policy_is_valid_json_within_iams_limit_and_scoped_by_cluster_tag() {
        let p = lbc_policy("aws-cn");
        let v: J = serde_json::from_str(&p).expect("json");
        assert!(p.len() <= 10_240, "{}", p.len());
        assert!(!p.contains("arn:aws:"));
        let stmts = v["Statement"].as_array().expect("statements");
        let create = stmts
            .iter()
            .find(|s| s["Sid"] == "CreateTaggedLoadBalancers")
            .expect("create statement");
        assert_eq!(
            create["Condition"]["Null"]["aws:RequestTag/elbv2.k8s.aws/cluster"],
            "false"
        );
        let delete = stmts
            .iter()
            .find(|s| {
                s["Action"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|x| x == "elasticloadbalancing:DeleteLoadBalancer")
                })
            })
            .expect("delete statement");
        assert_eq!(
            delete["Condition"]["Null"]["aws:ResourceTag/elbv2.k8s.aws/cluster"],
            "false"
        );
    }

    #[test]
    fn fluent_bit_may_write_only_to_its_group() {
        let arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/eks/prod/containers";
        let v: J = serde_json::from_str(&fluent_bit_policy(arn)).expect("json");
        let r = v["Statement"][0]["Resource"].as_array().expect("resources");
        assert!(r
            .iter()
            .all(|x| x.as_str().is_some_and(|s| s.starts_with(arn))));
        assert!(!v.to_string().contains("CreateLogGroup"));
    }
}
