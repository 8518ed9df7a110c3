//! The organization trail of `platform_organization`: one CloudTrail trail for every account and
//! region of the organization, log file validation on, delivering into an S3 bucket with the
//! state backend's protections (the shared steps in `platform_aws::s3`: versioning, encryption,
//! all four public-access-block settings, bucket-owner-enforced) plus a bucket policy that is
//! TLS-only and lets CloudTrail (and only for this trail, by `aws:SourceArn`) write, and a
//! CloudWatch log group with a retention, delivered to by a least-privilege role.
//!
//! Order: bucket and its policy, log group, role → trail → start logging. Delete runs the other
//! way, and refuses before touching anything when the bucket still holds log files and
//! `force_destroy` is off (audit logs are never deleted by accident).

use aws_sdk_cloudtrail::types::Tag as TrailTag;
use platform_aws::step::{Absent, Step, StepError};
use platform_aws::tags::TagDiff;
use platform_aws::{iam, policy, s3, AwsContext};
use serde_json::json;
use std::collections::BTreeMap;

const TARGET: &str = "platform::organization";

/// Log retentions CloudWatch Logs accepts (days).
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// What the `trail` block asks for, with every name derived.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredTrail {
    pub name: String,
    pub bucket: String,
    pub log_group: String,
    pub retention_days: i32,
    pub kms_key_arn: Option<String>,
    pub force_destroy: bool,
    pub tags: BTreeMap<String, String>,
    /// `platform:owner` of every part (bucket, log group, role, trail).
    pub owner: String,
}

impl DesiredTrail {
    /// The role CloudTrail assumes to write into the log group.
    pub fn role_name(&self) -> String {
        role_name(&self.name)
    }
}

pub fn role_name(trail: &str) -> String {
    format!("{trail}-cloudwatch")
}

pub fn log_group_name(trail: &str) -> String {
    format!("/platform/cloudtrail/{trail}")
}

pub fn trail_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{name}")
}

pub fn log_group_arn(partition: &str, region: &str, account: &str, group: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{group}")
}

pub fn role_arn(partition: &str, account: &str, role: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{role}")
}

/// Trail names: 3-128 characters of letters, digits, `.`, `_` and `-`, starting and ending with
/// a letter or digit, no two separators in a row (AWS's rules); at most 54 so that the role
/// name `<trail>-cloudwatch` fits IAM's 64.
pub fn check_name(n: &str) -> Result<(), String> {
    if !(3..=54).contains(&n.len()) {
        return Err(format!("must be 3 to 54 characters long (is {})", n.len()));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "may contain only letters, digits, periods, underscores and hyphens (found {c:?})"
        ));
    }
    let b = n.as_bytes();
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err("must start and end with a letter or digit".into());
    }
    let sep = |c: u8| matches!(c, b'.' | b'_' | b'-');
    if b.windows(2).any(|w| sep(w[0]) && sep(w[1])) {
        return Err("must not have two periods, underscores or hyphens in a row".into());
    }
    Ok(())
}

/// The bucket policy: TLS only, and CloudTrail may read the ACL and write log files under
/// `AWSLogs/<management account>/` and `AWSLogs/<organization id>/`, for this trail only.
pub fn bucket_policy(
    partition: &str,
    bucket: &str,
    account: &str,
    org_id: &str,
    trail_arn: &str,
) -> String {
    let b = format!("arn:{partition}:s3:::{bucket}");
    let source = json!({"StringEquals": {"aws:SourceArn": trail_arn}});
    json!({
        "Version": "2012-10-17",
        "Statement": [
            policy::tls_only_statement(partition, bucket),
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": b,
                "Condition": source
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [
                    format!("{b}/AWSLogs/{account}/*"),
                    format!("{b}/AWSLogs/{org_id}/*")
                ],
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceArn": trail_arn
                    }
                }
            }
        ]
    })
    .to_string()
}

fn trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// Only log streams in this trail's group: create them and put events.
fn role_policy(log_group_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DeliverTrailEvents",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{log_group_arn}:log-stream:*")
        }]
    })
    .to_string()
}

const ROLE_POLICY_NAME: &str = "deliver-trail-events";

