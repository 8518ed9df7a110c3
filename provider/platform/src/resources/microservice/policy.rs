//! The three JSON documents the resource owns: the IRSA trust policy, the ECR repository
//! policy and the ECR lifecycle policy. Built at plan time (they are shown in the plan) and
//! compared semantically on read (the toolbox's `platform_aws::policy`), since AWS may reorder
//! keys or URL-encode what it returns.

use serde_json::{json, Value as J};

pub use platform_aws::irsa::{service_account_subject, trust_policy};
pub use platform_aws::policy::{parse_document, same_document, url_decode};

/// Read-only pull actions: what a node (kubelet) needs to start a pod from the repository.
pub const PULL_ACTIONS: &[&str] = &[
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
];

/// The registry host for an account and region.
pub fn registry_host(account: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{account}.dkr.ecr.{region}.{suffix}")
}

/// Pull access for the environment's node role and for whole accounts listed in
/// `pull_account_ids` (e.g. prod pulling the image built once in a shared account).
pub fn repository_policy(partition: &str, node_role_arn: &str, pull_account_ids: &[String]) -> J {
    let mut principals = vec![J::from(node_role_arn)];
    principals.extend(
        pull_account_ids
            .iter()
            .map(|a| J::from(format!("arn:{partition}:iam::{a}:root"))),
    );
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PlatformPull",
            "Effect": "Allow",
            "Principal": { "AWS": principals },
            "Action": PULL_ACTIONS,
        }]
    })
}

/// Untagged images (failed or superseded pushes) expire first; beyond that only the newest
/// `keep_tagged` images are kept, so a rollback target is always there but storage is bounded.
pub fn lifecycle_policy(keep_tagged: i64, expire_untagged_days: i64) -> J {
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("Expire untagged images after {expire_untagged_days} days"),
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": expire_untagged_days,
                },
                "action": { "type": "expire" }
            },
            {
                "rulePriority": 2,
                "description": format!("Keep the {keep_tagged} most recent images"),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_tagged,
                },
                "action": { "type": "expire" }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_scoped_to_one_service_account() {
        let p = trust_policy(
            "arn:aws:iam::111111111111:oidc-provider/oidc.example/id/X",
            "oidc.example/id/X",
            &service_account_subject("apps", "api"),
        );
        let c = &p["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(c["oidc.example/id/X:sub"], "system:serviceaccount:apps:api");
        assert_eq!(c["oidc.example/id/X:aud"], "sts.amazonaws.com");
    }

    #[test]
    fn repository_policy_lists_node_role_and_accounts() {
        let p = repository_policy(
            "aws",
            "arn:aws:iam::111111111111:role/nodes",
            &["222222222222".to_string()],
        );
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            json!([
                "arn:aws:iam::111111111111:role/nodes",
                "arn:aws:iam::222222222222:root"
            ])
        );
    }

    #[test]
    fn lifecycle_rules_are_ordered_any_last() {
        let p = lifecycle_policy(30, 7);
        assert_eq!(p["rules"][0]["selection"]["tagStatus"], "untagged");
        assert_eq!(p["rules"][1]["selection"]["tagStatus"], "any");
        assert_eq!(p["rules"][1]["selection"]["countNumber"], 30);
    }
}
