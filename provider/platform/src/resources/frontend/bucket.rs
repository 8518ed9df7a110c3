//! The private origin bucket. Creation, adoption, the secure baseline (all four
//! public-access-block settings, bucket-owner-enforced, versioning, SSE) and observation are
//! the toolbox's S3 steps (`platform_aws::s3`); the bucket policy is this resource's own: read
//! for this one distribution only (`AWS:SourceArn`), and optionally TLS-only.

use aws_sdk_s3::Client;
use platform_aws::s3;
use platform_aws::step::StepError;
use serde_json::json;
use std::collections::BTreeMap;

pub use platform_aws::s3::{exists, get_policy, observe, tags};

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
        statements.push(platform_aws::policy::tls_only_statement(partition, bucket));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Creates or adopts the bucket and brings every setting except the policy to the desired
/// value (the policy needs the distribution's ARN, so it comes last).
pub async fn converge(
    s3c: &Client,
    bucket: &str,
    region: &str,
    owner: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    // Checked here, not left to the shared step, so the message fits this resource (a frontend is
    // imported by distribution id, not by bucket name).
    if s3::owner(s3c, bucket)
        .await?
        .is_some_and(|o| o.as_deref() != Some(owner))
    {
        return Err(StepError::new(
            "CreateBucket",
            format!("bucket {bucket:?} already exists and is not managed by this frontend; choose another bucket_name"),
        ));
    }
    s3::create_or_adopt(s3c, bucket, region, owner, false).await?;
    s3::secure(s3c, bucket, tags, None).await
}

pub async fn put_policy(
    s3c: &Client,
    bucket: &str,
    policy: &serde_json::Value,
) -> Result<(), StepError> {
    s3::put_policy(s3c, bucket, &policy.to_string()).await
}

/// The refusal to delete a bucket that still holds the site.
pub fn non_empty(bucket: &str) -> String {
    format!("bucket {bucket:?} still holds the site's files; set force_destroy = true and apply first if you really mean to delete them")
}

/// Deletes the bucket; refuses one that still holds the site unless `force_destroy`.
pub async fn delete(s3c: &Client, bucket: &str, force_destroy: bool) -> Result<(), StepError> {
    s3::delete(s3c, bucket, force_destroy, &non_empty(bucket)).await
}
