//! The state bucket: the toolbox's private-bucket steps (`platform_aws::s3`) plus what a
//! state bucket adds — the tag naming its lock table, noncurrent-version expiry and the
//! TLS-only policy. Every step is idempotent, so `converge` serves create, update and resume.

use aws_sdk_s3::Client;
use platform_aws::step::StepError;
use std::collections::BTreeMap;

pub use platform_aws::s3::{exists, observe, tags, Removal};

/// The bucket tag recording the lock table's name, so import finds the table.
pub const LOCK_TABLE_TAG: &str = "platform:lock-table";

/// What the bucket should look like.
#[derive(Debug, Clone)]
pub struct DesiredBucket {
    pub bucket: String,
    pub region: String,
    pub kms_key_arn: Option<String>,
    pub require_tls: bool,
    pub noncurrent_days: i32,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
}

/// Creates the bucket or adopts it (see `platform_aws::s3::create_or_adopt`; `claimed`: the
/// resource's state already holds this bucket, so an untagged one is adopted too).
pub async fn create_or_adopt_claimed(
    s3: &Client,
    d: &DesiredBucket,
    claimed: bool,
) -> Result<(), StepError> {
    platform_aws::s3::create_or_adopt(s3, &d.bucket, &d.region, &d.owner, claimed).await
}

/// Brings every setting to the desired value. Tags go first (they mark ownership), the
/// policy last (on some emulators a Deny policy would block the calls after it).
pub async fn converge(s3: &Client, d: &DesiredBucket, lock_table: &str) -> Result<(), StepError> {
    let b = d.bucket.as_str();
    let mut all_tags = d.tags.clone();
    all_tags.insert(LOCK_TABLE_TAG.to_string(), lock_table.to_string());
    platform_aws::s3::secure(s3, b, &all_tags, d.kms_key_arn.as_deref()).await?;
    platform_aws::s3::expire_noncurrent_versions(s3, b, d.noncurrent_days).await?;
    if d.require_tls {
        let policy = platform_aws::policy::tls_only(platform_aws::partition(&d.region), b);
        platform_aws::s3::put_policy(s3, b, &policy).await
    } else {
        platform_aws::s3::delete_policy(s3, b).await
    }
}

/// Deletes the bucket only if it carries `owner`'s tag; refuses one that still holds state
/// unless `force_destroy`.
pub async fn delete_if_owned(
    s3: &Client,
    bucket: &str,
    owner: &str,
    force_destroy: bool,
) -> Result<Removal, StepError> {
    let non_empty = format!(
        "bucket {bucket:?} still holds Terraform state (object versions). Move the state away first, \
         or set force_destroy = true and apply before destroying if you really mean to delete it"
    );
    platform_aws::s3::delete_if_owned(s3, bucket, owner, force_destroy, &non_empty).await
}
