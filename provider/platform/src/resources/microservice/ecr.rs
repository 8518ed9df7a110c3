//! The service's image repository: create or adopt by owner tag, converge every setting
//! (each call idempotent, so create, update and resume are the same code), observe in a few
//! concurrent calls, and delete (refusing a repository that still holds images).

use super::policy;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use aws_sdk_ecr::Client;
use platform_aws::step::{Absent, Step, StepError};
use platform_aws::tags::TagDiff;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct DesiredRepository {
    pub name: String,
    pub kms_key_arn: Option<String>,
    pub lifecycle_policy: serde_json::Value,
    pub repository_policy: serde_json::Value,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
}

/// What the repository looks like in AWS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedRepository {
    pub arn: String,
    pub url: String,
    pub registry_id: String,
    pub immutable: bool,
    pub scan_on_push: bool,
    pub kms_key_arn: Option<String>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
    pub tags: BTreeMap<String, String>,
}

fn ecr_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, StepError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().step("TagResource"))
        .collect()
}

/// Everything read in one go: DescribeRepositories, then the two policies and the tags
/// concurrently. `Ok(None)` when there is no such repository.
pub async fn observe(ecr: &Client, name: &str) -> Result<Option<ObservedRepository>, StepError> {
    let r = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .step("DescribeRepositories")
        .absent(&["RepositoryNotFoundException"])?;
    let Some(repo) = r.and_then(|r| r.repositories().first().cloned()) else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_string();
    let (lc, rp, tags) = tokio::join!(
        ecr.get_lifecycle_policy().repository_name(name).send(),
        ecr.get_repository_policy().repository_name(name).send(),
        ecr.list_tags_for_resource().resource_arn(&arn).send(),
    );
    let lc = lc
        .step("GetLifecyclePolicy")
        .absent(&["LifecyclePolicyNotFoundException"])?;
    let rp = rp
        .step("GetRepositoryPolicy")
        .absent(&["RepositoryPolicyNotFoundException"])?;
    let tags = tags.step("ListTagsForResource")?;
    let enc = repo.encryption_configuration();
    Ok(Some(ObservedRepository {
        url: repo.repository_uri().unwrap_or_default().to_string(),
        registry_id: repo.registry_id().unwrap_or_default().to_string(),
        immutable: repo.image_tag_mutability() == Some(&ImageTagMutability::Immutable),
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|s| s.scan_on_push()),
        kms_key_arn: enc
            .filter(|e| e.encryption_type() == &EncryptionType::Kms)
            .and_then(|e| e.kms_key().map(str::to_string)),
        lifecycle_policy: lc.and_then(|l| l.lifecycle_policy_text().map(str::to_string)),
        repository_policy: rp.and_then(|p| p.policy_text().map(str::to_string)),
        tags: tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        arn,
    }))
}

/// The exact refusal of a repository of the same name that this resource does not own.
fn not_ours(d: &DesiredRepository) -> StepError {
    StepError::new(
        "CreateRepository",
        format!(
            "repository {:?} already exists and is not managed by this resource; import it with \
             `terraform import <address> {}` or choose another name",
            d.name, d.name
        ),
    )
}

/// An existing repository is adopted only when it carries this resource's owner tag.
fn adopt(o: ObservedRepository, d: &DesiredRepository) -> Result<ObservedRepository, StepError> {
    if o.tags.get(platform_aws::tags::OWNER_KEY) == Some(&d.owner) {
        tracing::info!(target: "platform::microservice", repository = %d.name, "adopting existing repository owned by this resource");
        Ok(o)
    } else {
        Err(not_ours(d))
    }
}

