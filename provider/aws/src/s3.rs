//! Private S3 bucket steps the composites share: create or adopt by owner tag, the secure
//! baseline (tags, all four public-access-block settings, bucket-owner-enforced, versioning,
//! default encryption), noncurrent-version expiry, policy, observe, empty and delete. Every
//! `put` is idempotent, so the same steps serve create, update and resume after a crash.

use super::policy;
use super::step::{Absent, Step, StepError};
use super::tags::OWNER_KEY;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use std::collections::BTreeMap;

/// The id of the lifecycle rule [`expire_noncurrent_versions`] manages.
pub const LIFECYCLE_RULE_ID: &str = "platformkit-noncurrent-version-expiry";

/// What a bucket looks like in AWS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedBucket {
    pub versioning_enabled: bool,
    pub public_access_block_enabled: bool,
    pub owner_enforced: bool,
    /// `Some(arn)` for SSE-KMS with that key; `None` for SSE-S3 or no default encryption.
    pub kms_key_arn: Option<String>,
    pub encrypted: bool,
    /// The bucket policy holds the TLS-only statement ([`policy::tls_only_statement`]).
    pub tls_policy: bool,
    /// The noncurrent-version expiry of the rule [`LIFECYCLE_RULE_ID`].
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
    match s3.head_bucket().bucket(bucket).send().await.step("HeadBucket") {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() || e.status() == Some(404) => Ok(false),
        Err(e) if e.status() == Some(403) => Err(StepError::new(
            "HeadBucket",
            format!("bucket {bucket:?} exists but belongs to another account (bucket names are global); choose another name"),
        )),
        Err(e) => Err(e),
    }
}

/// The bucket's tags (none when it has no tag set).
pub async fn tags(s3: &Client, bucket: &str) -> Result<BTreeMap<String, String>, StepError> {
    let r = s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .step("GetBucketTagging")
        .absent(&["NoSuchTagSet", "NoSuchTagSetError"])?;
    Ok(r.map(|t| {
        t.tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    })
    .unwrap_or_default())
}

/// The owner tag of an existing bucket: `None` when the bucket does not exist,
/// `Some(None)` when it exists without one.
pub async fn owner(s3: &Client, bucket: &str) -> Result<Option<Option<String>>, StepError> {
    if !exists(s3, bucket).await? {
        return Ok(None);
    }
    Ok(Some(tags(s3, bucket).await?.remove(OWNER_KEY)))
}

/// Creates the bucket with `owner`'s tag, or adopts it when it already exists and carries that
/// tag (a crash between CreateBucket and the state write must not strand it). With `claimed` (the
/// resource's state already holds this bucket, e.g. after `terraform import` of a bucket made
/// elsewhere) an existing bucket with no owner tag is adopted too — the baseline then tags
/// it. A bucket owned by another resource never is.
pub async fn create_or_adopt(
    s3: &Client,
    bucket: &str,
    region: &str,
    owner: &str,
    claimed: bool,
) -> Result<(), StepError> {
    if exists(s3, bucket).await? {
        let t = tags(s3, bucket).await?;
        let found = t.get(OWNER_KEY);
        if found.map(String::as_str) == Some(owner) || (claimed && found.is_none()) {
            tracing::info!(target: "platform::s3", bucket, "adopting existing bucket owned by this resource");
            return Ok(());
        }
        return Err(StepError::new(
            "CreateBucket",
            format!(
                "bucket {bucket:?} already exists and is not managed by this resource; \
                 import it with `terraform import <address> {bucket}` or choose another name"
            ),
        ));
    }
    // The owner tag goes with the create itself (S3 applies tags given in CreateBucket
    // atomically), so a crash before the baseline's PutBucketTagging leaves a bucket the next
    // apply adopts, not one it must refuse as foreign. The full tag set follows in `secure`.
    let owner_tag = Tag::builder()
        .key(OWNER_KEY)
        .value(owner)
        .build()
        .step("CreateBucket")?;
    let mut config = CreateBucketConfiguration::builder().tags(owner_tag);
    if region != "us-east-1" {
        config = config.location_constraint(BucketLocationConstraint::from(region));
    }
    s3.create_bucket()
        .bucket(bucket)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .create_bucket_configuration(config.build())
        .send()
        .await
        .step("CreateBucket")
        .absent(&["BucketAlreadyOwnedByYou"])?;
    Ok(())
}

/// Brings the settings every private bucket has to the desired value: the tags (first: they
/// mark ownership), all four public-access-block settings, bucket-owner-enforced, versioning
/// and default encryption (SSE-KMS with `kms_key_arn` and a bucket key, else SSE-S3).
pub async fn secure(
    s3: &Client,
    bucket: &str,
    tags: &BTreeMap<String, String>,
    kms_key_arn: Option<&str>,
) -> Result<(), StepError> {
    let tag_set = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .step("PutBucketTagging")
        })
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tag_set))
                .build()
                .step("PutBucketTagging")?,
        )
        .send()
        .await
        .step("PutBucketTagging")?;

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
        .step("PutPublicAccessBlock")?;

    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .step("PutBucketOwnershipControls")?;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(rule)
                .build()
                .step("PutBucketOwnershipControls")?,
        )
        .send()
        .await
        .step("PutBucketOwnershipControls")?;

    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .step("PutBucketVersioning")?;

    let by_default = match kms_key_arn {
        Some(k) => ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(k),
        None => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
        }
    };
    let sse_rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default.build().step("PutBucketEncryption")?)
        .bucket_key_enabled(kms_key_arn.is_some())
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(sse_rule)
                .build()
                .step("PutBucketEncryption")?,
        )
        .send()
        .await
        .step("PutBucketEncryption")?;
    Ok(())
}

