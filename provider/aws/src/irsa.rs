//! IRSA roles: an IAM role only one Kubernetes service account can assume (through the
//! cluster's OIDC provider), with the managed and inline policies its pods need. Used by every
//! composite that runs something in a cluster (a microservice, the cluster's own services).
//! Create-or-adopt by owner tag; converge is idempotent.

use crate::iam::{self, NO_SUCH_ENTITY};
use crate::policy;
use crate::step::{Absent, Step, StepError};
use aws_sdk_iam::Client;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The single inline policy a role carries (a microservice's `iam_policy_json`, a cluster
/// service's documented policy).
pub const INLINE_POLICY_NAME: &str = "platformkit-service";

/// The Kubernetes subject a service account's projected token carries.
pub fn service_account_subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The issuer URL without its scheme, as IAM condition keys name it.
pub fn issuer_host_path(url: &str) -> &str {
    url.strip_prefix("https://")
        .unwrap_or(url)
        .trim_end_matches('/')
}

/// Only the pods of this one service account may assume the role, and only with a token
/// minted for STS.
pub fn trust_policy(
    oidc_provider_arn: &str,
    issuer_host_path: &str,
    subject: &str,
) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ServiceAccountOnly",
            "Effect": "Allow",
            "Principal": { "Federated": oidc_provider_arn },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{issuer_host_path}:sub"): subject,
                    format!("{issuer_host_path}:aud"): "sts.amazonaws.com",
                }
            }
        }]
    })
}

