//! `platform_organization`: the organization itself, one per management account. Create makes
//! it (feature set ALL) or adopts the one that already exists — CreateOrganization is never
//! called when DescribeOrganization finds one, so there is never a second. Apply enables the
//! policy types and the trusted service access the configuration names (only those: types and
//! services enabled by others, e.g. AWS Control Tower, are left alone), and the optional
//! organization trail (`trail`).
//!
//! Destroy removes the trail, then deletes the organization only when this resource created it
//! and no member account is left in it; otherwise it forgets the organization with a warning
//! that says why (an organization with members cannot be deleted, and one we adopted was never
//! ours to delete).

use super::trail::{self, DesiredTrail};
use super::validate;
use async_trait::async_trait;
use aws_sdk_organizations::types::{Organization as AwsOrg, OrganizationFeatureSet, PolicyType};
use platform_aws::step::{Absent, Step, StepError};
use platform_aws::{partition, tags, AwsContext};
use std::collections::BTreeSet;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, PlanRequest, Resource,
    Schema, Value,
};

pub const TYPE_NAME: &str = "platform_organization";
pub const DEFAULT_TRAIL_NAME: &str = "platformkit-organization";
const SCP: &str = "SERVICE_CONTROL_POLICY";
const NOT_IN_USE: &[&str] = &["AWSOrganizationsNotInUseException"];

/// Policy types an organization root can enable.
pub const POLICY_TYPES: &[&str] = &[
    "SERVICE_CONTROL_POLICY",
    "RESOURCE_CONTROL_POLICY",
    "TAG_POLICY",
    "BACKUP_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "CHATBOT_POLICY",
];

/// Service principals that support trusted access with AWS Organizations (the AWS list of
/// integrated services). Anything else is refused before any call: AWS answers an unknown
/// principal only half-way through an apply.
pub const SERVICE_PRINCIPALS: &[&str] = &[
    "access-analyzer.amazonaws.com",
    "account.amazonaws.com",
    "auditmanager.amazonaws.com",
    "backup.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "compute-optimizer.amazonaws.com",
    "config.amazonaws.com",
    "config-multiaccountsetup.amazonaws.com",
    "controltower.amazonaws.com",
    "detective.amazonaws.com",
    "devops-guru.amazonaws.com",
    "ds.amazonaws.com",
    "fms.amazonaws.com",
    "guardduty.amazonaws.com",
    "health.amazonaws.com",
    "inspector2.amazonaws.com",
    "ipam.amazonaws.com",
    "license-manager.amazonaws.com",
    "macie.amazonaws.com",
    "member.org.stacksets.cloudformation.amazonaws.com",
    "ram.amazonaws.com",
    "reporting.trustedadvisor.amazonaws.com",
    "securityhub.amazonaws.com",
    "securitylake.amazonaws.com",
    "servicecatalog.amazonaws.com",
    "servicequotas.amazonaws.com",
    "sso.amazonaws.com",
    "ssm.amazonaws.com",
    "storage-lens.s3.amazonaws.com",
    "tagpolicies.tag.amazonaws.com",
    "wellarchitected.amazonaws.com",
];

/// The principal the organization trail needs trusted access for.
pub const CLOUDTRAIL_PRINCIPAL: &str = "cloudtrail.amazonaws.com";

pub struct Organization;

fn strings(v: &Value) -> BTreeSet<String> {
    v.elements()
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

fn string_set<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::Set(items.into_iter().map(|s| Value::from(s.as_str())).collect())
}

/// The `trail` block with every name derived, or `None` when there is none.
fn desired_trail(aws: &AwsContext, v: &Value) -> Option<DesiredTrail> {
    let t = v.get("trail").elements().first()?;
    let name = t
        .get("name")
        .as_str()
        .unwrap_or(DEFAULT_TRAIL_NAME)
        .to_string();
    let owner = tags::owner(TYPE_NAME, &name);
    Some(DesiredTrail {
        bucket: t
            .get("bucket_name")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        log_group: trail::log_group_name(&name),
        retention_days: t.get("log_retention_days").as_i64().unwrap_or(365) as i32,
        kms_key_arn: t.get("kms_key_arn").as_str().map(str::to_string),
        force_destroy: t.get("force_destroy").as_bool().unwrap_or(false),
        tags: tags::merged(
            &aws.default_tags,
            &v.get("tags").to_string_map(),
            TYPE_NAME,
            &name,
        ),
        owner,
        name,
    })
}

