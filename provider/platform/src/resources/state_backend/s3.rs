//! The state bucket: create or adopt, converge settings, observe, empty and delete.
//! Every `put` is idempotent, so the same `converge` serves create, update and resume.

use super::policy;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_sdk_s3::Client;
use platform_aws::errors::code;
use platform_aws::step::{absent, built, fail, StepError};
use std::collections::BTreeMap;

pub const LIFECYCLE_RULE_ID: &str = "platformkit-noncurrent-version-expiry";
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

/// What the bucket looks like in AWS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedBucket {
    pub versioning_enabled: bool,
    pub public_access_block_enabled: bool,
    pub owner_enforced: bool,
    /// `Some(arn)` for SSE-KMS with that key; `None` for SSE-S3 or no default encryption.
    pub kms_key_arn: Option<String>,
    pub encrypted: bool,
    pub tls_policy: bool,
    pub noncurrent_days: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// The body of an HTTP 200 answer the SDK could not parse, if that is what the error is.
fn ok_body<E>(e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<String> {
    let raw = e.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    raw.body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Whether the bucket exists (and we may see it).
pub async fn exists(s3: &Client, bucket: &str) -> Result<bool, StepError> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Err(StepError::new(
            "HeadBucket",
            format!("bucket {bucket:?} exists but belongs to another account (bucket names are global); choose another name"),
        )),
        Err(e) => Err(fail("HeadBucket", e)),
    }
}

pub async fn tags(s3: &Client, bucket: &str) -> Result<BTreeMap<String, String>, StepError> {
    let r = absent(
        s3.get_bucket_tagging().bucket(bucket).send().await,
        "GetBucketTagging",
        &["NoSuchTagSet", "NoSuchTagSetError"],
    )?;
    Ok(r.map(|t| {
        t.tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    })
    .unwrap_or_default())
}

/// Creates the bucket, or adopts it when it already exists and carries our owner tag
/// (a crash between CreateBucket and the state write must not strand it).
pub async fn create_or_adopt(s3: &Client, d: &DesiredBucket) -> Result<(), StepError> {
    create_or_adopt_claimed(s3, d, false).await
}

/// As [`create_or_adopt`]; with `claimed` (the resource's state already holds this bucket, e.g.
/// after `terraform import` of a bucket made elsewhere) an existing bucket with no owner tag is
/// adopted too — `converge` then tags it. A bucket owned by another resource never is.
pub async fn create_or_adopt_claimed(
    s3: &Client,
    d: &DesiredBucket,
    claimed: bool,
) -> Result<(), StepError> {
    if exists(s3, &d.bucket).await? {
        let t = tags(s3, &d.bucket).await?;
        let owner = t.get(platform_aws::tags::OWNER_KEY);
        if owner == Some(&d.owner) || (claimed && owner.is_none()) {
            tracing::info!(target: "platform::state_backend", bucket = %d.bucket, "adopting existing bucket owned by this resource");
            return Ok(());
        }
        return Err(StepError::new(
            "CreateBucket",
            format!(
                "bucket {:?} already exists and is not managed by this resource; \
                 import it with `terraform import <address> {}` or choose another name",
                d.bucket, d.bucket
            ),
        ));
    }
    let mut req = s3
        .create_bucket()
        .bucket(&d.bucket)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced);
    if d.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(d.region.as_str()))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) => Err(fail("CreateBucket", e)),
    }
}

