//! `platform_state_backend`: the remote-state foundation of an account — a versioned,
//! encrypted, private S3 bucket with a TLS-only policy, and a DynamoDB lock table with
//! SSE and point-in-time recovery. Bucket and table are independent and created
//! concurrently; a part-way failure returns what exists so the next apply resumes.

mod lock_table;
pub(crate) mod s3;
pub(crate) mod validate;

use async_trait::async_trait;
use platform_aws::lost::settle;
/// Re-exported where it used to live: the environment module still imports it from here.
pub use platform_aws::step::StepError;
use platform_aws::{tags, AwsContext};
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, PlanRequest, Resource, Schema,
    Type, Value,
};

pub const TYPE_NAME: &str = "platform_state_backend";
const DEFAULT_NONCURRENT_DAYS: i64 = 90;

pub struct StateBackend;

/// The four guarantees the resource keeps true; read reports reality, plan plans `true`,
/// so switching one off out of band shows as drift and apply repairs it.
const GUARANTEES: &[(&str, &str)] = &[
    (
        "versioning_enabled",
        "Bucket versioning is enabled (always).",
    ),
    (
        "public_access_block_enabled",
        "All four S3 public-access-block settings are on (always).",
    ),
    (
        "bucket_owner_enforced",
        "Object ownership is BucketOwnerEnforced: ACLs are disabled (always).",
    ),
    (
        "point_in_time_recovery_enabled",
        "Point-in-time recovery is enabled on the lock table (always).",
    ),
];

fn backend_config_type() -> Type {
    Type::object([
        ("bucket", Type::String),
        ("region", Type::String),
        ("dynamodb_table", Type::String),
        ("encrypt", Type::Bool),
        ("kms_key_id", Type::String),
    ])
}

/// `backend_config_v1_10`: the settings Terraform 1.10+ wants. The lock is an object beside the
/// state (`use_lockfile`), so no DynamoDB table; with custom endpoints (a local emulator) also the
/// 1.6+ `endpoints` object and `use_path_style`.
fn lockfile_config_type() -> Type {
    Type::object([
        ("bucket", Type::String),
        ("region", Type::String),
        ("use_lockfile", Type::Bool),
        ("encrypt", Type::Bool),
        ("kms_key_id", Type::String),
        ("endpoints", Type::map(Type::String)),
        ("use_path_style", Type::Bool),
    ])
}

/// The `backend_config_v1_10` value for `bucket` and `kms` (unknown while either is).
fn lockfile_config(aws: &AwsContext, bucket: &Value, kms: &Value) -> Value {
    if bucket.is_unknown() || kms.is_unknown() {
        return Value::Unknown;
    }
    let endpoints: std::collections::BTreeMap<String, String> = ["s3", "sts"]
        .into_iter()
        .filter_map(|svc| {
            aws.endpoints
                .for_service(svc)
                .map(|u| (svc.to_string(), u.to_string()))
        })
        .collect();
    let custom = !endpoints.is_empty();
    Value::object([
        ("bucket", bucket.clone()),
        ("region", Value::from(aws.region.clone())),
        ("use_lockfile", Value::Bool(true)),
        ("encrypt", Value::Bool(true)),
        ("kms_key_id", kms.clone()),
        (
            "endpoints",
            if custom {
                Value::string_map(endpoints)
            } else {
                Value::Null
            },
        ),
        (
            "use_path_style",
            if custom {
                Value::Bool(true)
            } else {
                Value::Null
            },
        ),
    ])
}

impl StateBackend {
    fn desired(aws: &AwsContext, v: &Value) -> (s3::DesiredBucket, lock_table::DesiredTable) {
        let bucket = v.get("bucket").as_str().unwrap_or_default().to_string();
        let owner = tags::owner(TYPE_NAME, &bucket);
        let all_tags = tags::merged(
            &aws.default_tags,
            &v.get("tags").to_string_map(),
            TYPE_NAME,
            &bucket,
        );
        let kms = v.get("kms_key_arn").as_str().map(str::to_string);
        (
            s3::DesiredBucket {
                bucket: bucket.clone(),
                region: aws.region.clone(),
                kms_key_arn: kms.clone(),
                require_tls: v.get("require_tls").as_bool().unwrap_or(true),
                noncurrent_days: v
                    .get("noncurrent_version_expiration_days")
                    .as_i64()
                    .unwrap_or(DEFAULT_NONCURRENT_DAYS) as i32,
                tags: all_tags.clone(),
                owner: owner.clone(),
            },
            lock_table::DesiredTable {
                name: v
                    .get("lock_table_name")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                kms_key_arn: kms,
                tags: all_tags,
                owner,
            },
        )
    }

