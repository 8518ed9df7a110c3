//! The Organizations calls the OU and account resources share, each turning SDK errors into
//! an `OrgError` that names the operation (so a diagnostic says which step failed).

use aws_sdk_organizations::types::{
    Account, ChildType, PolicySummary, PolicyType, PolicyTypeStatus, Tag,
};
use aws_sdk_organizations::Client;
use platform_aws::errors;
use std::collections::BTreeMap;

/// A failed Organizations call: the operation, AWS's error code (when any) and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {message}")]
pub struct OrgError {
    pub op: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl OrgError {
    pub fn new(op: &'static str, message: impl Into<String>) -> OrgError {
        OrgError {
            op,
            code: None,
            message: message.into(),
        }
    }
    /// True for the "no such object" family of codes.
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "OrganizationalUnitNotFoundException"
                    | "AccountNotFoundException"
                    | "PolicyNotFoundException"
                    | "TargetNotFoundException"
                    | "ParentNotFoundException"
                    | "ChildNotFoundException"
            )
        })
    }
}

fn err<E>(
    op: &'static str,
) -> impl FnOnce(
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> OrgError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| OrgError {
        op,
        code: errors::code(&e).map(str::to_string),
        message: errors::describe(&e),
    }
}

pub fn to_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, OrgError> {
    m.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| OrgError::new("Tag", e.to_string()))
        })
        .collect()
}

/// The organization's root: its id and whether SCPs are enabled on it.
pub async fn root(c: &Client) -> Result<(String, bool), OrgError> {
    let out = c.list_roots().send().await.map_err(err("ListRoots"))?;
    let r = out.roots().first().ok_or_else(|| {
        OrgError::new(
            "ListRoots",
            "the organization has no root (is AWS Organizations enabled for this management account?)",
        )
    })?;
    let enabled = r.policy_types().iter().any(|p| {
        p.r#type() == Some(&PolicyType::ServiceControlPolicy)
            && p.status() == Some(&PolicyTypeStatus::Enabled)
    });
    Ok((r.id().unwrap_or_default().to_string(), enabled))
}

