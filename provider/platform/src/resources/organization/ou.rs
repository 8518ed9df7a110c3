//! `platform_organizational_unit`: an OU with its guardrail SCPs. The documents are
//! rendered at plan time (the plan shows them), validated against AWS's limits before any
//! call, created or updated in place (an update keeps the policy id) and attached. The SCP
//! policy type is enabled on the root when needed. Refresh reports only the policies that
//! are still attached, so one detached out of band shows as drift and apply re-attaches it.

use super::api;
use super::guardrail_data::guardrail_attributes;
use super::guardrails::{self, Guardrails};
use super::validate;
use async_trait::async_trait;
use platform_aws::step::StepError;
use platform_aws::{tags, AwsContext};
use std::collections::BTreeMap;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, PlanRequest, Resource,
    Schema, Value,
};

pub const TYPE_NAME: &str = "platform_organizational_unit";

pub struct OrganizationalUnit;

/// What the configuration asks for, with everything derived.
struct Desired {
    name: String,
    parent_id: Option<String>,
    /// key → rendered document (guardrails and extra policies).
    documents: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

/// The AWS name of one of this OU's policies.
fn policy_name(ou: &str, key: &str) -> String {
    format!("{ou}-{key}")
}

fn guardrails_of(v: &Value) -> Guardrails {
    match v.get("guardrails").elements().first() {
        Some(g) => Guardrails::from_value(g),
        None => Guardrails::default(),
    }
}

/// All documents for a configuration, or `None` while something is unknown.
fn documents(v: &Value) -> Option<BTreeMap<String, String>> {
    if !v.get("guardrails").is_wholly_known() || !v.get("extra_policies").is_wholly_known() {
        return None;
    }
    let mut docs = guardrails_of(v).render();
    for (k, d) in v.get("extra_policies").to_string_map() {
        docs.insert(k, d);
    }
    Some(docs)
}

impl OrganizationalUnit {
    fn desired(aws: &AwsContext, v: &Value) -> Desired {
        let name = v.get("name").as_str().unwrap_or_default().to_string();
        Desired {
            tags: tags::merged(
                &aws.default_tags,
                &v.get("tags").to_string_map(),
                TYPE_NAME,
                &name,
            ),
            parent_id: v.get("parent_id").as_str().map(str::to_string),
            documents: documents(v).unwrap_or_default(),
            name,
        }
    }

    /// Create, update and resume: make the OU and its policies match `planned`. `state` is
    /// filled as steps succeed, so a failure returns what exists.
    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let mut state = planned.clone();
        let c = aws.organizations();
        let want = Self::desired(aws, planned);
        let fail = |state: &Value, e: StepError, created: bool| {
            let s = if created {
                state.unknown_as_null()
            } else {
                Value::Null
            };
            ApplyOutcome::failed(
                s,
                Diagnostics::from_error(
                    "Could not set up the organizational unit",
                    format!(
                        "{e}. {}",
                        platform_aws::resume::after_failure(TYPE_NAME, &want.name, prior.is_null())
                    ),
                ),
            )
        };

        let root_id = match api::ensure_scp_enabled(c).await {
            Ok(r) => r,
            Err(e) => return fail(prior, e, !prior.is_null()),
        };
        let parent = want.parent_id.clone().unwrap_or(root_id);
        state.set_attr("parent_id", Value::from(parent.clone()));

