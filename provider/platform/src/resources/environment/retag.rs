//! Keeps the tags of objects that already exist equal to the desired set, so a change to
//! `tags` or the provider's `default_tags` updates every object of the environment in place.
//!
//! One object per side stands for the rest (the VPC for the network, the EKS cluster for the
//! cluster side, the DB instance for the database): when its tags are right nothing is
//! called; when not, the difference is applied to every object of that side, one call per
//! object and kind (EC2 takes all ids in one call).

use super::network::COMPONENT_KEY;
use super::StepError;
use platform_aws::step::Step;
use std::collections::BTreeMap;

pub use platform_aws::tags::TagDiff;

/// Keys AWS manages (`aws:`), the component tag and `Name`: ours to keep, never removed by
/// a tag update.
pub fn kept(k: &str) -> bool {
    k.starts_with("aws:") || k == COMPONENT_KEY || k == "Name"
}

/// What to change on an object whose tags are `have` so that they become `want`, keeping
/// the keys [`kept`] names.
pub fn diff(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> TagDiff {
    TagDiff::between_keeping(have, want, kept)
}

/// Tags as IAM takes them (a pair IAM would refuse is left out; validation refuses it first).
pub fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// Tags as KMS takes them.
pub fn kms_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_kms::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .ok()
        })
        .collect()
}

/// Every object of one side of the environment, by kind.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub ec2_ids: Vec<String>,
    pub iam_roles: Vec<String>,
    pub oidc_providers: Vec<String>,
    pub log_group_arns: Vec<String>,
    pub kms_key_ids: Vec<String>,
    pub eks_arns: Vec<String>,
    pub rds_arns: Vec<String>,
}

pub struct Clients<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub iam: &'a aws_sdk_iam::Client,
    pub logs: Option<&'a aws_sdk_cloudwatchlogs::Client>,
    pub kms: Option<&'a aws_sdk_kms::Client>,
    pub eks: Option<&'a aws_sdk_eks::Client>,
    pub rds: Option<&'a aws_sdk_rds::Client>,
}

/// Applies `diff` to every target; a no-op for an empty diff.
pub async fn apply(c: &Clients<'_>, t: &Targets, diff: &TagDiff) -> Result<(), StepError> {
    if diff.is_empty() {
        return Ok(());
    }
    tracing::info!(target: "platform::environment", removed = diff.remove.len(), set = diff.set.len(), "updating tags in place");
    let (rm, set) = (&diff.remove, &diff.set);
    if !t.ec2_ids.is_empty() {
        let ec2_tag = |(k, v): (&String, Option<&String>)| {
            aws_sdk_ec2::types::Tag::builder()
                .key(k)
                .set_value(v.cloned())
                .build()
        };
        if !rm.is_empty() {
            c.ec2
                .delete_tags()
                .set_resources(Some(t.ec2_ids.clone()))
                .set_tags(Some(rm.iter().map(|k| ec2_tag((k, None))).collect()))
                .send()
                .await
                .step("DeleteTags")
                .map(|_| ())?;
        }
        if !set.is_empty() {
            c.ec2
                .create_tags()
                .set_resources(Some(t.ec2_ids.clone()))
                .set_tags(Some(
                    set.iter().map(|(k, v)| ec2_tag((k, Some(v)))).collect(),
                ))
                .send()
                .await
                .step("CreateTags")
                .map(|_| ())?;
        }
    }
    for role in &t.iam_roles {
        if !rm.is_empty() {
            c.iam
                .untag_role()
                .role_name(role)
                .set_tag_keys(Some(rm.clone()))
                .send()
                .await
                .step("UntagRole")
                .map(|_| ())?;
        }
        if !set.is_empty() {
            c.iam
                .tag_role()
                .role_name(role)
                .set_tags(Some(iam_tags(set)))
                .send()
                .await
                .step("TagRole")
                .map(|_| ())?;
        }
    }
    for arn in &t.oidc_providers {
        if !rm.is_empty() {
            c.iam
                .untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tag_keys(Some(rm.clone()))
                .send()
                .await
                .step("UntagOpenIDConnectProvider")
                .map(|_| ())?;
        }
        if !set.is_empty() {
            c.iam
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(iam_tags(set)))
                .send()
                .await
                .step("TagOpenIDConnectProvider")
                .map(|_| ())?;
        }
    }
    if let Some(logs) = c.logs {
        for arn in &t.log_group_arns {
            if !rm.is_empty() {
                logs.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(rm.clone()))
                    .send()
                    .await
                    .step("UntagResource")
                    .map(|_| ())?;
            }
            if !set.is_empty() {
                logs.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
                    .await
                    .step("TagResource")
                    .map(|_| ())?;
            }
        }
    }
    if let Some(kms) = c.kms {
        for key in &t.kms_key_ids {
            if !rm.is_empty() {
                kms.untag_resource()
                    .key_id(key)
                    .set_tag_keys(Some(rm.clone()))
                    .send()
                    .await
                    .step("UntagResource")
                    .map(|_| ())?;
            }
            if !set.is_empty() {
                let tags = kms_tags(set);
                kms.tag_resource()
                    .key_id(key)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .step("TagResource")
                    .map(|_| ())?;
            }
        }
    }
    if let Some(eks) = c.eks {
        // A node group deleted meanwhile is drift for the next read, not a failure here.
        // (moto tags clusters only and answers "not found" for node groups.)
        let gone = |arn: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(target: "platform::environment", arn, error = %e, "not re-tagged: not found");
        };
        for arn in &t.eks_arns {
            if !rm.is_empty() {
                let req = eks
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(rm.clone()));
                match req.send().await.step("UntagResource") {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("ResourceNotFoundException") => {
                        gone(arn, &e.message)
                    }
                    Err(e) => return Err(e),
                }
            }
            if !set.is_empty() {
                let req = eks
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()));
                match req.send().await.step("TagResource") {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("ResourceNotFoundException") => {
                        gone(arn, &e.message)
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if let Some(rds) = c.rds {
        for arn in &t.rds_arns {
            if !rm.is_empty() {
                rds.remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(rm.clone()))
                    .send()
                    .await
                    .step("RemoveTagsFromResource")
                    .map(|_| ())?;
            }
            if !set.is_empty() {
                let tags = set
                    .iter()
                    .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
                    .collect();
                rds.add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .step("AddTagsToResource")
                    .map(|_| ())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_sets_changed_and_removes_stale_but_keeps_ours() {
        let have = m(&[
            ("team", "a"),
            ("old", "x"),
            ("Name", "env-vpc"),
            (COMPONENT_KEY, "vpc"),
            ("aws:cloudformation:stack-name", "s"),
        ]);
        let want = m(&[("team", "b"), ("cost", "1")]);
        let d = diff(&have, &want);
        assert_eq!(d.remove, vec!["old".to_string()]);
        assert_eq!(d.set, m(&[("team", "b"), ("cost", "1")]));
        assert!(diff(&want, &want).is_empty());
    }
}
