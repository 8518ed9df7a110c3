//! The private origin bucket. Creation, adoption and observation reuse the state backend's S3
//! steps (same guarantees: all four public-access-block settings, bucket-owner-enforced,
//! versioning, SSE); the bucket policy is this resource's own: read for this one distribution
//! only (`AWS:SourceArn`), and optionally TLS-only.

use crate::resources::state_backend::s3 as sb;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use aws_sdk_s3::Client;
use platform_aws::errors::code;
use platform_aws::step::{built, fail, Fail, StepError};
use serde_json::json;
use std::collections::BTreeMap;

pub use sb::ObservedBucket;

/// Read for CloudFront, and only when the request comes from this distribution.
pub fn policy(
    partition: &str,
    bucket: &str,
    distribution_arn: &str,
    require_tls: bool,
) -> serde_json::Value {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    let mut statements = vec![json!({
        "Sid": "CloudFrontReadThisDistributionOnly",
        "Effect": "Allow",
        "Principal": { "Service": "cloudfront.amazonaws.com" },
        "Action": "s3:GetObject",
        "Resource": format!("{arn}/*"),
        "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arn } }
    })];
    if require_tls {
        statements.push(json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

pub async fn observe(s3: &Client, bucket: &str) -> Result<Option<ObservedBucket>, StepError> {
    sb::observe(s3, bucket).await
}

pub async fn get_policy(s3: &Client, bucket: &str) -> Result<Option<String>, StepError> {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(p) => Ok(p.policy().map(str::to_string)),
        Err(e) if matches!(code(&e), Some("NoSuchBucketPolicy") | Some("NoSuchBucket")) => Ok(None),
        Err(e) => Err(fail("GetBucketPolicy", e)),
    }
}

/// Creates or adopts the bucket and brings every setting except the policy to the desired
/// value (the policy needs the distribution's ARN, so it comes last).
pub async fn converge(
    s3: &Client,
    bucket: &str,
    region: &str,
    owner: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    let d = sb::DesiredBucket {
        bucket: bucket.to_string(),
        region: region.to_string(),
        kms_key_arn: None,
        require_tls: false,
        noncurrent_days: 0,
        tags: tags.clone(),
        owner: owner.to_string(),
    };
    // Checked here, not left to the shared step, so the message fits this resource (a frontend is
    // imported by distribution id, not by bucket name).
    if sb::exists(s3, bucket).await?
        && sb::tags(s3, bucket)
            .await?
            .get(platform_aws::tags::OWNER_KEY)
            != Some(&d.owner)
    {
        return Err(StepError::new(
            "CreateBucket",
            format!("bucket {bucket:?} already exists and is not managed by this frontend; choose another bucket_name"),
        ));
    }
    sb::create_or_adopt(s3, &d).await?;
    let tag_set = tags
        .iter()
        .map(|(k, v)| built("PutBucketTagging", Tag::builder().key(k).value(v).build()))
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(built(
            "PutBucketTagging",
            Tagging::builder().set_tag_set(Some(tag_set)).build(),
        )?)
        .send()
        .await
        .fail("PutBucketTagging")?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .fail("PutPublicAccessBlock")?;
    let rule = built(
        "PutBucketOwnershipControls",
        OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .build(),
    )?;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(built(
            "PutBucketOwnershipControls",
            OwnershipControls::builder().rules(rule).build(),
        )?)
        .send()
        .await
        .fail("PutBucketOwnershipControls")?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .fail("PutBucketVersioning")?;
    let by_default = built(
        "PutBucketEncryption",
        ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build(),
    )?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(built(
            "PutBucketEncryption",
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(by_default)
                        .build(),
                )
                .build(),
        )?)
        .send()
        .await
        .fail("PutBucketEncryption")?;
    Ok(())
}

pub async fn put_policy(
    s3: &Client,
    bucket: &str,
    policy: &serde_json::Value,
) -> Result<(), StepError> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .fail("PutBucketPolicy")?;
    Ok(())
}

/// Deletes the bucket; refuses one that still holds the site unless `force_destroy`.
pub async fn delete(s3: &Client, bucket: &str, force_destroy: bool) -> Result<(), StepError> {
    if !sb::exists(s3, bucket).await? {
        return Ok(());
    }
    if force_destroy {
        let n = sb::empty(s3, bucket).await?;
        tracing::info!(target: "platform::frontend", bucket, deleted = n, "emptied bucket (force_destroy)");
    } else {
        let r = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1)
            .send()
            .await
            .fail("ListObjectVersions")?;
        if !r.versions().is_empty() || !r.delete_markers().is_empty() {
            return Err(StepError::new(
                "DeleteBucket",
                format!("bucket {bucket:?} still holds the site's files; set force_destroy = true and apply first if you really mean to delete them"),
            ));
        }
    }
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("NoSuchBucket") => Ok(()),
        Err(e) => Err(fail("DeleteBucket", e)),
    }
}