    /// Create, update and resume are one operation: make reality match `planned`.
    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let (bucket, table) = Self::desired(aws, planned);
        let s3c = aws.s3();
        let ddb = aws.dynamodb();
        // The state already holding the bucket (update, import) lets an untagged bucket be adopted.
        let claimed = !prior.is_null() && !prior.get("bucket_arn").is_null();
        let bucket_fut = settle("state bucket", || async {
            s3::create_or_adopt_claimed(s3c, &bucket, claimed).await?;
            s3::converge(s3c, &bucket, &table.name).await
        });
        let table_fut = settle("lock table", || {
            lock_table::converge(ddb, &table, &aws.cancel)
        });
        let (b, t) = tokio::join!(bucket_fut, table_fut);

        let mut state = planned.clone();
        let mut diags = Diagnostics::new();
        let resume = platform_aws::resume::after_failure(
            TYPE_NAME,
            planned.get("bucket").as_str().unwrap_or_default(),
            prior.is_null(),
        );
        match &b {
            Ok(()) => {}
            Err(e) => {
                diags.error(
                    "Could not set up the state bucket",
                    format!("{e}. {resume}"),
                );
                for (g, _) in &GUARANTEES[..3] {
                    state.set_attr(g, Value::Bool(false));
                }
            }
        }
        match &t {
            Ok(arn) => state.set_attr("lock_table_arn", Value::from(arn.clone())),
            Err(e) => {
                diags.error("Could not set up the lock table", format!("{e}. {resume}"));
                state.set_attr("point_in_time_recovery_enabled", Value::Bool(false));
                if state.get("lock_table_arn").is_unknown() {
                    state.set_attr("lock_table_arn", prior.get("lock_table_arn").clone());
                }
            }
        }
        if b.is_err() && t.is_err() && prior.is_null() {
            // Nothing may exist: verify before forgetting, so nothing is orphaned.
            let exists = s3::exists(s3c, &bucket.bucket).await.unwrap_or(true);
            if !exists {
                return ApplyOutcome::failed(Value::Null, diags);
            }
        }
        ApplyOutcome {
            state: state.unknown_as_null(),
            diags,
        }
    }
}