/// What exists after [`ensure`]: the ARNs the resource reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrailParts {
    pub trail_arn: String,
    pub bucket_arn: String,
    pub log_group_arn: String,
    pub role_arn: String,
}

/// Creates or repairs every part of the trail. `account`/`org_id` are the management
/// account and the organization the trail belongs to.
pub async fn ensure(
    aws: &AwsContext,
    d: &DesiredTrail,
    account: &str,
    org_id: &str,
    claimed_bucket: bool,
) -> Result<TrailParts, StepError> {
    let partition = platform_aws::partition(&aws.region);
    let arn = trail_arn(partition, &aws.region, account, &d.name);
    let lg_arn = log_group_arn(partition, &aws.region, account, &d.log_group);

    // The bucket, with the same baseline as the state backend, and its policy.
    let s3c = aws.s3();
    s3::create_or_adopt(s3c, &d.bucket, &aws.region, &d.owner, claimed_bucket).await?;
    s3::secure(s3c, &d.bucket, &d.tags, d.kms_key_arn.as_deref()).await?;
    s3::put_policy(
        s3c,
        &d.bucket,
        &bucket_policy(partition, &d.bucket, account, org_id, &arn),
    )
    .await?;

    // The log group with its retention.
    let logs = aws.logs();
    let mut req = logs
        .create_log_group()
        .log_group_name(&d.log_group)
        .set_tags(Some(d.tags.clone().into_iter().collect()));
    if let Some(k) = &d.kms_key_arn {
        req = req.kms_key_id(k);
    }
    req.send()
        .await
        .step("CreateLogGroup")
        .absent(&["ResourceAlreadyExistsException"])?;
    logs.put_retention_policy()
        .log_group_name(&d.log_group)
        .retention_in_days(d.retention_days)
        .send()
        .await
        .step("PutRetentionPolicy")?;

    // The delivery role: trust CloudTrail, write only into this group.
    let iamc = aws.iam();
    let role = d.role_name();
    let tags: Vec<aws_sdk_iam::types::Tag> = d
        .tags
        .iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    let created = iamc
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust_policy())
        .description("Delivers the organization trail's events to its CloudWatch log group")
        .set_tags(Some(tags))
        .send()
        .await
        .step("CreateRole")
        .absent(&["EntityAlreadyExists"])?;
    let role_arn = match created.and_then(|r| r.role().map(|r| r.arn().to_string())) {
        Some(a) => a,
        None => iamc
            .get_role()
            .role_name(&role)
            .send()
            .await
            .step("GetRole")?
            .role()
            .map(|r| r.arn().to_string())
            .unwrap_or_default(),
    };
    iamc.put_role_policy()
        .role_name(&role)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(role_policy(&lg_arn))
        .send()
        .await
        .step("PutRolePolicy")?;

    // The trail itself: created, or brought back to what we want.
    let ct = aws.cloudtrail();
    let cw_arn = format!("{lg_arn}:*");
    let exists = ct
        .get_trail()
        .name(&d.name)
        .send()
        .await
        .step("GetTrail")
        .absent(&["TrailNotFoundException"])?
        .and_then(|t| t.trail().cloned());
    match exists {
        None => {
            let tags: Vec<TrailTag> = d
                .tags
                .iter()
                .filter_map(|(k, v)| TrailTag::builder().key(k).value(v).build().ok())
                .collect();
            ct.create_trail()
                .name(&d.name)
                .s3_bucket_name(&d.bucket)
                .is_organization_trail(true)
                .is_multi_region_trail(true)
                .include_global_service_events(true)
                .enable_log_file_validation(true)
                .cloud_watch_logs_log_group_arn(&cw_arn)
                .cloud_watch_logs_role_arn(&role_arn)
                .set_kms_key_id(d.kms_key_arn.clone())
                .set_tags_list(Some(tags))
                .send()
                .await
                .step("CreateTrail")?;
            tracing::info!(target: TARGET, trail = d.name, "created the organization trail");
        }
        Some(t) => {
            let same = t.s3_bucket_name() == Some(d.bucket.as_str())
                && t.is_organization_trail() == Some(true)
                && t.is_multi_region_trail() == Some(true)
                && t.include_global_service_events() == Some(true)
                && t.log_file_validation_enabled() == Some(true)
                && t.cloud_watch_logs_log_group_arn() == Some(cw_arn.as_str())
                && t.cloud_watch_logs_role_arn() == Some(role_arn.as_str())
                && t.kms_key_id().filter(|k| !k.is_empty()) == d.kms_key_arn.as_deref();
            if !same {
                tracing::info!(target: TARGET, trail = d.name, "updating the organization trail");
                ct.update_trail()
                    .name(&d.name)
                    .s3_bucket_name(&d.bucket)
                    .is_organization_trail(true)
                    .is_multi_region_trail(true)
                    .include_global_service_events(true)
                    .enable_log_file_validation(true)
                    .cloud_watch_logs_log_group_arn(&cw_arn)
                    .cloud_watch_logs_role_arn(&role_arn)
                    .kms_key_id(d.kms_key_arn.clone().unwrap_or_default())
                    .send()
                    .await
                    .step("UpdateTrail")?;
            }
        }
    }
    retag(aws, d, &arn, &lg_arn, &role).await?;
    if !logging(aws, &d.name).await?.unwrap_or(false) {
        ct.start_logging()
            .name(&d.name)
            .send()
            .await
            .step("StartLogging")?;
    }
    Ok(TrailParts {
        trail_arn: arn,
        bucket_arn: format!("arn:{partition}:s3:::{}", d.bucket),
        log_group_arn: lg_arn,
        role_arn,
    })
}

