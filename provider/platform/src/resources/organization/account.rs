//! `platform_org_account`: account vending. CreateAccount is asynchronous, so create polls
//! DescribeCreateAccountStatus (backoff, deadline from `timeouts`, cancellable) and reports
//! AWS's failure reason. Moving between OUs is in place. Closing an account is never an
//! accident: unless `close_on_deletion` is set, destroy only forgets the account.

use super::api;
use super::validate;
use async_trait::async_trait;
use aws_sdk_organizations::types::{AccountStatus, CreateAccountState, IamUserAccessToBilling};
use platform_aws::step::{Step, StepError};
use platform_aws::{partition, tags, wait, AwsContext};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, PlanRequest, Resource,
    Schema, Value,
};

pub const TYPE_NAME: &str = "platform_org_account";
pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";
const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The resource keeps, per provider process, the emails planned so far: Terraform plans
/// every resource instance of one configuration in one provider process per run, so a
/// second account planning the same email is a duplicate in the configuration (AWS would
/// reject it only after the first account exists; moto never does). Keyed by lower-cased
/// email; the value is the account name, so re-planning the same account is not flagged.
///
/// It also keeps one listing of the organization's accounts and in-progress account requests,
/// taken when the first account of an apply is created and shared by every other create of the
/// same provider process: each create looks its email up there (a crash mid-apply never creates
/// a second account), and listing every account once per account made an apply's calls grow
/// with the square of the accounts (ListAccounts answers at most 20 per page on AWS). What this
/// process creates after the listing cannot match another create's lookup: emails are unique
/// in the configuration (checked at plan) and names in the request list are per account.
#[derive(Default)]
pub struct OrgAccount {
    planned_emails: Mutex<HashMap<String, String>>,
    listing: tokio::sync::OnceCell<Listing>,
}

/// The organization's accounts and in-progress CreateAccount requests, as listed once.
#[derive(Debug, Default, Clone, PartialEq)]
struct Listing {
    /// (email, account id) of every account in the organization.
    accounts: Vec<(String, String)>,
    /// (account name, request id) of every in-progress CreateAccount request.
    pending: Vec<(String, String)>,
}

/// Where an account with `name` and `email` already is: an account with that email (compared
/// without case, as AWS does), else an in-progress request for that name, else nowhere.
enum Found {
    Account(String),
    Pending(String),
    Nowhere,
}

impl Listing {
    fn find(&self, name: &str, email: &str) -> Found {
        if let Some((_, id)) = self
            .accounts
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
        {
            return Found::Account(id.clone());
        }
        match self.pending.iter().find(|(n, _)| n == name) {
            Some((_, req)) => Found::Pending(req.clone()),
            None => Found::Nowhere,
        }
    }
}

fn role_arn(region: &str, account: &str, role: &str) -> String {
    format!("arn:{}:iam::{account}:role/{role}", partition(region))
}

fn timeout(v: &Value, which: &str, default: Duration) -> Duration {
    v.get("timeouts")
        .elements()
        .first()
        .and_then(|t| t.get(which).as_str())
        .and_then(|s| validate::duration(s).ok())
        .unwrap_or(default)
}

fn status_str(s: Option<&AccountStatus>) -> Value {
    Value::opt_string(s.map(|s| s.as_str().to_string()))
}

