//! The Organizations calls the OU and account resources share, each a `StepError` that names
//! the operation (so a diagnostic says which step failed) and keeps AWS's error code.

use aws_sdk_organizations::types::{
    Account, ChildType, PolicySummary, PolicyType, PolicyTypeStatus, Tag,
};
use aws_sdk_organizations::Client;
use platform_aws::step::{Step, StepError};
use platform_aws::tags::TagDiff;
use std::collections::BTreeMap;
use tfplugin_framework::{PlanRequest, Value};

pub fn to_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, StepError> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().step("Tag"))
        .collect()
}

/// The organization's root: its id and whether SCPs are enabled on it.
pub async fn root(c: &Client) -> Result<(String, bool), StepError> {
    let out = c.list_roots().send().await.step("ListRoots")?;
    let r = out.roots().first().ok_or_else(|| {
        StepError::new(
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
pub async fn ensure_scp_enabled(c: &Client) -> Result<String, StepError> {
    let (root_id, enabled) = root(c).await?;
    if !enabled {
        tracing::info!(target: "platform::organization", root_id, "enabling the SERVICE_CONTROL_POLICY type on the root");
        match c
            .enable_policy_type()
            .root_id(&root_id)
            .policy_type(PolicyType::ServiceControlPolicy)
            .send()
            .await
            .step("EnablePolicyType")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("PolicyTypeAlreadyEnabledException") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(root_id)
}

/// The planned `parent_id` of an OU or account whose configuration leaves it out: the root.
/// Only looked up when the object exists under an OU (otherwise the prior value, or
/// "known after apply" on create, is already right), so removing `parent_id` plans the move
/// back to the root instead of "No changes". `None`: leave the plan as it is.
pub async fn planned_root_parent(c: &Client, req: &PlanRequest) -> Option<Value> {
    if req.is_create() || !req.config.get("parent_id").is_null() {
        return None;
    }
    let current = req.prior.get("parent_id").as_str()?;
    if !current.starts_with("ou-") {
        return None;
    }
    Some(match root(c).await {
        Ok((root_id, _)) => Value::from(root_id),
        Err(e) => {
            tracing::warn!(target: "platform::organization", error = %e, "could not look up the root at plan time");
            Value::Unknown
        }
    })
}

pub async fn tags(c: &Client, id: &str) -> Result<BTreeMap<String, String>, StepError> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_tags_for_resource()
            .resource_id(id)
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListTagsForResource")?;
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
) -> Result<(), StepError> {
    let diff = TagDiff::between(&tags(c, id).await?, want);
    if !diff.set.is_empty() {
        c.tag_resource()
            .resource_id(id)
            .set_tags(Some(to_tags(&diff.set)?))
            .send()
            .await
            .step("TagResource")?;
    }
    if !diff.remove.is_empty() {
        c.untag_resource()
            .resource_id(id)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .step("UntagResource")?;
    }
    Ok(())
}

/// The parent (root or OU id) of an account or OU.
pub async fn parent(c: &Client, child: &str) -> Result<String, StepError> {
    let r = c
        .list_parents()
        .child_id(child)
        .send()
        .await
        .step("ListParents")?;
    r.parents()
        .first()
        .and_then(|p| p.id())
        .map(str::to_string)
        .ok_or_else(|| StepError::new("ListParents", format!("{child} has no parent")))
}

/// OUs directly under `parent`: (id, name, arn).
pub async fn ous_under(
    c: &Client,
    parent: &str,
) -> Result<Vec<(String, String, String)>, StepError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_organizational_units_for_parent()
            .parent_id(parent)
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListOrganizationalUnitsForParent")?;
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
pub async fn describe_ou(c: &Client, id: &str) -> Result<Option<(String, String)>, StepError> {
    match c
        .describe_organizational_unit()
        .organizational_unit_id(id)
        .send()
        .await
        .step("DescribeOrganizationalUnit")
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
) -> Result<(String, String), StepError> {
    let r = c
        .create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .set_tags(Some(to_tags(tags)?))
        .send()
        .await
        .step("CreateOrganizationalUnit")?;
    let ou = r
        .organizational_unit()
        .ok_or_else(|| StepError::new("CreateOrganizationalUnit", "no OU in the answer"))?;
    Ok((
        ou.id().unwrap_or_default().to_string(),
        ou.arn().unwrap_or_default().to_string(),
    ))
}

pub async fn rename_ou(c: &Client, id: &str, name: &str) -> Result<(), StepError> {
    c.update_organizational_unit()
        .organizational_unit_id(id)
        .name(name)
        .send()
        .await
        .step("UpdateOrganizationalUnit")?;
    Ok(())
}

pub async fn delete_ou(c: &Client, id: &str) -> Result<(), StepError> {
    match c
        .delete_organizational_unit()
        .organizational_unit_id(id)
        .send()
        .await
        .step("DeleteOrganizationalUnit")
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Accounts directly in `parent`.
pub async fn accounts_in(c: &Client, parent: &str) -> Result<Vec<Account>, StepError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_accounts_for_parent()
            .parent_id(parent)
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListAccountsForParent")?;
        out.extend(r.accounts().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Child OU ids of `parent`.
pub async fn child_ous(c: &Client, parent: &str) -> Result<Vec<String>, StepError> {
    let r = c
        .list_children()
        .parent_id(parent)
        .child_type(ChildType::OrganizationalUnit)
        .send()
        .await
        .step("ListChildren")?;
    Ok(r.children()
        .iter()
        .filter_map(|c| c.id().map(str::to_string))
        .collect())
}

/// Every account in the organization.
pub async fn all_accounts(c: &Client) -> Result<Vec<Account>, StepError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_accounts()
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListAccounts")?;
        out.extend(r.accounts().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// SCPs attached directly to `target`.
pub async fn scps_for(c: &Client, target: &str) -> Result<Vec<PolicySummary>, StepError> {
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
            .step("ListPoliciesForTarget")?;
        out.extend(r.policies().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Every SCP in the organization.
pub async fn all_scps(c: &Client) -> Result<Vec<PolicySummary>, StepError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_policies()
            .filter(PolicyType::ServiceControlPolicy)
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListPolicies")?;
        out.extend(r.policies().iter().cloned());
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// (name, content) of a policy; `None` when it no longer exists.
pub async fn describe_policy(c: &Client, id: &str) -> Result<Option<(String, String)>, StepError> {
    match c
        .describe_policy()
        .policy_id(id)
        .send()
        .await
        .step("DescribePolicy")
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
) -> Result<String, StepError> {
    let r = c
        .create_policy()
        .name(name)
        .description(description)
        .content(content)
        .r#type(PolicyType::ServiceControlPolicy)
        .set_tags(Some(to_tags(tags)?))
        .send()
        .await
        .step("CreatePolicy")?;
    r.policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .map(str::to_string)
        .ok_or_else(|| StepError::new("CreatePolicy", "no policy id in the answer"))
}

pub async fn update_policy(
    c: &Client,
    id: &str,
    name: &str,
    content: &str,
) -> Result<(), StepError> {
    c.update_policy()
        .policy_id(id)
        .name(name)
        .content(content)
        .send()
        .await
        .step("UpdatePolicy")?;
    Ok(())
}

pub async fn attach(c: &Client, policy: &str, target: &str) -> Result<(), StepError> {
    match c
        .attach_policy()
        .policy_id(policy)
        .target_id(target)
        .send()
        .await
        .step("AttachPolicy")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("DuplicatePolicyAttachmentException") => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn detach(c: &Client, policy: &str, target: &str) -> Result<(), StepError> {
    match c
        .detach_policy()
        .policy_id(policy)
        .target_id(target)
        .send()
        .await
        .step("DetachPolicy")
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.code() == Some("PolicyNotAttachedException") => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn delete_policy(c: &Client, id: &str) -> Result<(), StepError> {
    match c
        .delete_policy()
        .policy_id(id)
        .send()
        .await
        .step("DeletePolicy")
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