        // The OU: the one in state if it still exists, else one under the parent carrying
        // our owner tag (a crash after CreateOrganizationalUnit), else a new one.
        let mut ou: Option<(String, String)> = None;
        if let Some(id) = prior.get("id").as_str() {
            match api::describe_ou(c, id).await {
                Ok(Some((_, arn))) => ou = Some((id.to_string(), arn)),
                Ok(None) => {}
                Err(e) => return fail(prior, e, true),
            }
        }
        if ou.is_none() {
            let existing = match api::ous_under(c, &parent).await {
                Ok(v) => v,
                Err(e) => return fail(&state, e, false),
            };
            if let Some((id, _, arn)) = existing.iter().find(|(_, n, _)| *n == want.name) {
                let t = api::tags(c, id).await.unwrap_or_default();
                if t.get(tags::OWNER_KEY).map(String::as_str)
                    != Some(&tags::owner(TYPE_NAME, &want.name))
                {
                    return ApplyOutcome::failed(
                        Value::Null,
                        Diagnostics::from_error(
                            "Organizational unit already exists",
                            format!(
                                "An OU named {:?} already exists under {parent} ({id}) and was not created by this resource. Import it with `terraform import <address> {id}`.",
                                want.name
                            ),
                        ),
                    );
                }
                tracing::info!(target: "platform::organization", id, "adopting the OU carrying this resource's owner tag");
                ou = Some((id.clone(), arn.clone()));
            } else {
                let owner = tags::owner(TYPE_NAME, &want.name);
                let made = platform_aws::lost::create_or_find(
                    "organizational unit",
                    || api::create_ou(c, &parent, &want.name, &want.tags),
                    || async {
                        for (id, n, arn) in api::ous_under(c, &parent).await? {
                            if n == want.name
                                && api::tags(c, &id).await?.get(tags::OWNER_KEY) == Some(&owner)
                            {
                                return Ok(Some((id, arn)));
                            }
                        }
                        Ok(None)
                    },
                )
                .await;
                match made {
                    Ok(x) => ou = Some(x),
                    Err(e) => return fail(&state, e, false),
                }
            }
        }
        let Some((ou_id, ou_arn)) = ou else {
            return fail(
                &state,
                StepError::new("CreateOrganizationalUnit", "no OU"),
                false,
            );
        };
        state.set_attr("id", Value::from(ou_id.clone()));
        state.set_attr("arn", Value::from(ou_arn));
        // Policy ids are filled in as they are known; unknown ones become null on failure.
        let mut ids: BTreeMap<String, Value> = BTreeMap::new();
        state.set_attr("policy_ids", Value::Map(ids.clone()));
        // Likewise the documents: only those of policies in place (made and attached), so a
        // failure part-way leaves the missing ones out and the next update makes them.
        let mut docs: BTreeMap<String, String> = BTreeMap::new();
        state.set_attr("policy_documents", Value::string_map(docs.clone()));

        if let Some((name, _)) = api::describe_ou(c, &ou_id).await.ok().flatten() {
            if name != want.name {
                if let Err(e) = api::rename_ou(c, &ou_id, &want.name).await {
                    return fail(&state, e, true);
                }
            }
        }
        if let Err(e) = api::converge_tags(c, &ou_id, &want.tags).await {
            return fail(&state, e, true);
        }