impl OrgAccount {
    /// Waits for a CreateAccount request; `Ok(account id)` or the failure reason.
    async fn wait_created(
        aws: &AwsContext,
        request_id: &str,
        limit: Duration,
    ) -> Result<String, String> {
        let c = aws.organizations();
        let r = wait::until("the account to be created", limit, &aws.cancel, || async {
            let out = c
                .describe_create_account_status()
                .create_account_request_id(request_id)
                .send()
                .await
                .step("DescribeCreateAccountStatus")
                .map_err(|e| e.to_string())?;
            let Some(s) = out.create_account_status() else {
                return Ok::<_, String>(None);
            };
            match s.state() {
                Some(CreateAccountState::Succeeded) => {
                    Ok(Some(Ok(s.account_id().unwrap_or_default().to_string())))
                }
                Some(CreateAccountState::Failed) => Ok(Some(Err(format!(
                    "AWS reports the account creation FAILED: {}",
                    s.failure_reason()
                        .map_or("no reason given".to_string(), |r| r.as_str().to_string())
                )))),
                _ => Ok(None),
            }
        })
        .await;
        match r {
            Ok(Ok(id)) if !id.is_empty() => Ok(id),
            Ok(Ok(_)) => Err("the creation succeeded without an account id".into()),
            Ok(Err(reason)) => Err(reason),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Lists the organization's accounts and in-progress requests (every page of both).
    async fn list(aws: &AwsContext) -> Result<Listing, StepError> {
        let c = aws.organizations();
        let accounts = api::all_accounts(c)
            .await?
            .iter()
            .filter_map(|a| Some((a.email()?.to_string(), a.id()?.to_string())))
            .collect();
        let mut pending = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let r = c
                .list_create_account_status()
                .states(CreateAccountState::InProgress)
                .set_next_token(token.clone())
                .send()
                .await
                .step("ListCreateAccountStatus")?;
            pending.extend(
                r.create_account_statuses()
                    .iter()
                    .filter_map(|s| Some((s.account_name()?.to_string(), s.id()?.to_string()))),
            );
            token = r.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(Listing { accounts, pending });
            }
        }
    }

    /// Finds an account this resource already created (owner tag) with `email`, or an
    /// in-progress request for its name: a crash mid-apply never creates a second one. The
    /// listing is taken once per provider process (see [`OrgAccount`]); a failed listing is
    /// not kept, so the next create lists again.
    async fn existing(
        &self,
        aws: &AwsContext,
        name: &str,
        email: &str,
    ) -> Result<Existing, StepError> {
        let listing = self.listing.get_or_try_init(|| Self::list(aws)).await?;
        match listing.find(name, email) {
            Found::Account(id) => {
                let t = api::tags(aws.organizations(), &id).await?;
                Ok(
                    if t.get(tags::OWNER_KEY) == Some(&tags::owner(TYPE_NAME, name)) {
                        Existing::Ours(id)
                    } else {
                        Existing::Foreign(id)
                    },
                )
            }
            Found::Pending(req) => Ok(Existing::Pending(req)),
            Found::Nowhere => Ok(Existing::None),
        }
    }