/// Brings the tags of the log group, the role and the trail to `d.tags` (create sets them;
/// this keeps them in step when `tags` or `default_tags` change). The bucket's are set by
/// `s3::secure`.
async fn retag(
    aws: &AwsContext,
    d: &DesiredTrail,
    trail_arn: &str,
    log_group_arn: &str,
    role: &str,
) -> Result<(), StepError> {
    let logs = aws.logs();
    let have: BTreeMap<String, String> = logs
        .list_tags_for_resource()
        .resource_arn(log_group_arn)
        .send()
        .await
        .step("ListTagsForResource")?
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let diff = TagDiff::between(&have, &d.tags);
    if !diff.set.is_empty() {
        logs.tag_resource()
            .resource_arn(log_group_arn)
            .set_tags(Some(diff.set.into_iter().collect()))
            .send()
            .await
            .step("TagResource")?;
    }
    if !diff.remove.is_empty() {
        logs.untag_resource()
            .resource_arn(log_group_arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .step("UntagResource")?;
    }

    let iamc = aws.iam();
    let have: BTreeMap<String, String> = iamc
        .list_role_tags()
        .role_name(role)
        .send()
        .await
        .step("ListRoleTags")?
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    iam::retag_role(iamc, role, &have, &d.tags).await?;

    let ct = aws.cloudtrail();
    let have: BTreeMap<String, String> = ct
        .list_tags()
        .resource_id_list(trail_arn)
        .send()
        .await
        .step("ListTags")?
        .resource_tag_list()
        .iter()
        .flat_map(|r| r.tags_list())
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let diff = TagDiff::between(&have, &d.tags);
    let trail_tags = |m: Vec<(String, String)>| {
        m.into_iter()
            .map(|(k, v)| TrailTag::builder().key(k).value(v).build().step("AddTags"))
            .collect::<Result<Vec<_>, _>>()
    };
    if !diff.set.is_empty() {
        ct.add_tags()
            .resource_id(trail_arn)
            .set_tags_list(Some(trail_tags(diff.set.into_iter().collect())?))
            .send()
            .await
            .step("AddTags")?;
    }
    if !diff.remove.is_empty() {
        let old = diff
            .remove
            .into_iter()
            .map(|k| {
                let v = have.get(&k).cloned().unwrap_or_default();
                (k, v)
            })
            .collect();
        ct.remove_tags()
            .resource_id(trail_arn)
            .set_tags_list(Some(trail_tags(old)?))
            .send()
            .await
            .step("RemoveTags")?;
    }
    Ok(())
}

/// Whether the trail is logging; `None` when there is no such trail.
pub async fn logging(aws: &AwsContext, name: &str) -> Result<Option<bool>, StepError> {
    let s = aws
        .cloudtrail()
        .get_trail_status()
        .name(name)
        .send()
        .await
        .step("GetTrailStatus")
        .absent(&["TrailNotFoundException"])?;
    Ok(s.map(|s| s.is_logging().unwrap_or(false)))
}

/// What refresh reports about the trail: whether it logs (and is an organization trail with
/// validation on, for all regions) and whether its bucket still has every protection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observed {
    pub logging: bool,
    pub bucket_secure: bool,
}