        // Policies: reuse (and update in place) the one in state, else create, else (the name
        // is taken, e.g. by a crash after CreatePolicy) adopt the one by that name carrying our
        // owner tag; then attach. Only that last case lists every SCP of the organization:
        // listing them for every OU made an apply's calls grow with the square of the OUs.
        let attached: Vec<String> = match api::scps_for(c, &ou_id).await {
            Ok(v) => v
                .iter()
                .filter_map(|p| p.id().map(str::to_string))
                .collect(),
            Err(e) => return fail(&state, e, true),
        };
        let prior_ids = prior.get("policy_ids").to_string_map();
        let owner = tags::owner(TYPE_NAME, &want.name);
        let prior_owner = prior
            .get("name")
            .as_str()
            .map(|n| tags::owner(TYPE_NAME, n));
        for (key, doc) in &want.documents {
            let name = policy_name(&want.name, key);
            let description = format!("platformkit guardrail {key} for OU {}", want.name);
            let mut t = want.tags.clone();
            t.insert("platform:policy-key".into(), key.clone());
            // (id, its current name and content when already read)
            let mut existing: Option<(String, Option<(String, String)>)> = None;
            if let Some(pid) = prior_ids.get(key) {
                match api::describe_policy(c, pid).await {
                    Ok(Some(current)) => existing = Some((pid.clone(), Some(current))),
                    Ok(None) => {}
                    Err(e) => return fail(&state, e, true),
                }
            }
            if existing.is_none() {
                match api::create_policy(c, &name, &description, doc, &t).await {
                    Ok(pid) => existing = Some((pid, None)),
                    // A lost answer (AWS may have made it) is resolved like a taken name: the
                    // policy of that name with our owner tag is adopted, else it is created again.
                    Err(e)
                        if e.code() == Some("DuplicatePolicyException") || e.is_lost_answer() =>
                    {
                        let all = match api::all_scps(c).await {
                            Ok(v) => v,
                            Err(e) => return fail(&state, e, true),
                        };
                        match all.iter().find(|p| p.name() == Some(&name)) {
                            None if e.is_lost_answer() => {
                                tracing::warn!(target: "platform::aws", object = %name, operation = "CreatePolicy", "lost answer: AWS did not create it; creating again");
                                match api::create_policy(c, &name, &description, doc, &t).await {
                                    Ok(pid) => existing = Some((pid, None)),
                                    Err(e) => return fail(&state, e, true),
                                }
                            }
                            None => return fail(&state, e, true),
                            Some(p) => {
                                if e.is_lost_answer() {
                                    tracing::warn!(target: "platform::aws", object = %name, operation = "CreatePolicy", "lost answer: adopted the object AWS created");
                                }
                                let pid = p.id().unwrap_or_default().to_string();
                                let tags_now = api::tags(c, &pid).await.unwrap_or_default();
                                let o = tags_now.get(tags::OWNER_KEY);
                                if o != Some(&owner) && o != prior_owner.as_ref() {
                                    return ApplyOutcome::failed(
                                    state.unknown_as_null(),
                                    Diagnostics::from_error(
                                        "Policy name already taken",
                                        format!("An SCP named {name:?} ({pid}) already exists and was not created by this resource. Rename or delete it."),
                                    ),
                                );
                                }
                                let current = match api::describe_policy(c, &pid).await {
                                    Ok(x) => x,
                                    Err(e) => return fail(&state, e, true),
                                };
                                // Adopted: brought to the document and tags below.
                                existing = Some((pid, Some(current.unwrap_or_default())));
                            }
                        }
                    }
                    Err(e) => return fail(&state, e, true),
                }
            }
            let Some((pid, current)) = existing else {
                return fail(&state, StepError::new("CreatePolicy", "no policy id"), true);
            };
            // A policy that already existed (in state, or adopted): update the document in
            // place when it differs, and its tags. One just created has both already.
            if let Some((current_name, current_doc)) = current {
                if current_name != name || !guardrails::same_document(&current_doc, doc) {
                    tracing::info!(target: "platform::organization", policy = pid, key, "updating the policy in place");
                    if let Err(e) = api::update_policy(c, &pid, &name, doc).await {
                        return fail(&state, e, true);
                    }
                }
                if let Err(e) = api::converge_tags(c, &pid, &t).await {
                    return fail(&state, e, true);
                }
            }
            // Made (or found): its id is in state from here on, so destroy deletes it even if
            // the attachment below fails; its document only once it is attached, so the next
            // plan wants it and the update attaches it.
            ids.insert(key.clone(), Value::from(pid.clone()));
            state.set_attr("policy_ids", Value::Map(ids.clone()));
            if !attached.contains(&pid) {
                if let Err(e) = api::attach(c, &pid, &ou_id).await {
                    return fail(&state, e, true);
                }
            }
            docs.insert(key.clone(), doc.clone());
            state.set_attr("policy_documents", Value::string_map(docs.clone()));
        }