/// Brings every setting to the desired value. Tags go first (they mark ownership), the
/// policy last (on some emulators a Deny policy would block the calls after it).
pub async fn converge(s3: &Client, d: &DesiredBucket, lock_table: &str) -> Result<(), StepError> {
    let b = d.bucket.as_str();
    let mut all_tags = d.tags.clone();
    all_tags.insert(LOCK_TABLE_TAG.to_string(), lock_table.to_string());
    let tag_set = all_tags
        .iter()
        .map(|(k, v)| built("PutBucketTagging", Tag::builder().key(k).value(v).build()))
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_tagging()
        .bucket(b)
        .tagging(built(
            "PutBucketTagging",
            Tagging::builder().set_tag_set(Some(tag_set)).build(),
        )?)
        .send()
        .await
        .map_err(|e| fail("PutBucketTagging", e))?;

    s3.put_public_access_block()
        .bucket(b)
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
        .map_err(|e| fail("PutPublicAccessBlock", e))?;

    let rule = built(
        "PutBucketOwnershipControls",
        OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .build(),
    )?;
    s3.put_bucket_ownership_controls()
        .bucket(b)
        .ownership_controls(built(
            "PutBucketOwnershipControls",
            OwnershipControls::builder().rules(rule).build(),
        )?)
        .send()
        .await
        .map_err(|e| fail("PutBucketOwnershipControls", e))?;

    s3.put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail("PutBucketVersioning", e))?;

    let by_default = match &d.kms_key_arn {
        Some(k) => ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(k),
        None => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
        }
    };
    let sse_rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(built("PutBucketEncryption", by_default.build())?)
        .bucket_key_enabled(d.kms_key_arn.is_some())
        .build();
    s3.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(built(
            "PutBucketEncryption",
            ServerSideEncryptionConfiguration::builder()
                .rules(sse_rule)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| fail("PutBucketEncryption", e))?;

    let lifecycle = built(
        "PutBucketLifecycleConfiguration",
        LifecycleRule::builder()
            .id(LIFECYCLE_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(d.noncurrent_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build(),
    )?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(b)
        .lifecycle_configuration(built(
            "PutBucketLifecycleConfiguration",
            BucketLifecycleConfiguration::builder()
                .rules(lifecycle)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| fail("PutBucketLifecycleConfiguration", e))?;

    if d.require_tls {
        s3.put_bucket_policy()
            .bucket(b)
            .policy(policy::tls_only(platform_aws::partition(&d.region), b))
            .send()
            .await
            .map_err(|e| fail("PutBucketPolicy", e))?;
    } else {
        let r = s3.delete_bucket_policy().bucket(b).send().await;
        absent(r, "DeleteBucketPolicy", &["NoSuchBucketPolicy"])?;
    }
    Ok(())
}

/// Reads every setting concurrently. `Ok(None)` when the bucket is gone.
pub async fn observe(s3: &Client, bucket: &str) -> Result<Option<ObservedBucket>, StepError> {
    if !exists(s3, bucket).await? {
        return Ok(None);
    }
    let (ver, pab, own, enc, pol, lc, tags) = tokio::join!(
        s3.get_bucket_versioning().bucket(bucket).send(),
        s3.get_public_access_block().bucket(bucket).send(),
        s3.get_bucket_ownership_controls().bucket(bucket).send(),
        s3.get_bucket_encryption().bucket(bucket).send(),
        s3.get_bucket_policy().bucket(bucket).send(),
        s3.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send(),
        tags(s3, bucket),
    );
    let versioning_enabled = match ver {
        Ok(v) => v
            .status()
            .is_some_and(|s| *s == BucketVersioningStatus::Enabled),
        Err(e) => match ok_body(&e) {
            // Some S3 emulators wrap this answer in a root element the SDK does not accept; the
            // HTTP 200 body still says what the status is.
            Some(body) => body.contains("<Status>Enabled</Status>"),
            None => return Err(fail("GetBucketVersioning", e)),
        },
    };
    let mut o = ObservedBucket {
        versioning_enabled,
        tags: tags?,
        ..Default::default()
    };
    if let Some(p) = absent(
        pab,
        "GetPublicAccessBlock",
        &["NoSuchPublicAccessBlockConfiguration"],
    )? {
        o.public_access_block_enabled = p.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });
    }
    if let Some(c) = absent(
        own,
        "GetBucketOwnershipControls",
        &["OwnershipControlsNotFoundError"],
    )? {
        o.owner_enforced = c.ownership_controls().is_some_and(|oc| {
            oc.rules()
                .iter()
                .any(|r| r.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
        });
    }
    if let Some(e) = absent(
        enc,
        "GetBucketEncryption",
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )? {
        let default = e
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default());
        if let Some(d) = default {
            o.encrypted = true;
            if *d.sse_algorithm() == ServerSideEncryption::AwsKms {
                o.kms_key_arn = d.kms_master_key_id().map(str::to_string);
            }
        }
    }
    if let Some(p) = absent(pol, "GetBucketPolicy", &["NoSuchBucketPolicy"])? {
        o.tls_policy = p.policy().is_some_and(policy::has_tls_statement);
    }
    if let Some(l) = absent(
        lc,
        "GetBucketLifecycleConfiguration",
        &["NoSuchLifecycleConfiguration"],
    )? {
        o.noncurrent_days = l
            .rules()
            .iter()
            .find(|r| r.id() == Some(LIFECYCLE_RULE_ID))
            .and_then(|r| r.noncurrent_version_expiration())
            .and_then(|n| n.noncurrent_days());
    }
    Ok(Some(o))
}

/// Counts object versions and delete markers, stopping early past `limit`.
async fn count_versions(s3: &Client, bucket: &str, limit: usize) -> Result<usize, StepError> {
    let r = s3
        .list_object_versions()
        .bucket(bucket)
        .max_keys(limit as i32)
        .send()
        .await
        .map_err(|e| fail("ListObjectVersions", e))?;
    Ok(r.versions().len() + r.delete_markers().len())
}

/// Deletes every object version and delete marker, a page at a time.
pub(crate) async fn empty(s3: &Client, bucket: &str) -> Result<usize, StepError> {
    let mut deleted = 0;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| fail("ListObjectVersions", e))?;
        let mut ids = Vec::new();
        for v in page.versions() {
            if let Some(k) = v.key() {
                ids.push(built(
                    "DeleteObjects",
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.version_id().map(str::to_string))
                        .build(),
                )?);
            }
        }
        for m in page.delete_markers() {
            if let Some(k) = m.key() {
                ids.push(built(
                    "DeleteObjects",
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(m.version_id().map(str::to_string))
                        .build(),
                )?);
            }
        }
        if ids.is_empty() {
            return Ok(deleted);
        }
        deleted += ids.len();
        s3.delete_objects()
            .bucket(bucket)
            .delete(built(
                "DeleteObjects",
                Delete::builder().set_objects(Some(ids)).quiet(true).build(),
            )?)
            .send()
            .await
            .map_err(|e| fail("DeleteObjects", e))?;
    }
}