pub async fn observe(aws: &AwsContext, name: &str, bucket: &str) -> Result<Observed, StepError> {
    let ct = aws.cloudtrail();
    let (t, status, b) = tokio::join!(
        async {
            ct.get_trail()
                .name(name)
                .send()
                .await
                .step("GetTrail")
                .absent(&["TrailNotFoundException"])
        },
        logging(aws, name),
        s3::observe(aws.s3(), bucket),
    );
    let shaped = t?.and_then(|t| t.trail().cloned()).is_some_and(|t| {
        t.is_organization_trail() == Some(true)
            && t.is_multi_region_trail() == Some(true)
            && t.log_file_validation_enabled() == Some(true)
            && t.s3_bucket_name() == Some(bucket)
    });
    let logging = shaped && status?.unwrap_or(false);
    let bucket_secure = b?.is_some_and(|o| {
        o.versioning_enabled
            && o.public_access_block_enabled
            && o.owner_enforced
            && o.encrypted
            && o.tls_policy
    });
    Ok(Observed {
        logging,
        bucket_secure,
    })
}

/// Deletes the trail, its role, its log group and its bucket (only if the bucket carries our
/// owner tag). Without `force_destroy` a bucket holding log files is refused first, before
/// anything is deleted.
pub async fn remove(aws: &AwsContext, d: &DesiredTrail) -> Result<Vec<String>, StepError> {
    let mut notes = Vec::new();
    let s3c = aws.s3();
    let non_empty = format!(
        "the trail bucket {:?} still holds log files; audit logs are not deleted unless the trail block sets force_destroy = true (or empty the bucket first). Nothing was deleted",
        d.bucket
    );
    if !d.force_destroy
        && s3::owner(s3c, &d.bucket).await?.flatten().as_deref() == Some(d.owner.as_str())
        && s3::holds_objects(s3c, &d.bucket).await?
    {
        return Err(StepError::new("DeleteBucket", non_empty));
    }
    let ct = aws.cloudtrail();
    ct.delete_trail()
        .name(&d.name)
        .send()
        .await
        .step("DeleteTrail")
        .absent(&["TrailNotFoundException"])?;
    iam::delete_role(aws.iam(), &d.role_name()).await?;
    aws.logs()
        .delete_log_group()
        .log_group_name(&d.log_group)
        .send()
        .await
        .step("DeleteLogGroup")
        .absent(&["ResourceNotFoundException"])?;
    match s3::delete_if_owned(s3c, &d.bucket, &d.owner, d.force_destroy, &non_empty).await? {
        s3::Removal::NotOurs => notes.push(format!(
            "The trail bucket {:?} was not created by this resource and was left in place.",
            d.bucket
        )),
        s3::Removal::Deleted | s3::Removal::Absent => {}
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_names() {
        assert!(check_name("platformkit-organization").is_ok());
        assert!(check_name("ab").is_err());
        assert!(check_name("-abc").is_err());
        assert!(check_name("a--b").is_err());
        assert!(check_name("a b c").is_err());
        assert!(check_name(&"a".repeat(55)).is_err());
    }

    #[test]
    fn bucket_policy_is_tls_only_and_scoped_to_the_trail() {
        let arn = trail_arn("aws", "us-east-1", "111111111111", "org");
        let p = bucket_policy("aws", "logs", "111111111111", "o-abc1234567", &arn);
        assert!(policy::has_tls_statement(&p));
        let v: serde_json::Value = serde_json::from_str(&p).expect("json");
        let write = &v["Statement"][2];
        assert_eq!(write["Condition"]["StringEquals"]["aws:SourceArn"], arn);
        assert_eq!(
            write["Resource"][1],
            "arn:aws:s3:::logs/AWSLogs/o-abc1234567/*"
        );
    }
}