        // Policies this resource made that are no longer wanted: detach, then delete.
        for (key, pid) in &prior_ids {
            if want.documents.contains_key(key) {
                continue;
            }
            let r = async {
                api::detach(c, pid, &ou_id).await?;
                api::delete_policy(c, pid).await
            }
            .await;
            if let Err(e) = r {
                return fail(&state, e, true);
            }
        }

        state.set_attr(
            "policy_documents",
            Value::string_map(want.documents.clone()),
        );
        state.set_attr("tags_all", Value::string_map(want.tags.clone()));
        ApplyOutcome::ok(state.unknown_as_null())
    }
}

#[async_trait]
impl Resource<AwsContext> for OrganizationalUnit {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "id",
            "id",
            "The OU id, `ou-...` (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        let mut g = Block::new().description("Guardrail SCPs attached to this OU. Every deny is on unless switched off; leaving the block out keeps all of them on.");
        for a in guardrail_attributes() {
            g = g.attr(a);
        }
        let b = Block::new()
            .description("An AWS Organizations organizational unit with guardrail service control policies rendered, validated and attached by the provider.")
            .attr(Attribute::string("id").computed().description("The OU id (ou-...)."))
            .attr(Attribute::string("name").required().description("OU name (letters, digits, spaces, `-_.`; 1-64). Renaming is done in place."))
            .attr(Attribute::string("parent_id").optional().computed().force_new().description("Parent: the root id (r-..., e.g. `platform_organization.this.root_id`) or another OU id. Default: the organization root (removing it plans the OU back under the root). AWS cannot move an OU, so changing it replaces the OU."))
            .attr(Attribute::string_map("extra_policies").optional().description("Additional SCP documents (name → JSON), validated before any AWS call (JSON, at most 5,120 characters, and each statement's structure: `Effect` Allow or Deny, one of `Action`/`NotAction` as `service:action` patterns, `Resource`/`NotResource` as `*` or ARNs, `Condition` as operator → key → values, no `Principal`) and attached alongside the guardrails."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the OU and its policies, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied, including `default_tags` and the platform ownership tags."))
            .attr(Attribute::string("arn").computed().description("ARN of the OU."))
            .attr(Attribute::string_map("policy_documents").computed().description("The SCP documents attached to the OU (key → JSON): `baseline`, `region-restriction` and the extra policies. Rendered at plan time."))
            .attr(Attribute::string_map("policy_ids").computed().description("Ids of the attached SCPs (key → p-...). An update keeps the id."))
            .block(NestedBlock::at_most_one("guardrails", g));
        Schema::new(0, b)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(n) = config.get("name").as_str() {
            if let Err(why) = validate::ou_name(n) {
                d.error_at(
                    AttributePath::root("name"),
                    "Invalid OU name",
                    format!("OU name {n:?} {why}."),
                );
            }
        }
        if let Some(p) = config.get("parent_id").as_str() {
            if let Err(why) = validate::parent_id(p) {
                d.error_at(
                    AttributePath::root("parent_id"),
                    "Invalid parent id",
                    format!("{p:?} {why}."),
                );
            }
        }
        if let Some(g) = config.get("guardrails").elements().first() {
            guardrails::validate_guardrails(&AttributePath::root("guardrails").index(0), g, &mut d);
        }
        let extra = config.get("extra_policies");
        guardrails::validate_extra_policies(&AttributePath::root("extra_policies"), extra, &mut d);
        if config.get("guardrails").is_wholly_known() && !d.has_errors() {
            let path = if extra.entries().is_some_and(|m| !m.is_empty()) {
                AttributePath::root("extra_policies")
            } else {
                AttributePath::root("guardrails")
            };
            guardrails::validate_count(&path, &guardrails_of(config), extra, &mut d);
        }
        if config.get("guardrails").is_wholly_known() && !d.has_errors() {
            for (k, doc) in &guardrails_of(config).render() {
                if let Err(why) = guardrails::check_document(doc) {
                    d.error_at(
                        AttributePath::root("guardrails"),
                        "Rendered guardrail policy too large",
                        format!("The rendered {k:?} policy {why}; list fewer exempt principals or regions."),
                    );
                }
            }
        }
        validate::tags(config.get("tags"), &mut d);
        d
    }

    async fn modify_plan(
        &self,
        aws: &AwsContext,
        req: &PlanRequest,
        planned: &mut Value,
        _d: &mut Diagnostics,
    ) {
        if let Some(root) = api::planned_root_parent(aws.organizations(), req).await {
            planned.set_attr("parent_id", root);
        }
        // The guardrail switches' defaults (on) were filled by the framework's plan rules.
        let docs = documents(planned);
        let prior_ids = req.prior.get("policy_ids").to_string_map();
        match &docs {
            Some(docs) => {
                planned.set_attr("policy_documents", Value::string_map(docs.clone()));
                let ids = docs
                    .keys()
                    .map(|k| {
                        (
                            k.clone(),
                            prior_ids
                                .get(k)
                                .map_or(Value::Unknown, |id| Value::from(id.clone())),
                        )
                    })
                    .collect();
                planned.set_attr(
                    "policy_ids",
                    if req.is_create() {
                        Value::Unknown
                    } else {
                        Value::Map(ids)
                    },
                );
            }
            None => {
                planned.set_attr("policy_documents", Value::Unknown);
                planned.set_attr("policy_ids", Value::Unknown);
            }
        }
        let tags_all = tags::planned_all(
            &aws.default_tags,
            planned.get("name"),
            planned.get("tags"),
            TYPE_NAME,
        );
        planned.set_attr("tags_all", tags_all);
    }

    async fn create(&self, aws: &AwsContext, planned: &Value) -> ApplyOutcome {
        self.converge(aws, &Value::Null, planned).await
    }

    async fn update(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(aws, prior, planned).await
    }

    async fn read(&self, aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let c = aws.organizations();
        let id = state.get("id").as_str().unwrap_or_default().to_string();
        let rd = |e: StepError| {
            Diagnostics::from_error("Could not read the organizational unit", e.to_string())
        };
        let Some((name, arn)) = api::describe_ou(c, &id).await.map_err(rd)? else {
            tracing::info!(target: "platform::organization", id, "OU is gone; removing from state");
            return Ok(None);
        };
        let (parent, tags_now, attached) = tokio::join!(
            api::parent(c, &id),
            api::tags(c, &id),
            api::scps_for(c, &id)
        );
        let (parent, tags_now, attached) = (
            parent.map_err(rd)?,
            tags_now.map_err(rd)?,
            attached.map_err(rd)?,
        );
        let attached: Vec<String> = attached
            .iter()
            .filter_map(|p| p.id().map(str::to_string))
            .collect();
        let mut s = state.clone();
        s.set_attr("name", Value::from(name));
        s.set_attr("arn", Value::from(arn));
        s.set_attr("parent_id", Value::from(parent));
        let user = tags::user_tags(&tags_now, &aws.default_tags, state.get("tags"));
        s.set_attr(
            "tags",
            if user.is_empty() && state.get("tags").is_null() {
                Value::Null
            } else {
                Value::string_map(user)
            },
        );
        s.set_attr("tags_all", Value::string_map(tags_now));
        // Only attached policies count as in place: a detached one keeps its id (destroy still
        // deletes it) but drops out of the documents, so the plan wants it back and apply
        // re-attaches it; a deleted one drops out of both and apply recreates it.
        let prior_docs = state.get("policy_documents").to_string_map();
        let mut ids = BTreeMap::new();
        let mut docs = BTreeMap::new();
        let known: Vec<(String, String)> = state
            .get("policy_ids")
            .to_string_map()
            .into_iter()
            .collect();
        // The documents are independent: fetch them concurrently.
        let contents =
            futures::future::join_all(known.iter().map(|(_, pid)| api::describe_policy(c, pid)))
                .await;
        for ((key, pid), content) in known.into_iter().zip(contents) {
            if let Some((_, content)) = content.map_err(rd)? {
                if attached.contains(&pid) {
                    let doc = match prior_docs.get(&key) {
                        Some(p) if guardrails::same_document(p, &content) => p.clone(),
                        _ => content,
                    };
                    docs.insert(key.clone(), doc);
                } else {
                    tracing::info!(target: "platform::organization", policy = pid, key, "policy is not attached (drift, or a create that failed part-way)");
                }
                ids.insert(key, pid);
            }
        }
        s.set_attr("policy_ids", Value::string_map(ids));
        s.set_attr("policy_documents", Value::string_map(docs));
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let c = aws.organizations();
        let id = prior.get("id").as_str().unwrap_or_default().to_string();
        let name = prior.get("name").as_str().unwrap_or_default();
        let refuse = |detail: String| {
            ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error("Cannot delete the organizational unit", detail),
            )
        };
        // AWS refuses to delete a non-empty OU (moto does not): say so before touching
        // anything, with the accounts to move first.
        let (accounts, children) = tokio::join!(api::accounts_in(c, &id), api::child_ous(c, &id));
        match (accounts, children) {
            (Ok(a), Ok(ch)) => {
                if !a.is_empty() {
                    let list: Vec<String> = a
                        .iter()
                        .map(|x| {
                            format!(
                                "{} ({})",
                                x.name().unwrap_or_default(),
                                x.id().unwrap_or_default()
                            )
                        })
                        .collect();
                    return refuse(format!(
                        "OU {name:?} ({id}) still holds {} account(s): {}. Move them to another OU (change their parent_id) or remove them from the organization first; nothing was changed.",
                        a.len(),
                        list.join(", ")
                    ));
                }
                if !ch.is_empty() {
                    return refuse(format!(
                        "OU {name:?} ({id}) still has child OUs: {}. Delete them first; nothing was changed.",
                        ch.join(", ")
                    ));
                }
            }
            (Err(e), _) | (_, Err(e)) => return refuse(e.to_string()),
        }
        let mut s = prior.clone();
        let mut ids = prior.get("policy_ids").to_string_map();
        for (key, pid) in ids.clone() {
            let r = async {
                api::detach(c, &pid, &id).await?;
                api::delete_policy(c, &pid).await
            }
            .await;
            if let Err(e) = r {
                s.set_attr("policy_ids", Value::string_map(ids));
                return ApplyOutcome::failed(
                    s,
                    Diagnostics::from_error("Cannot delete a guardrail policy", e.to_string()),
                );
            }
            ids.remove(&key);
        }
        if let Err(e) = api::delete_ou(c, &id).await {
            s.set_attr("policy_ids", Value::string_map(ids));
            return ApplyOutcome::failed(
                s,
                Diagnostics::from_error("Cannot delete the organizational unit", e.to_string()),
            );
        }
        ApplyOutcome::ok(Value::Null)
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        let ok = id
            .strip_prefix("ou-")
            .is_some_and(|_| validate::parent_id(id).is_ok());
        if !ok {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import an organizational unit by its id (ou-xxxx-xxxxxxxx); got {id:?}."),
            ));
        }
        let c = aws.organizations();
        let rd = |e: StepError| Diagnostics::from_error("Cannot import", e.to_string());
        let Some((name, _)) = api::describe_ou(c, id).await.map_err(rd)? else {
            return Err(Diagnostics::from_error(
                "Cannot import: no such organizational unit",
                format!("No OU {id} exists in this organization."),
            ));
        };
        // Policies named `<ou name>-<key>` attached to it are this resource's; the
        // guardrail switches themselves cannot be recovered from JSON, so the next plan
        // re-renders the documents and updates them in place if they differ.
        let prefix = format!("{name}-");
        let mut ids = BTreeMap::new();
        for p in api::scps_for(c, id).await.map_err(rd)? {
            if let (Some(pid), Some(key)) = (p.id(), p.name().and_then(|n| n.strip_prefix(&prefix)))
            {
                ids.insert(key.to_string(), pid.to_string());
            }
        }
        let v = Value::object([
            ("id", Value::from(id)),
            ("name", Value::from(name)),
            ("policy_ids", Value::string_map(ids)),
            ("guardrails", Value::List(Vec::new())),
        ]);
        let mut v = self.read(aws, &v).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("OU {id} disappeared during import."),
            )
        })?;
        let docs = v.get("policy_documents").to_string_map();
        match Guardrails::from_documents(&docs) {
            Some(g) => {
                let mut block = g.to_block();
                // What is in force: the switches' schema defaults (on) where the documents are silent.
                let switches = Block {
                    attributes: guardrail_attributes(),
                    ..Block::default()
                };
                if let Value::List(gs) = &mut block {
                    gs.iter_mut()
                        .for_each(|g| *g = tfplugin_framework::plan::with_defaults(&switches, g));
                }
                v.set_attr("guardrails", block);
            }
            None => {
                tracing::warn!(target: "platform::organization", id, "attached guardrail policies were not rendered by platformkit; the next apply re-renders them")
            }
        }
        let extra: BTreeMap<String, String> = v
            .get("policy_documents")
            .to_string_map()
            .into_iter()
            .filter(|(k, _)| k != guardrails::BASELINE_KEY && k != guardrails::REGIONS_KEY)
            .collect();
        if !extra.is_empty() {
            v.set_attr("extra_policies", Value::string_map(extra));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_points_at_attributes() {
        let cfg = Value::object([
            ("name", Value::from("bad/name")),
            ("parent_id", Value::from("root")),
            (
                "guardrails",
                Value::List(vec![Value::object([(
                    "allowed_regions",
                    Value::List(vec![Value::from("mars-1")]),
                )])]),
            ),
            ("extra_policies", Value::string_map([("deny-s3", "{oops")])),
        ]);
        let d = OrganizationalUnit.validate(&cfg);
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(
            paths,
            vec![
                "name",
                "parent_id",
                "guardrails[0].allowed_regions[0]",
                "extra_policies[\"deny-s3\"]"
            ]
        );
    }

    #[test]
    fn too_many_policies_is_reported_on_extra_policies() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let cfg = Value::object([
            ("name", Value::from("ou")),
            (
                "guardrails",
                Value::List(vec![Value::object([(
                    "allowed_regions",
                    Value::List(vec![Value::from("eu-west-1")]),
                )])]),
            ),
            (
                "extra_policies",
                Value::string_map([("a", doc), ("b", doc), ("c", doc)]),
            ),
        ]);
        let d = OrganizationalUnit.validate(&cfg);
        assert!(d.has_errors());
        assert_eq!(d.0[0].summary, "Too many policies for one target");
        assert_eq!(
            d.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("extra_policies")
        );
    }

    #[test]
    fn plan_keeps_policy_ids_and_marks_new_ones_unknown() {
        let prior = Value::object([
            ("name", Value::from("ou")),
            (
                "policy_ids",
                Value::string_map([("baseline", "p-aaaaaaaa")]),
            ),
        ]);
        let cfg = Value::object([
            ("name", Value::from("ou")),
            (
                "guardrails",
                Value::List(vec![Value::object([(
                    "allowed_regions",
                    Value::List(vec![Value::from("eu-west-1")]),
                )])]),
            ),
        ]);
        let docs = documents(&cfg).expect("known");
        assert_eq!(docs.len(), 2);
        // The id mapping used by modify_plan.
        let prior_ids = prior.get("policy_ids").to_string_map();
        assert_eq!(
            prior_ids.get("baseline").map(String::as_str),
            Some("p-aaaaaaaa")
        );
        assert!(!prior_ids.contains_key(guardrails::REGIONS_KEY));
        assert_eq!(policy_name("OU-A", "baseline"), "OU-A-baseline");
    }
}