/// CreateRepository with every setting the call takes (tags, immutable tags, scan on push,
/// encryption, which can only be chosen here). Returns what the answer says the repository
/// is (no read-back: the answer carries the ARN, URI and registry id), or `None` when a
/// repository of that name already exists.
async fn create(
    ecr: &Client,
    d: &DesiredRepository,
) -> Result<Option<ObservedRepository>, StepError> {
    let enc = match &d.kms_key_arn {
        Some(k) => EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::Kms)
            .kms_key(k),
        None => EncryptionConfiguration::builder().encryption_type(EncryptionType::Aes256),
    }
    .build()
    .step("CreateRepository")?;
    let r = ecr
        .create_repository()
        .repository_name(&d.name)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .encryption_configuration(enc)
        .set_tags(Some(ecr_tags(&d.tags)?))
        .send()
        .await;
    let r = match r.step("CreateRepository") {
        Ok(r) => r,
        Err(e) if e.code() == Some("RepositoryAlreadyExistsException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let repo = r.repository();
    let arn = repo
        .and_then(|r| r.repository_arn())
        .unwrap_or_default()
        .to_string();
    let url = repo
        .and_then(|r| r.repository_uri())
        .unwrap_or_default()
        .to_string();
    let registry_id = repo
        .and_then(|r| r.registry_id())
        .unwrap_or_default()
        .to_string();
    if arn.is_empty() || url.is_empty() || registry_id.is_empty() {
        // An answer without the identifiers state needs: read them instead of guessing.
        return observe(ecr, &d.name).await;
    }
    Ok(Some(ObservedRepository {
        arn,
        url,
        registry_id,
        immutable: repo.and_then(|r| r.image_tag_mutability())
            != Some(&ImageTagMutability::Mutable),
        scan_on_push: repo
            .and_then(|r| r.image_scanning_configuration())
            .is_none_or(|s| s.scan_on_push()),
        kms_key_arn: d.kms_key_arn.clone(),
        lifecycle_policy: None,
        repository_policy: None,
        tags: d.tags.clone(),
    }))
}

/// Makes the repository match `d` and returns what it looked like before the settings were
/// converged (the identifiers are what the caller needs).
///
/// `fresh` (a create: nothing in state) goes straight to CreateRepository and trusts its
/// answer: a new repository costs CreateRepository, PutLifecyclePolicy and
/// SetRepositoryPolicy. Only when the name is taken is the repository read, and adopted if it
/// carries the owner tag (a create whose state was lost) or refused if it does not. An update
/// reads first and creates only what is missing.
pub async fn converge(
    ecr: &Client,
    d: &DesiredRepository,
    fresh: bool,
) -> Result<ObservedRepository, StepError> {
    let o = platform_aws::lost::create_first(
        fresh,
        &format!("repository {:?}", d.name),
        "DescribeRepositories",
        || observe(ecr, &d.name),
        || create(ecr, d),
        |o| adopt(o, d),
    )
    .await?;
    let diff = TagDiff::between(&o.tags, &d.tags);
    if !diff.is_empty() {
        if !diff.remove.is_empty() {
            ecr.untag_resource()
                .resource_arn(&o.arn)
                .set_tag_keys(Some(diff.remove))
                .send()
                .await
                .step("UntagResource")?;
        }
        ecr.tag_resource()
            .resource_arn(&o.arn)
            .set_tags(Some(ecr_tags(&d.tags)?))
            .send()
            .await
            .step("TagResource")?;
    }
    if !o.immutable {
        ecr.put_image_tag_mutability()
            .repository_name(&d.name)
            .image_tag_mutability(ImageTagMutability::Immutable)
            .send()
            .await
            .step("PutImageTagMutability")?;
    }
    if !o.scan_on_push {
        ecr.put_image_scanning_configuration()
            .repository_name(&d.name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(true)
                    .build(),
            )
            .send()
            .await
            .step("PutImageScanningConfiguration")?;
    }
    // The two policies are independent documents: set them concurrently.
    let lifecycle = async {
        if o.lifecycle_policy
            .as_deref()
            .is_some_and(|t| policy::same_document(t, &d.lifecycle_policy))
        {
            return Ok(());
        }
        ecr.put_lifecycle_policy()
            .repository_name(&d.name)
            .lifecycle_policy_text(d.lifecycle_policy.to_string())
            .send()
            .await
            .step("PutLifecyclePolicy")
            .map(|_| ())
    };
    let access = async {
        if o.repository_policy
            .as_deref()
            .is_some_and(|t| policy::same_document(t, &d.repository_policy))
        {
            return Ok(());
        }
        ecr.set_repository_policy()
            .repository_name(&d.name)
            .policy_text(d.repository_policy.to_string())
            .send()
            .await
            .step("SetRepositoryPolicy")
            .map(|_| ())
    };
    let (lifecycle, access) = tokio::join!(lifecycle, access);
    lifecycle?;
    access?;
    Ok(o)
}

/// Deletes the repository. Without `force`, a repository that still holds images is left
/// alone: deleting it would destroy every image ever pushed, including what is running. A
/// repository that does not carry `owner` (someone else's, whose name made our create fail) is
/// never deleted.
pub async fn delete(ecr: &Client, name: &str, owner: &str, force: bool) -> Result<(), StepError> {
    match observe(ecr, name).await? {
        None => return Ok(()),
        Some(o)
            if o.tags
                .get(platform_aws::tags::OWNER_KEY)
                .map(String::as_str)
                != Some(owner) =>
        {
            tracing::info!(target: "platform::microservice", repository = name, "repository is not owned by this resource; leaving it alone");
            return Ok(());
        }
        Some(_) => {}
    }
    if !force {
        let imgs = ecr
            .list_images()
            .repository_name(name)
            .max_results(100)
            .send()
            .await
            .step("ListImages")
            .absent(&["RepositoryNotFoundException"])?;
        let Some(imgs) = imgs else { return Ok(()) };
        let n = imgs.image_ids().len();
        if n > 0 {
            return Err(StepError::new(
                "DeleteRepository",
                format!(
                    "repository {name:?} still holds {n}{} image(s); deleting it would destroy them. \
                     Set force_delete = true (and apply) to delete the images with the repository",
                    if imgs.next_token().is_some() { "+" } else { "" }
                ),
            ));
        }
    }
    match ecr
        .delete_repository()
        .repository_name(name)
        .force(force)
        .send()
        .await
        .step("DeleteRepository")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("RepositoryNotFoundException") => Ok(()),
        Err(e) => Err(e),
    }
}