#[derive(Debug, Clone)]
pub struct DesiredRole {
    pub name: String,
    pub trust_policy: serde_json::Value,
    pub policy_arns: BTreeSet<String>,
    pub inline_policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
    /// The role's IAM description (set at creation).
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedRole {
    pub arn: String,
    pub trust_policy: String,
    pub policy_arns: BTreeSet<String>,
    pub inline_policy: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// GetRole, ListAttachedRolePolicies and GetRolePolicy, concurrently.
pub async fn observe(iam: &Client, name: &str) -> Result<Option<ObservedRole>, StepError> {
    let (role, attached, inline) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_attached_role_policies()
            .role_name(name)
            .max_items(1000)
            .send(),
        iam.get_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY_NAME)
            .send(),
    );
    let Some(role) = role
        .step("GetRole")
        .absent(NO_SUCH_ENTITY)?
        .and_then(|r| r.role)
    else {
        return Ok(None);
    };
    let attached = attached
        .step("ListAttachedRolePolicies")
        .absent(NO_SUCH_ENTITY)?;
    let inline = inline.step("GetRolePolicy").absent(NO_SUCH_ENTITY)?;
    Ok(Some(ObservedRole {
        arn: role.arn().to_string(),
        trust_policy: policy::url_decode(role.assume_role_policy_document().unwrap_or_default()),
        policy_arns: attached
            .map(|a| {
                a.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        inline_policy: inline.map(|p| policy::url_decode(p.policy_document())),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
    }))
}

/// The exact refusal of a role of the same name that this resource does not own.
fn not_ours(d: &DesiredRole) -> StepError {
    StepError::new(
        "CreateRole",
        format!(
            "IAM role {:?} already exists and is not managed by this resource",
            d.name
        ),
    )
}

/// An existing role is adopted only when it carries this resource's owner tag.
fn adopt(o: ObservedRole, d: &DesiredRole) -> Result<ObservedRole, StepError> {
    if o.tags.get(crate::tags::OWNER_KEY) == Some(&d.owner) {
        tracing::info!(target: "platform::irsa", role = %d.name, "adopting existing role owned by this resource");
        Ok(o)
    } else {
        Err(not_ours(d))
    }
}

/// CreateRole with its trust policy, description and tags. Returns the new role as the answer
/// describes it (no read-back: the answer carries the ARN; a new role has no policies yet), or
/// `None` when a role of that name already exists.
async fn create(iam: &Client, d: &DesiredRole) -> Result<Option<ObservedRole>, StepError> {
    let r = iam
        .create_role()
        .role_name(&d.name)
        .assume_role_policy_document(d.trust_policy.to_string())
        .description(&d.description)
        .set_tags(Some(iam::tags(&d.tags)?))
        .send()
        .await;
    let r = match r.step("CreateRole") {
        Ok(r) => r,
        Err(e) if e.code() == Some("EntityAlreadyExists") => return Ok(None),
        Err(e) => return Err(e),
    };
    match r.role().map(|r| r.arn()).filter(|a| !a.is_empty()) {
        Some(arn) => Ok(Some(ObservedRole {
            arn: arn.to_string(),
            trust_policy: d.trust_policy.to_string(),
            policy_arns: BTreeSet::new(),
            inline_policy: None,
            tags: d.tags.clone(),
        })),
        // An answer without the ARN: read the role instead of guessing.
        None => observe(iam, &d.name).await,
    }
}

/// Makes the role match `d`; returns its ARN. Reads the role first (GetRole,
/// ListAttachedRolePolicies, GetRolePolicy) and creates it when it is missing.
pub async fn converge(iam: &Client, d: &DesiredRole) -> Result<String, StepError> {
    converge_from(iam, d, false).await
}

/// [`converge`] for a resource with nothing in state yet: CreateRole first and trust its
/// answer, so a new role costs CreateRole plus one call per policy. Only when the name is
/// taken is the role read, and adopted if it carries the owner tag (a create whose state was
/// lost) or refused if it does not.
pub async fn create_or_converge(iam: &Client, d: &DesiredRole) -> Result<String, StepError> {
    converge_from(iam, d, true).await
}

async fn converge_from(iam: &Client, d: &DesiredRole, fresh: bool) -> Result<String, StepError> {
    let o = crate::lost::create_first(
        fresh,
        &format!("role {:?}", d.name),
        "GetRole",
        || observe(iam, &d.name),
        || create(iam, d),
        |o| adopt(o, d),
    )
    .await?;
    if !policy::same_document(&o.trust_policy, &d.trust_policy) {
        iam.update_assume_role_policy()
            .role_name(&d.name)
            .policy_document(d.trust_policy.to_string())
            .send()
            .await
            .step("UpdateAssumeRolePolicy")?;
    }
    iam::retag_role(iam, &d.name, &o.tags, &d.tags).await?;
    for arn in d.policy_arns.difference(&o.policy_arns) {
        iam.attach_role_policy()
            .role_name(&d.name)
            .policy_arn(arn)
            .send()
            .await
            .step("AttachRolePolicy")?;
    }
    for arn in o.policy_arns.difference(&d.policy_arns) {
        iam::detach_policy(iam, &d.name, arn).await?;
    }
    match (&d.inline_policy, &o.inline_policy) {
        (Some(want), have) => {
            let same = match (serde_json::from_str(want), have) {
                (Ok(w), Some(h)) => policy::same_document(h, &w),
                _ => false,
            };
            if !same {
                iam.put_role_policy()
                    .role_name(&d.name)
                    .policy_name(INLINE_POLICY_NAME)
                    .policy_document(want)
                    .send()
                    .await
                    .step("PutRolePolicy")?;
            }
        }
        (None, Some(_)) => iam::delete_inline_policy(iam, &d.name, INLINE_POLICY_NAME).await?,
        (None, None) => {}
    }
    Ok(o.arn)
}

/// Deletes the role with its policies (the toolbox's `iam::delete_role`). A role that does not
/// carry `owner` is never deleted.
pub async fn delete(iam: &Client, name: &str, owner: &str) -> Result<(), StepError> {
    let Some(o) = observe(iam, name).await? else {
        return Ok(());
    };
    if o.tags.get(crate::tags::OWNER_KEY).map(String::as_str) != Some(owner) {
        tracing::info!(target: "platform::irsa", role = name, "role is not owned by this resource; leaving it alone");
        return Ok(());
    }
    iam::delete_role(iam, name).await
}