    /// Parent and tags: the parts that are updated in place.
    async fn converge_placement(
        aws: &AwsContext,
        id: &str,
        parent: Option<&str>,
        all_tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, StepError> {
        let c = aws.organizations();
        let current = api::parent(c, id).await?;
        let target = match parent {
            Some(p) => p.to_string(),
            None => api::root(c).await?.0,
        };
        if current != target {
            tracing::info!(target: "platform::organization", account = id, from = current, to = target, "moving the account");
            c.move_account()
                .account_id(id)
                .source_parent_id(&current)
                .destination_parent_id(&target)
                .send()
                .await
                .step("MoveAccount")?;
        }
        api::converge_tags(c, id, all_tags).await?;
        Ok(target)
    }

    /// Moves an account that leaves Terraform's care to `retired` (default: the root), unless
    /// it is there already. `Ok(Some(parent))` where it now is; `Ok(None)` when the account is
    /// no longer in the organization.
    async fn retire(
        aws: &AwsContext,
        id: &str,
        retired: Option<&str>,
    ) -> Result<Option<String>, StepError> {
        let c = aws.organizations();
        let current = match api::parent(c, id).await {
            Ok(p) => p,
            Err(e) if e.code() == Some("AccountNotFoundException") || e.is_not_found() => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let target = match retired {
            Some(p) => p.to_string(),
            None => api::root(c).await?.0,
        };
        if current != target {
            tracing::info!(target: "platform::organization", account = id, from = current, to = target, "moving the account out before it leaves state");
            c.move_account()
                .account_id(id)
                .source_parent_id(&current)
                .destination_parent_id(&target)
                .send()
                .await
                .step("MoveAccount")?;
        }
        Ok(Some(target))
    }

    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let c = aws.organizations();
        let name = planned.get("name").as_str().unwrap_or_default().to_string();
        let email = planned
            .get("email")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let role = planned
            .get("role_name")
            .as_str()
            .unwrap_or(DEFAULT_ROLE)
            .to_string();
        let all_tags = tags::merged(
            &aws.default_tags,
            &planned.get("tags").to_string_map(),
            TYPE_NAME,
            &name,
        );
        let mut state = planned.clone();
        let failed = |state: Value, summary: &str, detail: String| {
            ApplyOutcome::failed(state, Diagnostics::from_error(summary, detail))
        };

        let id = match prior.get("id").as_str() {
            Some(id) => id.to_string(),
            None => {
                let request = match self.existing(aws, &name, &email).await {
                    Err(e) => return failed(Value::Null, "Could not create the account", e.to_string()),
                    Ok(Existing::Foreign(id)) => {
                        return failed(
                            Value::Null,
                            "Account email already in use",
                            format!("Account {id} in this organization already uses {email:?} and was not created by this resource. Import it with `terraform import <address> {id}`."),
                        )
                    }
                    Ok(Existing::Ours(id)) => {
                        tracing::info!(target: "platform::organization", id, "adopting the account carrying this resource's owner tag");
                        Ok(id)
                    }
                    Ok(Existing::Pending(req)) => Err(req),
                    Ok(Existing::None) => {
                        let billing = if planned.get("iam_user_access_to_billing").as_bool().unwrap_or(true) {
                            IamUserAccessToBilling::Allow
                        } else {
                            IamUserAccessToBilling::Deny
                        };
                        let tag_list = match api::to_tags(&all_tags) {
                            Ok(t) => t,
                            Err(e) => return failed(Value::Null, "Could not create the account", e.to_string()),
                        };
                        let mut round = 1;
                        loop {
                            let out = c
                                .create_account()
                                .account_name(&name)
                                .email(&email)
                                .role_name(&role)
                                .iam_user_access_to_billing(billing.clone())
                                .set_tags(Some(tag_list.clone()))
                                .send()
                                .await;
                            match out.step("CreateAccount") {
                                Ok(o) => {
                                    break Err(o
                                        .create_account_status()
                                        .and_then(|s| s.id())
                                        .unwrap_or_default()
                                        .to_string())
                                }
                                // The answer was lost: AWS may have started the request. A fresh
                                // listing (not the process's cached one) finds the request or the
                                // account by its email; else the account is requested again.
                                Err(e) if e.is_lost_answer() && round < platform_aws::lost::MAX_ROUNDS => {
                                    round += 1;
                                    let found = match Self::list(aws).await {
                                        Ok(l) => l.find(&name, &email),
                                        Err(e) => return failed(Value::Null, "Could not create the account", e.to_string()),
                                    };
                                    match found {
                                        Found::Pending(req) => {
                                            tracing::warn!(target: "platform::aws", object = %email, operation = "CreateAccount", "lost answer: adopted the account request AWS started");
                                            break Err(req);
                                        }
                                        Found::Account(id) => {
                                            tracing::warn!(target: "platform::aws", object = %email, operation = "CreateAccount", "lost answer: adopted the account AWS created");
                                            break Ok(id);
                                        }
                                        Found::Nowhere => {
                                            tracing::warn!(target: "platform::aws", object = %email, operation = "CreateAccount", "lost answer: AWS did not create it; creating again");
                                        }
                                    }
                                }
                                Err(e) => {
                                    return failed(
                                        Value::Null,
                                        "Could not create the account",
                                        e.to_string(),
                                    )
                                }
                            }
                        }
                    }
                };
                match request {
                    Ok(id) => id,
                    Err(req) => {
                        let limit = timeout(planned, "create", DEFAULT_CREATE_TIMEOUT);
                        match Self::wait_created(aws, &req, limit).await {
                            Ok(id) => id,
                            Err(why) => {
                                return failed(
                                    Value::Null,
                                    "Account creation failed",
                                    format!("Account {name:?} <{email}> (request {req}): {why}."),
                                )
                            }
                        }
                    }
                }
            }
        };
        state.set_attr("id", Value::from(id.clone()));
        state.set_attr(
            "access_role_arn",
            Value::from(role_arn(&aws.region, &id, &role)),
        );
        if let Ok(a) = c.describe_account().account_id(&id).send().await {
            if let Some(a) = a.account() {
                state.set_attr("arn", Value::opt_string(a.arn()));
                state.set_attr("status", status_str(a.status()));
            }
        }
        match Self::converge_placement(aws, &id, planned.get("parent_id").as_str(), &all_tags).await
        {
            Ok(parent) => state.set_attr("parent_id", Value::from(parent)),
            Err(e) => {
                // Not moved (or not tagged): the account is where it was, and its tags are
                // what refresh finds, so the update after `terraform untaint` finishes both.
                state.set_attr("parent_id", prior.get("parent_id").clone());
                state.set_attr("tags_all", prior.get("tags_all").clone());
                return failed(
                    state.unknown_as_null(),
                    "Could not place the account",
                    format!(
                        "{e}. The account {id} exists. {}",
                        platform_aws::resume::after_failure(
                            TYPE_NAME,
                            planned.get("name").as_str().unwrap_or_default(),
                            prior.is_null()
                        )
                    ),
                );
            }
        }
        state.set_attr("tags_all", Value::string_map(all_tags));
        ApplyOutcome::ok(state.unknown_as_null())
    }
}

enum Existing {
    None,
    Ours(String),
    Foreign(String),
    Pending(String),
}

#[async_trait]
impl Resource<AwsContext> for OrgAccount {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "account_id",
            "id",
            "The 12-digit account id (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        let b = Block::new()
            .description("A member account of the organization, created with CreateAccount and placed in an OU.")
            .attr(Attribute::string("id").computed().description("The 12-digit account id."))
            .attr(Attribute::string("name").required().force_new().description("Account name (1-50 printable characters). AWS Organizations cannot rename an account, so changing it replaces the account."))
            .attr(Attribute::string("email").required().force_new().description("Email of the account's root user; unique across AWS. Changing it replaces the account."))
            .attr(Attribute::string("parent_id").optional().computed().description("OU (or root) id to place the account in, e.g. `platform_organization.this.root_id`. Default: the root; removing it plans a move back to the root. Changing it moves the account in place."))
            .attr(Attribute::string("role_name").default(DEFAULT_ROLE).force_new().description("Name of the IAM role AWS creates in the account for the management account to assume. Default `OrganizationAccountAccessRole`."))
            .attr(Attribute::bool("iam_user_access_to_billing").default(true).force_new().description("Whether IAM users and roles may see billing. Default true."))
            .attr(Attribute::bool("close_on_deletion").default(false).description("Close the account on destroy. Default false: destroy moves it to `retired_parent_id` (default the root) and removes it from state, leaving it in the organization, with a warning."))
            .attr(Attribute::string("retired_parent_id").optional().description("Where destroy moves the account before forgetting (or after closing) it: the root (default) or an OU id, e.g. a \"Suspended\" OU. Moving it out first lets the OU it was in be destroyed in the same run."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the account, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied, including `default_tags` and the platform ownership tags."))
            .attr(Attribute::string("arn").computed().description("ARN of the account."))
            .attr(Attribute::string("status").computed().description("ACTIVE, SUSPENDED or PENDING_CLOSURE."))
            .attr(Attribute::string("access_role_arn").computed().description("ARN of the role to assume to act inside the account (`assume_role.role_arn` of its stacks)."))
            .block(NestedBlock::at_most_one(
                "timeouts",
                Block::new()
                    .description("How long to wait for AWS.")
                    .attr(Attribute::string("create").optional().description("Account creation, e.g. \"30m\" (default 30m)."))
                    .attr(Attribute::string("delete").optional().description("Account closure when close_on_deletion is set (default 30m).")),
            ));
        Schema::new(0, b)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let mut check = |attr: &str, f: fn(&str) -> Result<(), String>, summary: &str| {
            if let Some(v) = config.get(attr).as_str() {
                if let Err(why) = f(v) {
                    d.error_at(AttributePath::root(attr), summary, format!("{v:?} {why}."));
                }
            }
        };
        check("name", validate::account_name, "Invalid account name");
        check("email", validate::email, "Invalid email address");
        check("parent_id", validate::parent_id, "Invalid parent id");
        check(
            "retired_parent_id",
            validate::parent_id,
            "Invalid parent id",
        );
        check("role_name", validate::role_name, "Invalid role name");
        if let Some(t) = config.get("timeouts").elements().first() {
            for which in ["create", "delete"] {
                if let Some(s) = t.get(which).as_str() {
                    if let Err(why) = validate::duration(s) {
                        d.error_at(
                            AttributePath::root("timeouts").index(0).attr(which),
                            "Invalid timeout",
                            why,
                        );
                    }
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
        d: &mut Diagnostics,
    ) {
        if let (Some(email), Some(name)) =
            (planned.get("email").as_str(), planned.get("name").as_str())
        {
            if let Ok(mut seen) = self.planned_emails.lock() {
                match seen.get(&email.to_ascii_lowercase()) {
                    Some(other) if other != name => d.error_at(
                        AttributePath::root("email"),
                        "Duplicate account email",
                        format!("{email:?} is also the email of account {other:?} in this configuration. Every AWS account needs its own root email."),
                    ),
                    _ => {
                        seen.insert(email.to_ascii_lowercase(), name.to_string());
                    }
                }
            }
        }
        let role = planned.get("role_name").clone();
        let arn = match (&role, req.prior.get("id")) {
            _ if req.is_create() => Value::Unknown,
            (Value::String(r), Value::String(id)) => Value::from(role_arn(&aws.region, id, r)),
            _ => Value::Unknown,
        };
        planned.set_attr("access_role_arn", arn);
        if let Some(root) = api::planned_root_parent(aws.organizations(), req).await {
            planned.set_attr("parent_id", root);
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
        let rd = |e: String| Diagnostics::from_error("Could not read the account", e);
        let a = match c
            .describe_account()
            .account_id(&id)
            .send()
            .await
            .step("DescribeAccount")
        {
            Ok(o) => o,
            Err(e) if e.code() == Some("AccountNotFoundException") => {
                tracing::info!(target: "platform::organization", id, "account is no longer in the organization; removing from state");
                return Ok(None);
            }
            Err(e) => return Err(rd(e.to_string())),
        };
        let Some(a) = a.account() else {
            return Ok(None);
        };
        let (parent, tags_now) = tokio::join!(api::parent(c, &id), api::tags(c, &id));
        let parent = parent.map_err(|e| rd(e.to_string()))?;
        let tags_now = tags_now.map_err(|e| rd(e.to_string()))?;
        let mut s = state.clone();
        s.set_attr("name", Value::opt_string(a.name()));
        s.set_attr("email", Value::opt_string(a.email()));
        s.set_attr("arn", Value::opt_string(a.arn()));
        s.set_attr("status", status_str(a.status()));
        s.set_attr("parent_id", Value::from(parent));
        let role = s
            .get("role_name")
            .as_str()
            .unwrap_or(DEFAULT_ROLE)
            .to_string();
        s.set_attr(
            "access_role_arn",
            Value::from(role_arn(&aws.region, &id, &role)),
        );
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
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let id = prior.get("id").as_str().unwrap_or_default().to_string();
        let name = prior.get("name").as_str().unwrap_or_default();
        let retired = prior.get("retired_parent_id").as_str();
        if !prior.get("close_on_deletion").as_bool().unwrap_or(false) {
            let mut d = Diagnostics::new();
            match Self::retire(aws, &id, retired).await {
                Ok(Some(to)) => d.warning(
                    "Account left in the organization",
                    format!("Account {name:?} ({id}) was moved to {to} and removed from Terraform state only: it still exists in the organization. Set close_on_deletion = true to close accounts on destroy."),
                ),
                Ok(None) => {}
                Err(e) => {
                    return ApplyOutcome::failed(
                        prior.clone(),
                        Diagnostics::from_error(
                            "Could not move the account out before forgetting it",
                            format!("{e}. The account {id} is kept in state; fix the cause (or set retired_parent_id) and destroy again."),
                        ),
                    )
                }
            }
            return ApplyOutcome {
                state: Value::Null,
                diags: d,
            };
        }
        let c = aws.organizations();
        match c
            .close_account()
            .account_id(&id)
            .send()
            .await
            .step("CloseAccount")
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.code(),
                    Some("AccountAlreadyClosedException") | Some("AccountNotFoundException")
                ) => {}
            Err(e) => {
                return ApplyOutcome::failed(
                    prior.clone(),
                    Diagnostics::from_error("Could not close the account", e.to_string()),
                )
            }
        }
        let limit = timeout(prior, "delete", DEFAULT_DELETE_TIMEOUT);
        let r = wait::until("the account to close", limit, &aws.cancel, || async {
            match c
                .describe_account()
                .account_id(&id)
                .send()
                .await
                .step("DescribeAccount")
            {
                Ok(o) => Ok(match o.account().and_then(|a| a.status()) {
                    Some(AccountStatus::Active) => None,
                    _ => Some(()),
                }),
                Err(e) if e.code() == Some("AccountNotFoundException") => Ok(Some(())),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        if let Err(e) = r {
            return ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error("Account closure did not finish", e.to_string()),
            );
        }
        // A closed account stays in the organization (SUSPENDED) until AWS removes it: move
        // it out of the OU too, so the OU can be destroyed.
        match Self::retire(aws, &id, retired).await {
            Ok(_) => ApplyOutcome::ok(Value::Null),
            Err(e) => ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error(
                    "Could not move the closed account out of its OU",
                    format!("{e}. The account {id} is closed and kept in state; destroy again to retry the move."),
                ),
            ),
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        if !platform_aws::config::valid_account_id(id) {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import an account by its 12-digit account id; got {id:?}."),
            ));
        }
        let v = Value::object([
            ("id", Value::from(id)),
            ("role_name", Value::from(DEFAULT_ROLE)),
            ("iam_user_access_to_billing", Value::Bool(true)),
            ("close_on_deletion", Value::Bool(false)),
            // An absent block is an empty list, not null: otherwise the first plan after
            // import shows an invisible change.
            ("timeouts", Value::List(Vec::new())),
        ]);
        self.read(aws, &v).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import: no such account",
                format!("Account {id} is not in this organization."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_points_at_attributes() {
        let cfg = Value::object([
            ("name", Value::from("")),
            ("email", Value::from("not-an-email")),
            ("parent_id", Value::from("ou-x")),
            ("role_name", Value::from("bad role")),
            (
                "timeouts",
                Value::List(vec![Value::object([("create", Value::from("soon"))])]),
            ),
        ]);
        let d = OrgAccount::default().validate(&cfg);
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(
            paths,
            vec![
                "name",
                "email",
                "parent_id",
                "role_name",
                "timeouts[0].create"
            ]
        );
    }

    #[test]
    fn the_listing_finds_by_email_then_by_pending_name() {
        let l = Listing {
            accounts: vec![
                ("aws+dev@example.com".into(), "111111111111".into()),
                ("aws+qa@example.com".into(), "222222222222".into()),
            ],
            pending: vec![("Prod".into(), "car-1".into())],
        };
        // Emails compare without case, as AWS does.
        assert!(
            matches!(l.find("QA", "AWS+QA@example.com"), Found::Account(id) if id == "222222222222")
        );
        // An email match wins over a pending request with the same name.
        assert!(
            matches!(l.find("Prod", "aws+dev@example.com"), Found::Account(id) if id == "111111111111")
        );
        assert!(
            matches!(l.find("Prod", "aws+prod@example.com"), Found::Pending(r) if r == "car-1")
        );
        assert!(matches!(
            l.find("Other", "aws+other@example.com"),
            Found::Nowhere
        ));
    }

    #[tokio::test]
    async fn the_listing_is_taken_once_and_a_failed_one_is_not_kept() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let a = OrgAccount::default();
        let calls = AtomicUsize::new(0);
        let failing = a
            .listing
            .get_or_try_init(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<Listing, _>(StepError::new("ListAccounts", "throttled"))
            })
            .await;
        assert!(failing.is_err());
        // Ten creates at once (Terraform's default parallelism) share one listing.
        let got = futures::future::join_all((0..10).map(|_| {
            a.listing.get_or_try_init(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok::<_, StepError>(Listing::default())
            })
        }))
        .await;
        assert!(got.iter().all(|r| r.is_ok()));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn role_arns_follow_the_partition() {
        assert_eq!(
            role_arn("eu-central-1", "111111111111", DEFAULT_ROLE),
            "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
        );
        assert!(role_arn("cn-north-1", "111111111111", "r").starts_with("arn:aws-cn:"));
    }

    #[test]
    fn timeouts_default() {
        assert_eq!(
            timeout(&Value::Null, "create", DEFAULT_CREATE_TIMEOUT),
            DEFAULT_CREATE_TIMEOUT
        );
        let v = Value::object([(
            "timeouts",
            Value::List(vec![Value::object([("create", Value::from("2m"))])]),
        )]);
        assert_eq!(
            timeout(&v, "create", DEFAULT_CREATE_TIMEOUT),
            Duration::from_secs(120)
        );
    }
}