/// What a delete that only touches owned objects did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    Absent,
    /// The object exists but does not carry this resource's owner tag: left alone.
    NotOurs,
}

/// Deletes the bucket only if it carries `owner`'s tag: a same-named bucket this resource
/// never created (a refused create leaves the name in state) is never deleted.
pub async fn delete_if_owned(
    s3: &Client,
    bucket: &str,
    owner: &str,
    force_destroy: bool,
) -> Result<Removal, StepError> {
    if !exists(s3, bucket).await? {
        return Ok(Removal::Absent);
    }
    let t = tags(s3, bucket).await?;
    if t.get(platform_aws::tags::OWNER_KEY).map(String::as_str) != Some(owner) {
        return Ok(Removal::NotOurs);
    }
    delete(s3, bucket, force_destroy).await?;
    Ok(Removal::Deleted)
}

/// Deletes the bucket; refuses a non-empty one unless `force_destroy`.
pub async fn delete(s3: &Client, bucket: &str, force_destroy: bool) -> Result<(), StepError> {
    if !exists(s3, bucket).await? {
        return Ok(());
    }
    if force_destroy {
        let n = empty(s3, bucket).await?;
        tracing::info!(target: "platform::state_backend", bucket, deleted = n, "emptied bucket (force_destroy)");
    } else {
        let n = count_versions(s3, bucket, 1).await?;
        if n > 0 {
            return Err(StepError::new(
                "DeleteBucket",
                format!(
                    "bucket {bucket:?} still holds Terraform state (object versions). Move the state away first, \
                     or set force_destroy = true and apply before destroying if you really mean to delete it"
                ),
            ));
        }
    }
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("NoSuchBucket") => Ok(()),
        Err(e) => Err(fail("DeleteBucket", e)),
    }
}