/// Enables SCPs on the root unless they already are (AWS refuses to attach an SCP
/// before that). Returns the root id.
pub async fn ensure_scp_enabled(c: &Client) -> Result<String, OrgError> {
    let (root_id, enabled) = root(c).await?;
    if !enabled {
        tracing::info!(target: "platform::organization", root_id, "enabling the SERVICE_CONTROL_POLICY type on the root");
        match c
            .enable_policy_type()
            .root_id(&root_id)
            .policy_type(PolicyType::ServiceControlPolicy)
            .send()
            .await
            .map_err(err("EnablePolicyType"))
        {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("PolicyTypeAlreadyEnabledException") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(root_id)
}

pub async fn tags(c: &Client, id: &str) -> Result<BTreeMap<String, String>, OrgError> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_tags_for_resource()
            .resource_id(id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListTagsForResource"))?;
        for t in r.tags() {
            out.insert(t.key().to_string(), t.value().to_string());
        }
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Makes the tags on `id` exactly `want` (adds/changes, then removes the rest).
pub async fn converge_tags(
    c: &Client,
    id: &str,
    want: &BTreeMap<String, String>,
) -> Result<(), OrgError> {
    let have = tags(c, id).await?;
    let changed: BTreeMap<String, String> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        c.tag_resource()
            .resource_id(id)
            .set_tags(Some(to_tags(&changed)?))
            .send()
            .await
            .map_err(err("TagResource"))?;
    }
    let gone: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    if !gone.is_empty() {
        c.untag_resource()
            .resource_id(id)
            .set_tag_keys(Some(gone))
            .send()
            .await
            .map_err(err("UntagResource"))?;
    }
    Ok(())
}

/// The parent (root or OU id) of an account or OU.
pub async fn parent(c: &Client, child: &str) -> Result<String, OrgError> {
    let r = c
        .list_parents()
        .child_id(child)
        .send()
        .await
        .map_err(err("ListParents"))?;
    r.parents()
        .first()
        .and_then(|p| p.id())
        .map(str::to_string)
        .ok_or_else(|| OrgError::new("ListParents", format!("{child} has no parent")))
}

/// OUs directly under `parent`: (id, name, arn).
pub async fn ous_under(
    c: &Client,
    parent: &str,
) -> Result<Vec<(String, String, String)>, OrgError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_organizational_units_for_parent()
            .parent_id(parent)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListOrganizationalUnitsForParent"))?;
        for ou in r.organizational_units() {
            out.push((
                ou.id().unwrap_or_default().to_string(),
                ou.name().unwrap_or_default().to_string(),
                ou.arn().unwrap_or_default().to_string(),
            ));
        }
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// (name, arn) of an OU; `None` when it does not exist.
pub async fn describe_ou(c: &Client, id: &str) -> Result<Option<(String, String)>, OrgError> {
    match c
        .describe_organizational_unit()
        .organizational_unit_id(id)
        .send()
        .await
        .map_err(err("DescribeOrganizationalUnit"))
    {
        Ok(r) => Ok(r.organizational_unit().map(|o| {
            (
                o.name().unwrap_or_default().to_string(),
                o.arn().unwrap_or_default().to_string(),
            )
        })),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn create_ou(
    c: &Client,
    parent: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(String, String), OrgError> {
    let r = c
        .create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .set_tags(Some(to_tags(tags)?))
        .send()
        .await
        .map_err(err("CreateOrganizationalUnit"))?;
    let ou = r
        .organizational_unit()
        .ok_or_else(|| OrgError::new("CreateOrganizationalUnit", "no OU in the answer"))?;
    Ok((
        ou.id().unwrap_or_default().to_string(),
        ou.arn().unwrap_or_default().to_string(),
    ))
}

pub async fn rename_ou(c: &Client, id: &str, name: &str) -> Result<(), OrgError> {
    c.update_organizational_unit()
        .organizational_unit_id(id)
        .name(name)
        .send()
        .await
        .map_err(err("UpdateOrganizationalUnit"))?;
    Ok(())
}

pub async fn delete_ou(c: &Client, id: &str) -> Result<(), OrgError> {
    match c
        .delete_organizational_unit()
        .organizational_unit_id(id)
        .send()
        .await
        .map_err(err("DeleteOrganizationalUnit"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Accounts directly in `parent`.
pub async fn accounts_in(c: &Client, parent: &str) -> Result<Vec<Account>, OrgError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_accounts_for_parent()
            .parent_id(parent)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListAccountsForParent"))?;
        out.extend(r.accounts().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Child OU ids of `parent`.
pub async fn child_ous(c: &Client, parent: &str) -> Result<Vec<String>, OrgError> {
    let r = c
        .list_children()
        .parent_id(parent)
        .child_type(ChildType::OrganizationalUnit)
        .send()
        .await
        .map_err(err("ListChildren"))?;
    Ok(r.children()
        .iter()
        .filter_map(|c| c.id().map(str::to_string))
        .collect())
}

/// Every account in the organization.
pub async fn all_accounts(c: &Client) -> Result<Vec<Account>, OrgError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_accounts()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListAccounts"))?;
        out.extend(r.accounts().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// SCPs attached directly to `target`.
pub async fn scps_for(c: &Client, target: &str) -> Result<Vec<PolicySummary>, OrgError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_policies_for_target()
            .target_id(target)
            .filter(PolicyType::ServiceControlPolicy)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListPoliciesForTarget"))?;
        out.extend(r.policies().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Every SCP in the organization.
pub async fn all_scps(c: &Client) -> Result<Vec<PolicySummary>, OrgError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_policies()
            .filter(PolicyType::ServiceControlPolicy)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListPolicies"))?;
        out.extend(r.policies().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// (name, content) of a policy; `None` when it no longer exists.
pub async fn describe_policy(c: &Client, id: &str) -> Result<Option<(String, String)>, OrgError> {
    match c
        .describe_policy()
        .policy_id(id)
        .send()
        .await
        .map_err(err("DescribePolicy"))
    {
        Ok(r) => Ok(r.policy().map(|p| {
            (
                p.policy_summary()
                    .and_then(|s| s.name())
                    .unwrap_or_default()
                    .to_string(),
                p.content().unwrap_or_default().to_string(),
            )
        })),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn create_policy(
    c: &Client,
    name: &str,
    description: &str,
    content: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, OrgError> {
    let r = c
        .create_policy()
        .name(name)
        .description(description)
        .content(content)
        .r#type(PolicyType::ServiceControlPolicy)
        .set_tags(Some(to_tags(tags)?))
        .send()
        .await
        .map_err(err("CreatePolicy"))?;
    r.policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .map(str::to_string)
        .ok_or_else(|| OrgError::new("CreatePolicy", "no policy id in the answer"))
}

pub async fn update_policy(
    c: &Client,
    id: &str,
    name: &str,
    content: &str,
) -> Result<(), OrgError> {
    c.update_policy()
        .policy_id(id)
        .name(name)
        .content(content)
        .send()
        .await
        .map_err(err("UpdatePolicy"))?;
    Ok(())
}

pub async fn attach(c: &Client, policy: &str, target: &str) -> Result<(), OrgError> {
    match c
        .attach_policy()
        .policy_id(policy)
        .target_id(target)
        .send()
        .await
        .map_err(err("AttachPolicy"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.code.as_deref() == Some("DuplicatePolicyAttachmentException") => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn detach(c: &Client, policy: &str, target: &str) -> Result<(), OrgError> {
    match c
        .detach_policy()
        .policy_id(policy)
        .target_id(target)
        .send()
        .await
        .map_err(err("DetachPolicy"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.code.as_deref() == Some("PolicyNotAttachedException") => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub async fn delete_policy(c: &Client, id: &str) -> Result<(), OrgError> {
    match c
        .delete_policy()
        .policy_id(id)
        .send()
        .await
        .map_err(err("DeletePolicy"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