/// The organization, or `None` when the account is not in one.
async fn describe(aws: &AwsContext) -> Result<Option<AwsOrg>, StepError> {
    Ok(aws
        .organizations()
        .describe_organization()
        .send()
        .await
        .step("DescribeOrganization")
        .absent(NOT_IN_USE)?
        .and_then(|o| o.organization().cloned()))
}

/// The root: its id and its enabled policy types.
async fn root(aws: &AwsContext) -> Result<(String, BTreeSet<String>), StepError> {
    let r = aws
        .organizations()
        .list_roots()
        .send()
        .await
        .step("ListRoots")?;
    let root = r
        .roots()
        .first()
        .ok_or_else(|| StepError::new("ListRoots", "the organization has no root"))?;
    let enabled = root
        .policy_types()
        .iter()
        .filter(|p| p.status().map(|s| s.as_str()) == Some("ENABLED"))
        .filter_map(|p| p.r#type().map(|t| t.as_str().to_string()))
        .collect();
    Ok((root.id().unwrap_or_default().to_string(), enabled))
}

async fn enabled_services(aws: &AwsContext) -> Result<BTreeSet<String>, StepError> {
    let mut out = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let r = aws
            .organizations()
            .list_aws_service_access_for_organization()
            .set_next_token(token.clone())
            .send()
            .await
            .step("ListAWSServiceAccessForOrganization")?;
        out.extend(
            r.enabled_service_principals()
                .iter()
                .filter_map(|p| p.service_principal().map(str::to_string)),
        );
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Member accounts: every account but the management account, as "name (id, status)".
async fn members(aws: &AwsContext, management: &str) -> Result<Vec<String>, StepError> {
    let all = super::api::all_accounts(aws.organizations()).await?;
    Ok(all
        .iter()
        .filter(|a| a.id() != Some(management))
        .map(|a| {
            format!(
                "{} ({}, {})",
                a.name().unwrap_or_default(),
                a.id().unwrap_or_default(),
                a.status().map(|s| s.as_str()).unwrap_or("?")
            )
        })
        .collect())
}

fn set_org_attrs(state: &mut Value, o: &AwsOrg) {
    state.set_attr("id", Value::opt_string(o.id()));
    state.set_attr("arn", Value::opt_string(o.arn()));
    state.set_attr(
        "feature_set",
        Value::opt_string(o.feature_set().map(|f| f.as_str())),
    );
    state.set_attr(
        "management_account_id",
        Value::opt_string(o.master_account_id()),
    );
    state.set_attr(
        "management_account_arn",
        Value::opt_string(o.master_account_arn()),
    );
    state.set_attr(
        "management_account_email",
        Value::opt_string(o.master_account_email()),
    );
}

fn set_trail_attrs(state: &mut Value, parts: Option<&trail::TrailParts>) {
    state.set_attr(
        "trail_arn",
        Value::opt_string(parts.map(|p| p.trail_arn.clone())),
    );
    state.set_attr(
        "trail_bucket_arn",
        Value::opt_string(parts.map(|p| p.bucket_arn.clone())),
    );
    state.set_attr(
        "trail_log_group_arn",
        Value::opt_string(parts.map(|p| p.log_group_arn.clone())),
    );
    state.set_attr(
        "trail_role_arn",
        Value::opt_string(parts.map(|p| p.role_arn.clone())),
    );
    let on = parts.map_or(Value::Null, |_| Value::Bool(true));
    state.set_attr("trail_logging", on.clone());
    state.set_attr("trail_bucket_secure", on);
}

impl Organization {
    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let c = aws.organizations();
        let mut state = planned.clone();
        let fail = |state: &Value, e: StepError| {
            ApplyOutcome::failed(
                state.unknown_as_null(),
                Diagnostics::from_error(
                    "Could not set up the organization",
                    format!(
                        "{e}. {}",
                        platform_aws::resume::after_failure(
                            TYPE_NAME,
                            "organization",
                            prior.is_null()
                        )
                    ),
                ),
            )
        };

        // 1. The organization: adopt the one there is, else create it.
        let org = match describe(aws).await {
            Ok(Some(o)) => {
                if prior.is_null() {
                    tracing::info!(target: "platform::organization", id = o.id(), "adopting the existing organization");
                    state.set_attr("adopted", Value::Bool(true));
                }
                o
            }
            Ok(None) => {
                if let Some(id) = prior.get("id").as_str() {
                    return ApplyOutcome::failed(
                        Value::Null,
                        Diagnostics::from_error(
                            "The organization is gone",
                            format!("Organization {id} in state no longer exists; nothing was created. Plan again: a new organization will be created."),
                        ),
                    );
                }
                tracing::info!(target: "platform::organization", "creating the organization (feature set ALL)");
                match c
                    .create_organization()
                    .feature_set(OrganizationFeatureSet::All)
                    .send()
                    .await
                    .step("CreateOrganization")
                {
                    Ok(o) => {
                        state.set_attr("adopted", Value::Bool(false));
                        match o.organization() {
                            Some(o) => o.clone(),
                            None => match describe(aws).await {
                                Ok(Some(o)) => o,
                                Ok(None) => {
                                    return fail(
                                        &Value::Null,
                                        StepError::new(
                                            "DescribeOrganization",
                                            "no organization after CreateOrganization",
                                        ),
                                    )
                                }
                                Err(e) => return fail(&Value::Null, e),
                            },
                        }
                    }
                    Err(e) => return fail(&Value::Null, e),
                }
            }
            Err(e) => return fail(if prior.is_null() { &Value::Null } else { prior }, e),
        };
        if org.feature_set() != Some(&OrganizationFeatureSet::All) {
            return ApplyOutcome::failed(
                Value::Null,
                Diagnostics::from_error(
                    "The organization does not have all features",
                    format!("Organization {} has feature set {}; SCPs and trusted access need ALL. Enable all features (Organizations console, or EnableAllFeatures and every member account's approval), then apply again. Nothing was changed.",
                        org.id().unwrap_or_default(),
                        org.feature_set().map(|f| f.as_str()).unwrap_or("?")),
                ),
            );
        }
        let management = org.master_account_id().unwrap_or_default().to_string();
        if let Some(me) = &aws.account_id {
            if *me != management {
                return ApplyOutcome::failed(
                    Value::Null,
                    Diagnostics::from_error(
                        "Not the management account",
                        format!("The credentials belong to account {me}, a member of organization {}; platform_organization runs with the management account's ({management}) credentials.", org.id().unwrap_or_default()),
                    ),
                );
            }
        }
        let org_id = org.id().unwrap_or_default().to_string();
        set_org_attrs(&mut state, &org);

        // 2. Policy types on the root.
        let (root_id, enabled) = match root(aws).await {
            Ok(r) => r,
            Err(e) => return fail(&state, e),
        };
        state.set_attr("root_id", Value::from(root_id.clone()));
        let want_types = strings(planned.get("enabled_policy_types"));
        let prior_types = strings(prior.get("enabled_policy_types"));
        for t in want_types.difference(&enabled) {
            tracing::info!(target: "platform::organization", policy_type = t, "enabling a policy type on the root");
            if let Err(e) = c
                .enable_policy_type()
                .root_id(&root_id)
                .policy_type(PolicyType::from(t.as_str()))
                .send()
                .await
                .step("EnablePolicyType")
                .absent(&["PolicyTypeAlreadyEnabledException"])
            {
                return fail(&state, e);
            }
        }
        for t in prior_types.difference(&want_types) {
            if !enabled.contains(t) || t == SCP {
                continue;
            }
            if let Err(e) = c
                .disable_policy_type()
                .root_id(&root_id)
                .policy_type(PolicyType::from(t.as_str()))
                .send()
                .await
                .step("DisablePolicyType")
                .absent(&["PolicyTypeNotEnabledException"])
            {
                return fail(&state, e);
            }
        }

        // 3. Trusted access.
        let services = match enabled_services(aws).await {
            Ok(s) => s,
            Err(e) => return fail(&state, e),
        };
        let want_services = strings(planned.get("aws_service_access_principals"));
        for s in want_services.difference(&services) {
            if let Err(e) = c
                .enable_aws_service_access()
                .service_principal(s)
                .send()
                .await
                .step("EnableAWSServiceAccess")
            {
                return fail(&state, e);
            }
        }
        for s in strings(prior.get("aws_service_access_principals")).difference(&want_services) {
            if !services.contains(s) {
                continue;
            }
            if let Err(e) = c
                .disable_aws_service_access()
                .service_principal(s)
                .send()
                .await
                .step("DisableAWSServiceAccess")
            {
                return fail(&state, e);
            }
        }

        // 4. The trail: a renamed or removed one goes first, then the wanted one is made.
        let want_trail = desired_trail(aws, planned);
        let prior_trail = desired_trail(aws, prior);
        if let Some(p) = &prior_trail {
            let replaced = want_trail
                .as_ref()
                .is_none_or(|w| w.name != p.name || w.bucket != p.bucket);
            if replaced {
                if let Err(e) = trail::remove(aws, p).await {
                    return fail(prior, e);
                }
            }
        }
        match &want_trail {
            Some(w) => {
                let claimed = prior_trail.as_ref().is_some_and(|p| p.bucket == w.bucket);
                let ensured = platform_aws::lost::settle("organization trail", || {
                    trail::ensure(aws, w, &management, &org_id, claimed)
                })
                .await;
                match ensured {
                    Ok(parts) => set_trail_attrs(&mut state, Some(&parts)),
                    Err(e) => {
                        set_trail_attrs(&mut state, None);
                        return fail(&state, e);
                    }
                }
            }
            None => set_trail_attrs(&mut state, None),
        }
        state.set_attr(
            "tags_all",
            match &want_trail {
                Some(w) => Value::string_map(w.tags.clone()),
                None => Value::Null,
            },
        );
        ApplyOutcome::ok(state.unknown_as_null())
    }
}

#[async_trait]
impl Resource<AwsContext> for Organization {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        let trail_block = Block::new()
            .description("An organization trail: CloudTrail for every account and region of the organization, log file validation on, into a private S3 bucket (versioning, encryption, all public access blocked, bucket-owner-enforced, TLS-only policy that lets only this trail write) and a CloudWatch log group with a retention.")
            .attr(Attribute::string("name").default(DEFAULT_TRAIL_NAME).description("Trail name (3-54 letters, digits, `._-`). Also names the log group `/platform/cloudtrail/<name>` and the delivery role `<name>-cloudwatch`. Changing it replaces the trail."))
            .attr(Attribute::string("bucket_name").required().description("Name of the S3 bucket the trail writes into; created with the state backend's protections. Bucket names are global, so include something unique (e.g. the organization's name)."))
            .attr(Attribute::number("log_retention_days").default(Value::int(365)).description("Retention of the CloudWatch log group in days (a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653). Default 365."))
            .attr(Attribute::string("kms_key_arn").optional().description("KMS key for the bucket, the log group and the log files. Default: SSE-S3 and CloudWatch's own encryption."))
            .attr(Attribute::bool("force_destroy").default(false).description("Let destroy delete the bucket while it still holds log files. Default false: destroy refuses, before deleting anything, while the bucket holds logs."));
        let b = Block::new()
            .description("The AWS Organization of the management account: created with all features, or adopted when it exists (never a second one). Enables the policy types and trusted service access the platform needs, and optionally an organization trail. Destroy deletes the organization only when this resource created it and no member account is left; otherwise it is forgotten, with a warning.")
            .attr(Attribute::string("id").computed().description("The organization id (o-...)."))
            .attr(Attribute::string("arn").computed().description("ARN of the organization."))
            .attr(Attribute::string("feature_set").default("ALL").description("Must be `ALL` (the default): SCPs and trusted access do not exist in a consolidated-billing-only organization."))
            .attr(Attribute::string_set("enabled_policy_types").default(Value::Set(vec![Value::from(SCP)])).description("Policy types to enable on the root. Must include SERVICE_CONTROL_POLICY (the OUs' guardrails). Types enabled by others are left alone; a type removed from this set is disabled."))
            .attr(Attribute::string_set("aws_service_access_principals").default(Value::Set(vec![Value::from(CLOUDTRAIL_PRINCIPAL)])).description("Service principals given trusted access to the organization. Default: `cloudtrail.amazonaws.com` (the organization trail). Principals enabled by others are left alone; one removed from this set is disabled."))
            .attr(Attribute::string("root_id").computed().description("Id of the organization root (r-...): the `parent_id` of top-level OUs and of accounts at the root."))
            .attr(Attribute::string("management_account_id").computed().description("Id of the management account."))
            .attr(Attribute::string("management_account_arn").computed().description("ARN of the management account."))
            .attr(Attribute::string("management_account_email").computed().description("Root email of the management account."))
            .attr(Attribute::bool("adopted").computed().description("True when the organization existed before this resource (adopted or imported): destroy then never deletes it."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the trail, its bucket, log group and role, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags on the trail's parts, including `default_tags` and the platform ownership tags."))
            .attr(Attribute::string("trail_arn").computed().description("ARN of the organization trail (null without a `trail` block)."))
            .attr(Attribute::string("trail_bucket_arn").computed().description("ARN of the trail's bucket."))
            .attr(Attribute::string("trail_log_group_arn").computed().description("ARN of the trail's CloudWatch log group."))
            .attr(Attribute::string("trail_role_arn").computed().description("ARN of the role CloudTrail uses to write into the log group."))
            .attr(Attribute::bool("trail_logging").computed().description("Reads back reality: true while the trail is an organization trail for all regions with log file validation and is logging. Stopping it out of band shows as drift; apply starts it again."))
            .attr(Attribute::bool("trail_bucket_secure").computed().description("Reads back reality: true while the trail bucket has versioning, encryption, all four public-access-block settings, bucket-owner-enforced ownership and the TLS-only policy. Drift shows in plan; apply repairs it."))
            .block(NestedBlock::at_most_one("trail", trail_block));
        Schema::new(0, b)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(f) = config.get("feature_set").as_str() {
            if f != "ALL" {
                d.error_at(
                    AttributePath::root("feature_set"),
                    "Unsupported feature set",
                    format!("feature_set {f:?}: only \"ALL\" is supported. A CONSOLIDATED_BILLING organization has no SCPs and no trusted access, which the platform's guardrails and organization trail need."),
                );
            }
        }
        let types = config.get("enabled_policy_types");
        if let Value::Set(v) | Value::List(v) = types {
            for (i, t) in v.iter().enumerate() {
                if let Some(s) = t.as_str() {
                    if !POLICY_TYPES.contains(&s) {
                        d.error_at(
                            AttributePath::root("enabled_policy_types").index(i as i64),
                            "Unknown policy type",
                            format!(
                                "{s:?} is not an Organizations policy type; use one of {}.",
                                POLICY_TYPES.join(", ")
                            ),
                        );
                    }
                }
            }
            if types.is_wholly_known() && !strings(types).contains(SCP) {
                d.error_at(
                    AttributePath::root("enabled_policy_types"),
                    "Service control policies must stay enabled",
                    "enabled_policy_types must include \"SERVICE_CONTROL_POLICY\": the OUs' guardrails are SCPs.",
                );
            }
        }
        let principals = config.get("aws_service_access_principals");
        if let Value::Set(v) | Value::List(v) = principals {
            for (i, p) in v.iter().enumerate() {
                if let Some(s) = p.as_str() {
                    if !SERVICE_PRINCIPALS.contains(&s) {
                        d.error_at(
                            AttributePath::root("aws_service_access_principals").index(i as i64),
                            "Unknown service principal",
                            format!("{s:?} is not a service that supports trusted access with AWS Organizations (e.g. cloudtrail.amazonaws.com, config.amazonaws.com, sso.amazonaws.com)."),
                        );
                    }
                }
            }
        }
        if let Some(t) = config.get("trail").elements().first() {
            let at = |a: &str| AttributePath::root("trail").index(0).attr(a);
            if let Some(n) = t.get("name").as_str() {
                if let Err(why) = trail::check_name(n) {
                    d.error_at(at("name"), "Invalid trail name", format!("{n:?} {why}."));
                }
            }
            if let Some(b) = t.get("bucket_name").as_str() {
                if let Err(why) = platform_aws::validate::bucket_name(b) {
                    d.error_at(
                        at("bucket_name"),
                        "Invalid bucket name",
                        format!("{b:?} {why}."),
                    );
                }
            }
            if let Some(r) = t.get("log_retention_days").as_i64() {
                if !trail::RETENTION_DAYS.contains(&r) {
                    d.error_at(
                        at("log_retention_days"),
                        "Invalid log retention",
                        format!(
                            "{r} days is not a retention CloudWatch Logs accepts; use one of {:?}.",
                            trail::RETENTION_DAYS
                        ),
                    );
                }
            }
            if let Some(k) = t.get("kms_key_arn").as_str() {
                if let Err(why) = platform_aws::validate::kms_key_arn(k) {
                    d.error_at(at("kms_key_arn"), "Invalid KMS key ARN", why);
                }
            }
            if principals.is_wholly_known()
                && !principals.is_null()
                && !strings(principals).contains(CLOUDTRAIL_PRINCIPAL)
            {
                d.error_at(
                    AttributePath::root("aws_service_access_principals"),
                    "The organization trail needs CloudTrail's trusted access",
                    "With a trail block, aws_service_access_principals must include \"cloudtrail.amazonaws.com\".",
                );
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
        let prior = &req.prior;
        let trail_known = planned
            .get("trail")
            .elements()
            .first()
            .is_none_or(Value::is_wholly_known);
        match desired_trail(aws, planned) {
            None => set_trail_attrs(planned, None),
            Some(_) if !trail_known => {
                for a in [
                    "trail_arn",
                    "trail_bucket_arn",
                    "trail_log_group_arn",
                    "trail_role_arn",
                ] {
                    planned.set_attr(a, Value::Unknown);
                }
                planned.set_attr("trail_logging", Value::Bool(true));
                planned.set_attr("trail_bucket_secure", Value::Bool(true));
            }
            Some(w) => {
                let same = desired_trail(aws, prior)
                    .is_some_and(|p| p.name == w.name && p.bucket == w.bucket);
                let account = prior
                    .get("management_account_id")
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| aws.account_id.clone());
                let p = partition(&aws.region);
                let derive = |f: &dyn Fn(&str) -> String, key: &str| -> Value {
                    if same && !prior.get(key).is_null() {
                        return prior.get(key).clone();
                    }
                    account
                        .as_deref()
                        .map_or(Value::Unknown, |a| Value::from(f(a)))
                };
                let trail_arn = derive(
                    &|a| trail::trail_arn(p, &aws.region, a, &w.name),
                    "trail_arn",
                );
                let lg_arn = derive(
                    &|a| trail::log_group_arn(p, &aws.region, a, &w.log_group),
                    "trail_log_group_arn",
                );
                let role_arn = derive(&|a| trail::role_arn(p, a, &w.role_name()), "trail_role_arn");
                planned.set_attr("trail_arn", trail_arn);
                planned.set_attr(
                    "trail_bucket_arn",
                    Value::from(format!("arn:{p}:s3:::{}", w.bucket)),
                );
                planned.set_attr("trail_log_group_arn", lg_arn);
                planned.set_attr("trail_role_arn", role_arn);
                planned.set_attr("trail_logging", Value::Bool(true));
                planned.set_attr("trail_bucket_secure", Value::Bool(true));
            }
        }
        let tags_all = if planned.get("trail").elements().is_empty() {
            Value::Null
        } else {
            let name = planned
                .get("trail")
                .elements()
                .first()
                .map(|t| t.get("name").clone())
                .unwrap_or(Value::Unknown);
            tags::planned_all(&aws.default_tags, &name, planned.get("tags"), TYPE_NAME)
        };
        planned.set_attr("tags_all", tags_all);
        if req.is_create() {
            planned.set_attr("adopted", Value::Unknown);
        }
    }

    async fn create(&self, aws: &AwsContext, planned: &Value) -> ApplyOutcome {
        self.converge(aws, &Value::Null, planned).await
    }

    async fn update(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(aws, prior, planned).await
    }

    async fn read(&self, aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let rd = |e: StepError| {
            Diagnostics::from_error("Could not read the organization", e.to_string())
        };
        let Some(org) = describe(aws).await.map_err(rd)? else {
            tracing::info!(target: "platform::organization", "the account is no longer in an organization; removing from state");
            return Ok(None);
        };
        if let Some(id) = state.get("id").as_str() {
            if org.id() != Some(id) {
                tracing::info!(target: "platform::organization", id, "organization in state is gone (another one exists); removing from state");
                return Ok(None);
            }
        }
        let mut s = state.clone();
        set_org_attrs(&mut s, &org);
        let ((root_id, types), services) = match tokio::join!(root(aws), enabled_services(aws)) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => return Err(rd(e)),
        };
        s.set_attr("root_id", Value::from(root_id));
        // Only what this resource manages: a managed type or service that was switched off
        // drops out (drift), ones enabled by others are not reported.
        let keep = |attr: &str, now: &BTreeSet<String>| {
            let managed = strings(state.get(attr));
            string_set(managed.intersection(now))
        };
        s.set_attr("enabled_policy_types", keep("enabled_policy_types", &types));
        s.set_attr(
            "aws_service_access_principals",
            keep("aws_service_access_principals", &services),
        );
        if let Some(t) = desired_trail(aws, state) {
            let o = trail::observe(aws, &t.name, &t.bucket).await.map_err(rd)?;
            s.set_attr("trail_logging", Value::Bool(o.logging));
            s.set_attr("trail_bucket_secure", Value::Bool(o.bucket_secure));
        }
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let mut d = Diagnostics::new();
        if let Some(t) = desired_trail(aws, prior) {
            match trail::remove(aws, &t).await {
                Ok(notes) => notes
                    .into_iter()
                    .for_each(|n| d.warning("Trail bucket left in place", n)),
                Err(e) => {
                    return ApplyOutcome::failed(
                        prior.clone(),
                        Diagnostics::from_error(
                            "Could not remove the organization trail",
                            format!("{e}. The organization is kept in state."),
                        ),
                    )
                }
            }
        }
        let id = prior.get("id").as_str().unwrap_or_default().to_string();
        let org = match describe(aws).await {
            Ok(Some(o)) if o.id() == Some(id.as_str()) => o,
            Ok(_) => {
                return ApplyOutcome {
                    state: Value::Null,
                    diags: d,
                }
            }
            Err(e) => {
                let mut s = prior.clone();
                set_trail_attrs(&mut s, None);
                s.set_attr("trail", Value::List(Vec::new()));
                return ApplyOutcome::failed(
                    s,
                    Diagnostics::from_error("Could not read the organization", e.to_string()),
                );
            }
        };
        let management = org.master_account_id().unwrap_or_default().to_string();
        if prior.get("adopted").as_bool().unwrap_or(true) {
            d.warning(
                "Organization left in place",
                format!("Organization {id} existed before this resource (adopted or imported), so destroy only removed it from Terraform state; it and everything in it still exist."),
            );
            return ApplyOutcome {
                state: Value::Null,
                diags: d,
            };
        }
        let left = match members(aws, &management).await {
            Ok(m) => m,
            Err(e) => {
                d.error("Could not list the organization's accounts", e.to_string());
                let mut s = prior.clone();
                set_trail_attrs(&mut s, None);
                s.set_attr("trail", Value::List(Vec::new()));
                return ApplyOutcome::failed(s, d);
            }
        };
        if !left.is_empty() {
            d.warning(
                "Organization left in place",
                format!(
                    "Organization {id} still has {} member account(s): {}. AWS deletes only an organization without member accounts (closed accounts count until AWS removes them), so destroy removed it from Terraform state only. Remove the accounts from the organization and delete it by hand if that is what you want.",
                    left.len(),
                    left.join(", ")
                ),
            );
            return ApplyOutcome {
                state: Value::Null,
                diags: d,
            };
        }
        match aws
            .organizations()
            .delete_organization()
            .send()
            .await
            .step("DeleteOrganization")
            .absent(NOT_IN_USE)
        {
            Ok(_) => ApplyOutcome {
                state: Value::Null,
                diags: d,
            },
            Err(e) => {
                let mut s = prior.clone();
                set_trail_attrs(&mut s, None);
                s.set_attr("trail", Value::List(Vec::new()));
                d.error("Could not delete the organization", e.to_string());
                ApplyOutcome::failed(s, d)
            }
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        let well_formed = id.strip_prefix("o-").is_some_and(|r| {
            (10..=32).contains(&r.len())
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !well_formed {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import the organization by its id (o- and 10 to 32 lower-case letters or digits); got {id:?}."),
            ));
        }
        let org = describe(aws)
            .await
            .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        match org {
            Some(o) if o.id() == Some(id) => {}
            Some(o) => {
                return Err(Diagnostics::from_error(
                    "Cannot import: another organization",
                    format!(
                        "These credentials belong to organization {}, not {id}.",
                        o.id().unwrap_or_default()
                    ),
                ))
            }
            None => {
                return Err(Diagnostics::from_error(
                    "Cannot import: no organization",
                    format!("The account is not in an organization, so {id} cannot be imported."),
                ))
            }
        }
        // The imported resource manages only the defaults (SCPs, CloudTrail's trusted access)
        // that are enabled: a type or service enabled by someone else is never taken over, so
        // the first apply after import cannot disable it. More in the configuration is enabled
        // by that apply (a no-op where it already is).
        let managed_types: BTreeSet<String> = [SCP.to_string()].into();
        let managed_services: BTreeSet<String> = [CLOUDTRAIL_PRINCIPAL.to_string()].into();
        let v = Value::object([
            ("id", Value::from(id)),
            ("adopted", Value::Bool(true)),
            ("feature_set", Value::from("ALL")),
            ("enabled_policy_types", string_set(&managed_types)),
            (
                "aws_service_access_principals",
                string_set(&managed_services),
            ),
            ("trail", Value::List(Vec::new())),
        ]);
        self.read(aws, &v).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("Organization {id} disappeared during import."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn validation_points_at_attributes() {
        let cfg = Value::object([
            ("feature_set", Value::from("CONSOLIDATED_BILLING")),
            (
                "aws_service_access_principals",
                Value::Set(vec![
                    Value::from("cloudtrail.amazonaws.com"),
                    Value::from("nope.amazonaws.com"),
                ]),
            ),
            (
                "trail",
                Value::List(vec![Value::object([
                    ("name", Value::from("org-trail")),
                    ("bucket_name", Value::from("Bad_Bucket")),
                    ("log_retention_days", Value::int(17)),
                ])]),
            ),
        ]);
        let d = Organization.validate(&cfg);
        assert_eq!(
            paths(&d),
            vec![
                "feature_set",
                "aws_service_access_principals[1]",
                "trail[0].bucket_name",
                "trail[0].log_retention_days"
            ]
        );
    }

    #[test]
    fn scp_must_stay_enabled_and_trail_needs_cloudtrail() {
        let cfg = Value::object([
            (
                "enabled_policy_types",
                Value::Set(vec![Value::from("TAG_POLICY")]),
            ),
            (
                "aws_service_access_principals",
                Value::Set(vec![Value::from("sso.amazonaws.com")]),
            ),
            (
                "trail",
                Value::List(vec![Value::object([(
                    "bucket_name",
                    Value::from("org-trail-logs"),
                )])]),
            ),
        ]);
        let d = Organization.validate(&cfg);
        assert_eq!(
            paths(&d),
            vec!["enabled_policy_types", "aws_service_access_principals"]
        );
    }
}