#[async_trait]
impl Resource<AwsContext> for StateBackend {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "bucket",
            "bucket",
            "Name of the state bucket (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new()
            .description("Remote Terraform state for one account: a private, versioned, encrypted S3 bucket with a TLS-only policy, and a DynamoDB lock table with encryption and point-in-time recovery.")
            .attr(Attribute::string("id").computed().description("The bucket name."))
            .attr(Attribute::string("bucket").required().force_new().description("Name of the state bucket (S3 naming rules; globally unique). Changing it replaces the backend."))
            .attr(Attribute::string("lock_table_name").optional().computed().force_new().description("Name of the DynamoDB lock table. Default: `<bucket>-lock`."))
            .attr(Attribute::string("kms_key_arn").optional().description("KMS key for SSE-KMS on the bucket and the table. Default: SSE-S3 (AES256) on the bucket and the AWS-managed key on the table."))
            .attr(Attribute::bool("require_tls").default(true).description("Attach a bucket policy denying any request without TLS. Default `true`."))
            .attr(Attribute::number("noncurrent_version_expiration_days").default(DEFAULT_NONCURRENT_DAYS).description("Days after which old state versions expire (1-3650). Default 90."))
            .attr(Attribute::bool("force_destroy").default(false).description("Allow destroy to delete every state version in the bucket. Default `false`: destroy refuses a non-empty bucket."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the bucket and the table, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied, including `default_tags` and the platform ownership tags."))
            .attr(Attribute::string("region").computed().force_new().description("Region of the bucket and table (the provider's region)."))
            .attr(Attribute::string("bucket_arn").computed().description("ARN of the bucket."))
            .attr(Attribute::string("lock_table_arn").computed().description("ARN of the lock table."))
            .attr(Attribute::new("backend_config", backend_config_type()).computed().description("Ready-to-use settings for a `backend \"s3\"` block on Terraform < 1.10, which locks in the DynamoDB table: `bucket`, `region`, `dynamodb_table`, `encrypt`, `kms_key_id`. (Terraform 1.10+ accepts them too, with a deprecation warning for `dynamodb_table`.)"))
            .attr(Attribute::new("backend_config_v1_10", lockfile_config_type()).computed().description("Ready-to-use settings for a `backend \"s3\"` block on Terraform 1.10 and later, which locks with an object next to the state: `bucket`, `region`, `use_lockfile = true`, `encrypt`, `kms_key_id`; and, only when the provider has custom `endpoints` (a local emulator), `endpoints` (`s3`, `sts`) and `use_path_style = true` (null otherwise). The lock table is not used by this form; keep it while any Terraform < 1.10 uses the backend."));
        for (name, desc) in GUARANTEES {
            b = b.attr(Attribute::bool(name).computed().description(desc));
        }
        Schema::new(0, b)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(b) = config.get("bucket").as_str() {
            if let Err(why) = validate::bucket_name(b) {
                d.error_at(
                    AttributePath::root("bucket"),
                    "Invalid bucket name",
                    format!("Bucket name {b:?} {why}."),
                );
            }
        }
        if let Some(t) = config.get("lock_table_name").as_str() {
            if let Err(why) = validate::table_name(t) {
                d.error_at(
                    AttributePath::root("lock_table_name"),
                    "Invalid table name",
                    format!("Table name {t:?} {why}."),
                );
            }
        }
        if let Some(k) = config.get("kms_key_arn").as_str() {
            if let Err(why) = validate::kms_key_arn(k) {
                d.error_at(
                    AttributePath::root("kms_key_arn"),
                    "Invalid KMS key ARN",
                    format!("{k:?} {why}."),
                );
            }
        }
        let days = config.get("noncurrent_version_expiration_days");
        if let Value::Number(n) = days {
            match n.as_i64() {
                Some(x) if (1..=3650).contains(&x) => {}
                _ => d.error_at(
                    AttributePath::root("noncurrent_version_expiration_days"),
                    "Invalid retention",
                    format!("noncurrent_version_expiration_days must be a whole number of days from 1 to 3650, got {n}."),
                ),
            }
        }
        validate::tags(AttributePath::root("tags"), config.get("tags"), &mut d);
        d
    }

    async fn modify_plan(
        &self,
        aws: &AwsContext,
        req: &PlanRequest,
        planned: &mut Value,
        d: &mut Diagnostics,
    ) {
        let bucket = planned.get("bucket").clone();
        if let Value::String(b) = &bucket {
            if !crate::resources::registry::claim(TYPE_NAME, b, req) {
                d.error_at(
                    AttributePath::root("bucket"),
                    "Duplicate state backend",
                    format!("Another platform_state_backend in this configuration also uses the bucket {b:?}; both would manage the same bucket and lock table. Give each backend its own bucket."),
                );
            }
        }
        if planned.get("lock_table_name").is_null()
            || planned.get("lock_table_name").is_unknown()
                && req.config.get("lock_table_name").is_null()
        {
            let t = match &bucket {
                Value::String(b) => Value::from(format!("{b}-lock")),
                _ => Value::Unknown,
            };
            planned.set_attr("lock_table_name", t);
        }
        planned.set_attr("id", bucket.clone());
        planned.set_attr("region", Value::from(aws.region.clone()));
        let partition = platform_aws::partition(&aws.region);
        planned.set_attr(
            "bucket_arn",
            match &bucket {
                Value::String(b) => Value::from(format!("arn:{partition}:s3:::{b}")),
                _ => Value::Unknown,
            },
        );
        let table = planned.get("lock_table_name").clone();
        if let Value::String(t) = &table {
            if !crate::resources::registry::claim("platform_state_backend.lock_table_name", t, req)
            {
                d.error_at(
                    AttributePath::root("lock_table_name"),
                    "Duplicate lock table",
                    format!("Another platform_state_backend in this configuration also uses the lock table {t:?}; give each backend its own."),
                );
            }
        }
        let table_arn = match (&table, &aws.account_id) {
            _ if !req.prior.is_null()
                && req.prior.get("lock_table_name") == &table
                && !req.prior.get("lock_table_arn").is_null() =>
            {
                req.prior.get("lock_table_arn").clone()
            }
            (Value::String(t), Some(acct)) => Value::from(format!(
                "arn:{partition}:dynamodb:{}:{acct}:table/{t}",
                aws.region
            )),
            _ => Value::Unknown,
        };
        planned.set_attr("lock_table_arn", table_arn);
        let tags_all =
            tags::planned_all(&aws.default_tags, &bucket, planned.get("tags"), TYPE_NAME);
        planned.set_attr("tags_all", tags_all);
        let kms = planned.get("kms_key_arn").clone();
        let backend = if bucket.is_unknown() || table.is_unknown() || kms.is_unknown() {
            Value::Unknown
        } else {
            Value::object([
                ("bucket", bucket),
                ("region", Value::from(aws.region.clone())),
                ("dynamodb_table", table),
                ("encrypt", Value::Bool(true)),
                ("kms_key_id", kms),
            ])
        };
        planned.set_attr("backend_config", backend);
        let lockfile = lockfile_config(aws, planned.get("bucket"), planned.get("kms_key_arn"));
        planned.set_attr("backend_config_v1_10", lockfile);
        for (g, _) in GUARANTEES {
            planned.set_attr(g, Value::Bool(true));
        }
        // A create over a bucket this backend already owns (a failed create that Terraform
        // tainted, or a crash): say what the apply will do with it. One GetBucketTagging.
        if req.is_create() && !d.has_errors() {
            if let Value::String(b) = planned.get("bucket") {
                let owner = tags::owner(TYPE_NAME, b);
                if platform_aws::resume::bucket_owned_by(aws.s3(), b, &owner).await {
                    d.warning(
                        "This state backend already exists in AWS",
                        platform_aws::resume::existing_objects(
                            TYPE_NAME,
                            b,
                            &format!("Bucket {b:?}"),
                        ),
                    );
                }
            }
        }
    }

    async fn create(&self, aws: &AwsContext, planned: &Value) -> ApplyOutcome {
        self.converge(aws, &Value::Null, planned).await
    }

    async fn update(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(aws, prior, planned).await
    }

    async fn read(&self, aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let bucket = state.get("bucket").as_str().unwrap_or_default().to_string();
        let table = state
            .get("lock_table_name")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (b, t) = tokio::join!(
            s3::observe(aws.s3(), &bucket),
            lock_table::observe(aws.dynamodb(), &table)
        );
        let b = b.map_err(|e| {
            Diagnostics::from_error("Could not read the state bucket", e.to_string())
        })?;
        let t =
            t.map_err(|e| Diagnostics::from_error("Could not read the lock table", e.to_string()))?;
        if b.is_none() && t.is_none() {
            tracing::info!(target: "platform::state_backend", bucket, "bucket and lock table are gone; removing from state");
            return Ok(None);
        }
        let mut s = state.clone();
        match &b {
            Some(o) => {
                s.set_attr("versioning_enabled", Value::Bool(o.versioning_enabled));
                s.set_attr(
                    "public_access_block_enabled",
                    Value::Bool(o.public_access_block_enabled),
                );
                s.set_attr("bucket_owner_enforced", Value::Bool(o.owner_enforced));
                s.set_attr("kms_key_arn", Value::opt_string(o.kms_key_arn.clone()));
                s.set_attr("require_tls", Value::Bool(o.tls_policy));
                s.set_attr(
                    "noncurrent_version_expiration_days",
                    o.noncurrent_days
                        .map_or(Value::Null, |d| Value::int(d as i64)),
                );
                let mut all = o.tags.clone();
                all.remove(s3::LOCK_TABLE_TAG);
                let user = tags::user_tags(&all, &aws.default_tags, state.get("tags"));
                let prior_tags = state.get("tags");
                s.set_attr(
                    "tags",
                    if user.is_empty() && prior_tags.is_null() {
                        Value::Null
                    } else {
                        Value::string_map(user)
                    },
                );
                s.set_attr("tags_all", Value::string_map(all));
            }
            None => {
                for (g, _) in &GUARANTEES[..3] {
                    s.set_attr(g, Value::Bool(false));
                }
            }
        }
        match &t {
            Some(o) => {
                s.set_attr("lock_table_arn", Value::from(o.arn.clone()));
                s.set_attr(
                    "point_in_time_recovery_enabled",
                    Value::Bool(o.pitr_enabled),
                );
            }
            None => {
                s.set_attr("lock_table_arn", Value::Null);
                s.set_attr("point_in_time_recovery_enabled", Value::Bool(false));
            }
        }
        let lockfile = lockfile_config(aws, s.get("bucket"), s.get("kms_key_arn"));
        s.set_attr("backend_config_v1_10", lockfile);
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let bucket = prior.get("bucket").as_str().unwrap_or_default();
        let table = prior.get("lock_table_name").as_str().unwrap_or_default();
        let force = prior.get("force_destroy").as_bool().unwrap_or(false);
        let owner = tags::owner(TYPE_NAME, bucket);
        let mut diags = Diagnostics::new();
        // Bucket first: if it refuses (still holds state), the lock table stays too.
        match s3::delete_if_owned(aws.s3(), bucket, &owner, force).await {
            Ok(s3::Removal::NotOurs) => diags.warning(
                "State bucket left in place",
                format!("Bucket {bucket:?} does not carry this resource's owner tag ({owner}), so destroy did not delete it."),
            ),
            Ok(_) => {}
            Err(e) => {
                return ApplyOutcome::failed(
                    prior.clone(),
                    Diagnostics::from_error("Cannot delete the state bucket", e.to_string()),
                )
            }
        }
        match lock_table::delete_if_owned(aws.dynamodb(), table, &owner, &aws.cancel).await {
            Ok(s3::Removal::NotOurs) => diags.warning(
                "Lock table left in place",
                format!("Table {table:?} does not carry this resource's owner tag ({owner}), so destroy did not delete it."),
            ),
            Ok(_) => {}
            Err(e) => {
                let mut s = prior.clone();
                for (g, _) in &GUARANTEES[..3] {
                    s.set_attr(g, Value::Bool(false));
                }
                return ApplyOutcome::failed(
                    s,
                    Diagnostics::from_error("Cannot delete the lock table", e.to_string()),
                );
            }
        }
        ApplyOutcome {
            state: Value::Null,
            diags,
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        if let Err(why) = validate::bucket_name(id) {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import a state backend by its bucket name; {id:?} {why}."),
            ));
        }
        let tags_now = match s3::exists(aws.s3(), id).await {
            Ok(true) => s3::tags(aws.s3(), id)
                .await
                .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?,
            Ok(false) => {
                return Err(Diagnostics::from_error(
                    "Cannot import: no such bucket",
                    format!("No bucket named {id:?} exists in this account and region."),
                ))
            }
            Err(e) => return Err(Diagnostics::from_error("Cannot import", e.to_string())),
        };
        let table = tags_now
            .get(s3::LOCK_TABLE_TAG)
            .cloned()
            .unwrap_or_else(|| format!("{id}-lock"));
        let partition = platform_aws::partition(&aws.region);
        let mut v = Value::object([
            ("id", Value::from(id)),
            ("bucket", Value::from(id)),
            ("lock_table_name", Value::from(table.clone())),
            ("force_destroy", Value::Bool(false)),
            ("region", Value::from(aws.region.clone())),
            (
                "bucket_arn",
                Value::from(format!("arn:{partition}:s3:::{id}")),
            ),
        ]);
        v.set_attr(
            "backend_config",
            Value::object([
                ("bucket", Value::from(id)),
                ("region", Value::from(aws.region.clone())),
                ("dynamodb_table", Value::from(table)),
                ("encrypt", Value::Bool(true)),
                ("kms_key_id", Value::Null),
            ]),
        );
        let read = self.read(aws, &v).await?;
        let mut v = read.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("Bucket {id:?} disappeared during import."),
            )
        })?;
        let kms = v.get("kms_key_arn").clone();
        if let Value::Object(m) = v.get_mut("backend_config") {
            m.insert("kms_key_id".into(), kms);
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
            ("bucket", Value::from("Bad_Name")),
            ("lock_table_name", Value::from("x")),
            ("kms_key_arn", Value::from("alias/foo")),
            ("noncurrent_version_expiration_days", Value::int(0)),
            ("tags", Value::string_map([("aws:x", "y")])),
        ]);
        let d = StateBackend.validate(&cfg);
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(
            paths,
            vec![
                "bucket",
                "lock_table_name",
                "kms_key_arn",
                "noncurrent_version_expiration_days",
                "tags[\"aws:x\"]"
            ]
        );
    }

    #[test]
    fn unknown_values_are_not_validated() {
        let cfg = Value::object([("bucket", Value::Unknown)]);
        assert!(StateBackend.validate(&cfg).is_empty());
    }

    #[test]
    fn schema_has_every_guarantee() {
        let s = StateBackend.schema();
        for (g, _) in GUARANTEES {
            assert!(s
                .block
                .attribute(g)
                .is_some_and(|a| a.computed && !a.optional));
        }
    }
}