/// The lifecycle rule [`LIFECYCLE_RULE_ID`]: noncurrent versions expire after `days`, and
/// incomplete multipart uploads are aborted after 7 days.
pub async fn expire_noncurrent_versions(
    s3: &Client,
    bucket: &str,
    days: i32,
) -> Result<(), StepError> {
    let step = "PutBucketLifecycleConfiguration";
    let lifecycle = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(7)
                .build(),
        )
        .build()
        .step(step)?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(lifecycle)
                .build()
                .step(step)?,
        )
        .send()
        .await
        .step(step)?;
    Ok(())
}

/// Sets the bucket policy.
pub async fn put_policy(s3: &Client, bucket: &str, policy: &str) -> Result<(), StepError> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .step("PutBucketPolicy")?;
    Ok(())
}

/// Removes the bucket policy; no policy is fine.
pub async fn delete_policy(s3: &Client, bucket: &str) -> Result<(), StepError> {
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .step("DeleteBucketPolicy")
        .absent(&["NoSuchBucketPolicy"])?;
    Ok(())
}

/// The bucket policy; `None` when there is none (or no bucket).
pub async fn get_policy(s3: &Client, bucket: &str) -> Result<Option<String>, StepError> {
    let p = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .step("GetBucketPolicy")
        .absent(&["NoSuchBucketPolicy", "NoSuchBucket"])?;
    Ok(p.and_then(|p| p.policy().map(str::to_string)))
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
            None => return Err(e).step("GetBucketVersioning"),
        },
    };
    let mut o = ObservedBucket {
        versioning_enabled,
        tags: tags?,
        ..Default::default()
    };
    if let Some(p) = pab
        .step("GetPublicAccessBlock")
        .absent(&["NoSuchPublicAccessBlockConfiguration"])?
    {
        o.public_access_block_enabled = p.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });
    }
    if let Some(c) = own
        .step("GetBucketOwnershipControls")
        .absent(&["OwnershipControlsNotFoundError"])?
    {
        o.owner_enforced = c.ownership_controls().is_some_and(|oc| {
            oc.rules()
                .iter()
                .any(|r| r.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
        });
    }
    if let Some(e) = enc
        .step("GetBucketEncryption")
        .absent(&["ServerSideEncryptionConfigurationNotFoundError"])?
    {
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
    if let Some(p) = pol
        .step("GetBucketPolicy")
        .absent(&["NoSuchBucketPolicy"])?
    {
        o.tls_policy = p.policy().is_some_and(policy::has_tls_statement);
    }
    if let Some(l) = lc
        .step("GetBucketLifecycleConfiguration")
        .absent(&["NoSuchLifecycleConfiguration"])?
    {
        o.noncurrent_days = l
            .rules()
            .iter()
            .find(|r| r.id() == Some(LIFECYCLE_RULE_ID))
            .and_then(|r| r.noncurrent_version_expiration())
            .and_then(|n| n.noncurrent_days());
    }
    Ok(Some(o))
}

/// Whether the bucket holds any object version or delete marker.
pub async fn holds_objects(s3: &Client, bucket: &str) -> Result<bool, StepError> {
    let r = s3
        .list_object_versions()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
        .step("ListObjectVersions")?;
    Ok(!r.versions().is_empty() || !r.delete_markers().is_empty())
}

/// Deletes every object version and delete marker, a page at a time; returns how many.
pub async fn empty(s3: &Client, bucket: &str) -> Result<usize, StepError> {
    let mut deleted = 0;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
            .step("ListObjectVersions")?;
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let mut ids = Vec::new();
        for (key, version) in versions {
            if let Some(k) = key {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(version.map(str::to_string))
                        .build()
                        .step("DeleteObjects")?,
                );
            }
        }
        if ids.is_empty() {
            return Ok(deleted);
        }
        deleted += ids.len();
        s3.delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .step("DeleteObjects")?,
            )
            .send()
            .await
            .step("DeleteObjects")?;
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
/// never created (a refused create leaves the name in state) is never deleted. See [`delete`]
/// for `force_destroy` and `non_empty`.
pub async fn delete_if_owned(
    s3: &Client,
    bucket: &str,
    owner: &str,
    force_destroy: bool,
    non_empty: &str,
) -> Result<Removal, StepError> {
    match self::owner(s3, bucket).await? {
        None => Ok(Removal::Absent),
        Some(o) if o.as_deref() != Some(owner) => Ok(Removal::NotOurs),
        Some(_) => {
            delete(s3, bucket, force_destroy, non_empty).await?;
            Ok(Removal::Deleted)
        }
    }
}

/// Deletes the bucket. With `force_destroy` its objects go first; without, a bucket that
/// holds any is refused with the message `non_empty` (which says what is in it and what to do).
pub async fn delete(
    s3: &Client,
    bucket: &str,
    force_destroy: bool,
    non_empty: &str,
) -> Result<(), StepError> {
    if !exists(s3, bucket).await? {
        return Ok(());
    }
    if force_destroy {
        let n = empty(s3, bucket).await?;
        tracing::info!(target: "platform::s3", bucket, deleted = n, "emptied bucket (force_destroy)");
    } else if holds_objects(s3, bucket).await? {
        return Err(StepError::new("DeleteBucket", non_empty));
    }
    s3.delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .step("DeleteBucket")
        .absent(&["NoSuchBucket"])?;
    Ok(())
}
