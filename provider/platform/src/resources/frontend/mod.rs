//! `platform_frontend`: a single-page app served from a private S3 bucket through CloudFront,
//! with DNS in Route53. The bucket is never public: CloudFront reads it through an Origin
//! Access Control (AWS's successor to the origin access identity), and the bucket policy
//! grants `s3:GetObject` to this one distribution only (`AWS:SourceArn`).
//!
//! Apply is a three-step DAG: {bucket, OAC, hosted zone} concurrently → distribution →
//! {bucket policy, alias records} concurrently. Delete runs it backwards.

mod bucket;
mod cdn;
mod dns;
mod validate;

use async_trait::async_trait;
use platform_aws::lost::settle;
use platform_aws::partition;
use platform_aws::policy::{parse_document, same_document};
use platform_aws::step::StepError;
use platform_aws::{tags, AwsContext};
use std::time::Duration;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, PlanRequest, Resource, Schema,
    Value,
};

pub const TYPE_NAME: &str = "platform_frontend";
const DEFAULT_PRICE_CLASS: &str = "PriceClass_100";
/// How long delete waits for a disabled distribution to finish deploying (real AWS: minutes).
const DISTRIBUTION_DEPLOY_TIMEOUT: Duration = Duration::from_secs(45 * 60);

const GUARANTEES: &[(&str, &str)] = &[
    (
        "public_access_block_enabled",
        "All four S3 public-access-block settings are on (always).",
    ),
    (
        "bucket_owner_enforced",
        "Object ownership is BucketOwnerEnforced: ACLs are disabled (always).",
    ),
    (
        "versioning_enabled",
        "Bucket versioning is enabled (always): a bad deploy can be rolled back.",
    ),
    (
        "records_in_place",
        "Every alias has its A and AAAA alias records to the distribution.",
    ),
];

pub struct Frontend;

fn str_attr(v: &Value, a: &str) -> Option<String> {
    v.get(a).as_str().map(str::to_string)
}

fn aliases(v: &Value) -> Vec<String> {
    let mut a: Vec<String> = v
        .get("aliases")
        .elements()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    a.sort();
    a
}

fn sync_command(bucket: &str) -> String {
    format!("aws s3 sync ./dist s3://{bucket} --delete")
}

fn invalidation_command(id: &str) -> String {
    format!("aws cloudfront create-invalidation --distribution-id {id} --paths '/*'")
}

fn origin_domain(bucket: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{bucket}.s3.{region}.{suffix}")
}

impl Frontend {
    fn zone_caller_reference(name: &str, zone: &str) -> String {
        format!("{}/{zone}", tags::owner(TYPE_NAME, name))
    }

    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let mut state = planned.clone();
        let mut diags = Diagnostics::new();
        let (Some(name), Some(bkt)) = (str_attr(planned, "name"), str_attr(planned, "bucket_name"))
        else {
            return ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error(
                    "Incomplete configuration at apply time",
                    "name or bucket_name is unknown during apply; this is a bug in the provider.",
                ),
            );
        };
        let owner = tags::owner(TYPE_NAME, &name);
        let all_tags = tags::merged(
            &aws.default_tags,
            &planned.get("tags").to_string_map(),
            TYPE_NAME,
            &name,
        );
        let resume = platform_aws::resume::after_failure(TYPE_NAME, &name, prior.is_null());

        // 1. Bucket, OAC and zone: independent.
        let zone_fut = async {
            if let Some(id) = str_attr(planned, "hosted_zone_id") {
                let id = dns::bare_zone_id(&id);
                return match dns::observe(aws.route53(), &id).await? {
                    Some(_) => Ok(Some(id)),
                    None => Err(StepError::new(
                        "GetHostedZone",
                        format!("hosted zone {id} does not exist"),
                    )),
                };
            }
            match str_attr(planned, "zone_name") {
                Some(z) => {
                    let reference = Self::zone_caller_reference(&name, &z);
                    settle("hosted zone", || {
                        dns::ensure_zone(aws.route53(), &z, &reference, &owner)
                    })
                    .await
                    .map(Some)
                }
                None => Ok(None),
            }
        };
        let oac_description = format!("{owner}: CloudFront reads s3://{bkt}");
        let (b, oac, zone) = tokio::join!(
            settle("bucket", || bucket::converge(
                aws.s3(),
                &bkt,
                &aws.region,
                &owner,
                &all_tags
            )),
            settle("origin access control", || cdn::ensure_oac(
                aws.cloudfront(),
                &name,
                &owner,
                &oac_description
            )),
            zone_fut,
        );
        if let Err(e) = &b {
            diags.error("Could not set up the bucket", format!("{e}. {resume}"));
            for g in [
                "public_access_block_enabled",
                "bucket_owner_enforced",
                "versioning_enabled",
            ] {
                state.set_attr(g, Value::Bool(false));
            }
        }
        match &oac {
            Ok(id) => state.set_attr("origin_access_control_id", Value::from(id.clone())),
            Err(e) => diags.error(
                "Could not set up the origin access control",
                format!("{e}. {resume}"),
            ),
        }
        match &zone {
            Ok(Some(id)) => state.set_attr("zone_id", Value::from(id.clone())),
            Ok(None) => state.set_attr("zone_id", Value::Null),
            Err(e) => {
                diags.error("Could not set up the hosted zone", format!("{e}. {resume}"));
                state.set_attr("records_in_place", Value::Bool(false));
            }
        }
        if let Ok(Some(z)) = &zone {
            match dns::observe(aws.route53(), z).await {
                Ok(Some(o)) => state.set_attr(
                    "name_servers",
                    Value::List(o.name_servers.into_iter().map(Value::from).collect()),
                ),
                Ok(None) => {}
                Err(e) => diags.error("Could not read the hosted zone", e.to_string()),
            }
        }

        // 2. The distribution needs the OAC (and the bucket as its origin).
        let mut dist = None;
        if let (Ok(()), Ok(oac_id)) = (&b, &oac) {
            let desired = cdn::DesiredDistribution {
                owner: owner.clone(),
                origin_domain: origin_domain(&bkt, &aws.region),
                oac_id: oac_id.clone(),
                aliases: aliases(planned),
                certificate_arn: str_attr(planned, "certificate_arn"),
                price_class: str_attr(planned, "price_class")
                    .unwrap_or_else(|| DEFAULT_PRICE_CLASS.into()),
                default_root_object: str_attr(planned, "default_root_object")
                    .unwrap_or_else(|| "index.html".into()),
                spa_fallback: planned.get("spa_fallback").as_bool().unwrap_or(true),
                tags: all_tags.clone(),
            };
            let known = str_attr(prior, "distribution_id");
            let oac_changed = !prior.is_null()
                && str_attr(prior, "origin_access_control_id").as_deref() != Some(oac_id.as_str());
            let converged = settle("distribution", || {
                cdn::converge(aws.cloudfront(), known.as_deref(), &desired, oac_changed)
            })
            .await;
            match converged {
                Ok(o) => {
                    state.set_attr("id", Value::from(o.id.clone()));
                    state.set_attr("distribution_id", Value::from(o.id.clone()));
                    state.set_attr("distribution_arn", Value::from(o.arn.clone()));
                    state.set_attr("domain_name", Value::from(o.domain_name.clone()));
                    state.set_attr(
                        "invalidation_command",
                        Value::from(invalidation_command(&o.id)),
                    );
                    dist = Some(o);
                }
                Err(e) => diags.error(
                    "Could not set up the CloudFront distribution",
                    format!("{e}. {resume}"),
                ),
            }
        }

        // 3. The bucket policy and the records need the distribution.
        match &dist {
            Some(o) => {
                let policy = bucket::policy(
                    partition(&aws.region),
                    &bkt,
                    &o.arn,
                    planned.get("require_tls").as_bool().unwrap_or(true),
                );
                let removed: Vec<String> = aliases(prior)
                    .into_iter()
                    .filter(|a| !aliases(planned).contains(a))
                    .collect();
                let records = async {
                    match &zone {
                        Ok(Some(z)) => {
                            dns::converge(
                                aws.route53(),
                                z,
                                &aliases(planned),
                                &removed,
                                &o.domain_name,
                            )
                            .await
                        }
                        _ => Ok(()),
                    }
                };
                let (p, r) = tokio::join!(bucket::put_policy(aws.s3(), &bkt, &policy), records);
                match p {
                    Ok(()) => state.set_attr("bucket_policy", Value::from(policy.to_string())),
                    Err(e) => {
                        diags.error("Could not set the bucket policy", format!("{e}. {resume}"));
                        state.set_attr("bucket_policy", Value::Null);
                    }
                }
                if let Err(e) = r {
                    diags.error("Could not create the DNS records", format!("{e}. {resume}"));
                    state.set_attr("records_in_place", Value::Bool(false));
                }
            }
            None => {
                state.set_attr("bucket_policy", Value::Null);
                state.set_attr("records_in_place", Value::Bool(false));
                for a in [
                    "id",
                    "distribution_id",
                    "distribution_arn",
                    "domain_name",
                    "invalidation_command",
                ] {
                    if state.get(a).is_unknown() {
                        state.set_attr(a, prior.get(a).clone());
                    }
                }
            }
        }
        let state = state.unknown_as_null();
        if diags.has_errors() && prior.is_null() && b.is_err() && oac.is_err() && dist.is_none() {
            let bucket_gone = matches!(bucket::exists(aws.s3(), &bkt).await, Ok(false));
            let zone_none = !matches!(zone, Ok(Some(_)));
            if bucket_gone && zone_none {
                return ApplyOutcome::failed(Value::Null, diags);
            }
        }
        ApplyOutcome { state, diags }
    }
}

#[async_trait]
impl Resource<AwsContext> for Frontend {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "distribution_id",
            "id",
            "The CloudFront distribution id (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new()
            .description("A single-page app behind CloudFront: a private, versioned, encrypted S3 bucket read only through an Origin Access Control by this distribution, a distribution (HTTPS redirect, TLS 1.2 with a certificate, compression, HTTP/2 and HTTP/3, SPA fallback) and Route53 alias records.")
            .attr(Attribute::string("id").computed().description("The distribution id."))
            .attr(Attribute::string("name").required().force_new().description("Name of the frontend: names the origin access control and, by default, the bucket. Changing it replaces everything."))
            .attr(Attribute::string("bucket_name").optional().computed().force_new().description("Name of the origin bucket (S3 rules, no dots). Default: `name`."))
            .attr(Attribute::string_set("aliases").optional().description("Domain names served (e.g. `www.your-app.com`); each gets A and AAAA alias records. Needs `certificate_arn` and a zone. Updated in place."))
            .attr(Attribute::string("certificate_arn").optional().description("ACM certificate (us-east-1) covering the aliases; TLS 1.2_2021 minimum. Default: the CloudFront certificate. Updated in place."))
            .attr(Attribute::string("price_class").default(DEFAULT_PRICE_CLASS).description("PriceClass_100, PriceClass_200 or PriceClass_All. Default PriceClass_100. Updated in place."))
            .attr(Attribute::string("default_root_object").default("index.html").description("Object served for `/`. Default `index.html`."))
            .attr(Attribute::bool("spa_fallback").default(true).description("Answer 403 and 404 with `/<default_root_object>` and status 200, so client-side routes work. Default true."))
            .attr(Attribute::string("hosted_zone_id").optional().description("An existing Route53 zone for the alias records. Conflicts with `zone_name`."))
            .attr(Attribute::string("zone_name").optional().force_new().description("Create a public hosted zone with this name for the alias records (its name servers are in `name_servers`). Conflicts with `hosted_zone_id`."))
            .attr(Attribute::bool("require_tls").default(true).description("Add a bucket-policy statement denying any request without TLS. Default true."))
            .attr(Attribute::bool("force_destroy").default(false).description("Let destroy delete the site's files with the bucket. Default false: destroy refuses a non-empty bucket."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the bucket and the distribution, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied."))
            .attr(Attribute::string("bucket_arn").computed().description("ARN of the bucket."))
            .attr(Attribute::string("bucket_regional_domain_name").computed().description("The bucket's regional endpoint, the distribution's origin."))
            .attr(Attribute::string("origin_access_control_id").computed().description("Id of the origin access control."))
            .attr(Attribute::string("distribution_id").computed().description("Id of the distribution."))
            .attr(Attribute::string("distribution_arn").computed().description("ARN of the distribution."))
            .attr(Attribute::string("domain_name").computed().description("The distribution's domain name (`d111111abcdef8.cloudfront.net`)."))
            .attr(Attribute::string("zone_id").computed().description("Id of the hosted zone holding the records."))
            .attr(Attribute::string_list("name_servers").computed().description("Name servers of the hosted zone (delegate the domain to them)."))
            .attr(Attribute::string("bucket_policy").computed().description("The bucket policy (JSON)."))
            .attr(Attribute::string("sync_command").computed().description("The command the frontend pipeline runs to publish `./dist`."))
            .attr(Attribute::string("invalidation_command").computed().description("The command the frontend pipeline runs after a sync."));
        for (name, desc) in GUARANTEES {
            b = b.attr(Attribute::bool(name).computed().description(desc));
        }
        Schema::new(0, b)
    }

    fn validate(&self, c: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let root = AttributePath::root;
        if let Some(s) = c.get("name").as_str() {
            d.check(root("name"), "Invalid name", s, validate::name(s));
        }
        if let Some(s) = c.get("bucket_name").as_str() {
            d.check(
                root("bucket_name"),
                "Invalid bucket name",
                s,
                validate::bucket(s),
            );
        }
        if let Some(s) = c.get("certificate_arn").as_str() {
            d.check(
                root("certificate_arn"),
                "Invalid certificate ARN",
                s,
                validate::certificate_arn(s),
            );
        }
        if let Some(s) = c.get("price_class").as_str() {
            if !validate::PRICE_CLASSES.contains(&s) {
                d.error_at(
                    root("price_class"),
                    "Invalid price class",
                    format!(
                        "{s:?} is not one of {}.",
                        validate::PRICE_CLASSES.join(", ")
                    ),
                );
            }
        }
        if let Some(s) = c.get("default_root_object").as_str() {
            d.check(
                root("default_root_object"),
                "Invalid default root object",
                s,
                validate::root_object(s),
            );
        }
        if let Some(s) = c.get("hosted_zone_id").as_str() {
            d.check(
                root("hosted_zone_id"),
                "Invalid hosted zone id",
                s,
                validate::hosted_zone_id(s),
            );
        }
        let zone = c.get("zone_name").as_str();
        if let Some(s) = zone {
            d.check(
                root("zone_name"),
                "Invalid zone name",
                s,
                validate::hostname(s, false),
            );
        }
        // Only two known values conflict: inside a module, an unset input is unknown at validate time.
        if c.get("zone_name").as_str().is_some() && c.get("hosted_zone_id").as_str().is_some() {
            d.error_at(root("zone_name"), "Conflicting zone settings", "Set either zone_name (a zone is created) or hosted_zone_id (an existing zone is used), not both.");
        }
        let al = c.get("aliases");
        for (i, a) in al.elements().iter().enumerate() {
            if let Some(s) = a.as_str() {
                let p = root("aliases").index(i as i64);
                d.check(p.clone(), "Invalid alias", s, validate::hostname(s, true));
                if let Some(z) = zone.filter(|z| validate::hostname(z, false).is_ok()) {
                    if !validate::in_zone(s, z) {
                        d.error_at(p, "Alias outside the zone", format!("{s:?} is not inside zone_name {z:?}, so its records cannot be created there."));
                    }
                }
            }
        }
        if !al.elements().is_empty() {
            if c.get("certificate_arn").is_null() {
                d.error_at(root("certificate_arn"), "Aliases need a certificate", "CloudFront serves aliases only with an ACM certificate (us-east-1) that covers them; set certificate_arn.");
            }
            if c.get("zone_name").is_null() && c.get("hosted_zone_id").is_null() {
                d.error_at(root("aliases"), "Aliases need a zone", "Set hosted_zone_id (an existing zone) or zone_name (a new zone) for the aliases' A and AAAA records.");
            }
        }
        tags::reserved_keys(root("tags"), c.get("tags"), &mut d);
        d
    }

    async fn modify_plan(
        &self,
        aws: &AwsContext,
        req: &PlanRequest,
        planned: &mut Value,
        d: &mut Diagnostics,
    ) {
        let prior = &req.prior;
        if planned.get("bucket_name").is_unknown() && req.config.get("bucket_name").is_null() {
            let b = planned.get("name").clone();
            planned.set_attr("bucket_name", b);
        }
        let bkt = str_attr(planned, "bucket_name");
        let p = partition(&aws.region);
        planned.set_attr(
            "bucket_arn",
            bkt.as_ref()
                .map_or(Value::Unknown, |b| Value::from(format!("arn:{p}:s3:::{b}"))),
        );
        planned.set_attr(
            "bucket_regional_domain_name",
            bkt.as_ref().map_or(Value::Unknown, |b| {
                Value::from(origin_domain(b, &aws.region))
            }),
        );
        planned.set_attr(
            "sync_command",
            bkt.as_ref()
                .map_or(Value::Unknown, |b| Value::from(sync_command(b))),
        );
        // Ids of objects that exist stay; one that is gone (null after read) will be recreated.
        for a in [
            "id",
            "distribution_id",
            "distribution_arn",
            "domain_name",
            "origin_access_control_id",
        ] {
            if prior.get(a).is_null() {
                planned.set_attr(a, Value::Unknown);
            } else {
                planned.set_attr(a, prior.get(a).clone());
            }
        }
        planned.set_attr(
            "invalidation_command",
            str_attr(planned, "distribution_id")
                .map_or(Value::Unknown, |id| Value::from(invalidation_command(&id))),
        );
        let (zid, zname) = (
            planned.get("hosted_zone_id").clone(),
            planned.get("zone_name").clone(),
        );
        let zone_same = !prior.is_null()
            && prior.get("hosted_zone_id") == &zid
            && prior.get("zone_name") == &zname
            && !prior.get("zone_id").is_null();
        let (zone_id, ns) = if zid.is_null() && zname.is_null() {
            (Value::Null, Value::Null)
        } else if zone_same {
            (
                prior.get("zone_id").clone(),
                prior.get("name_servers").clone(),
            )
        } else if let Some(z) = zid.as_str() {
            (Value::from(dns::bare_zone_id(z)), Value::Unknown)
        } else {
            (Value::Unknown, Value::Unknown)
        };
        planned.set_attr("zone_id", zone_id);
        planned.set_attr("name_servers", ns);
        let policy = match (
            &bkt,
            str_attr(planned, "distribution_arn"),
            planned.get("require_tls").as_bool(),
        ) {
            (Some(b), Some(arn), Some(tls)) => {
                let want = bucket::policy(p, b, &arn, tls);
                match prior.get("bucket_policy").as_str() {
                    Some(have) if same_document(have, &want) => Value::from(have),
                    _ => Value::from(want.to_string()),
                }
            }
            _ => Value::Unknown,
        };
        planned.set_attr("bucket_policy", policy);
        let tags_all = tags::planned_all(
            &aws.default_tags,
            planned.get("name"),
            planned.get("tags"),
            TYPE_NAME,
        );
        planned.set_attr("tags_all", tags_all);
        for (g, _) in GUARANTEES {
            planned.set_attr(g, Value::Bool(true));
        }
        // A create over a bucket this frontend already owns (a failed create that Terraform
        // tainted, or a crash): say what the apply will do with it. One GetBucketTagging.
        if req.is_create() && !d.has_errors() {
            if let (Some(name), Some(b)) = (str_attr(planned, "name"), &bkt) {
                let owner = tags::owner(TYPE_NAME, &name);
                if platform_aws::resume::bucket_owned_by(aws.s3(), b, &owner).await {
                    d.warning(
                        "This frontend already exists in AWS",
                        platform_aws::resume::existing_objects(
                            TYPE_NAME,
                            &name,
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
        fn err(what: &'static str) -> impl Fn(StepError) -> Diagnostics {
            move |e| Diagnostics::from_error(format!("Could not read the {what}"), e.to_string())
        }
        let bkt = str_attr(state, "bucket_name").unwrap_or_default();
        let dist_id = str_attr(state, "distribution_id");
        let oac_id = str_attr(state, "origin_access_control_id");
        let zone_id = str_attr(state, "zone_id");
        let (b, pol, dist, oac, zone) = tokio::join!(
            bucket::observe(aws.s3(), &bkt),
            bucket::get_policy(aws.s3(), &bkt),
            async {
                match &dist_id {
                    Some(id) => cdn::observe(aws.cloudfront(), id).await,
                    None => Ok(None),
                }
            },
            async {
                match &oac_id {
                    Some(id) => cdn::oac_exists(aws.cloudfront(), id).await,
                    None => Ok(false),
                }
            },
            async {
                match &zone_id {
                    Some(id) => dns::observe(aws.route53(), id).await,
                    None => Ok(None),
                }
            },
        );
        let (b, pol, dist, oac, zone) = (
            b.map_err(err("bucket"))?,
            pol.map_err(err("bucket policy"))?,
            dist.map_err(err("distribution"))?,
            oac.map_err(err("origin access control"))?,
            zone.map_err(err("hosted zone"))?,
        );
        if b.is_none() && dist.is_none() && !oac {
            tracing::info!(target: "platform::frontend", bucket = bkt, "bucket, distribution and OAC are gone; removing from state");
            return Ok(None);
        }
        let mut s = state.clone();
        match &b {
            Some(o) => {
                s.set_attr(
                    "public_access_block_enabled",
                    Value::Bool(o.public_access_block_enabled),
                );
                s.set_attr("bucket_owner_enforced", Value::Bool(o.owner_enforced));
                s.set_attr("versioning_enabled", Value::Bool(o.versioning_enabled));
                let user = tags::user_tags(&o.tags, &aws.default_tags, state.get("tags"));
                s.set_attr(
                    "tags",
                    if user.is_empty() && state.get("tags").is_null() {
                        Value::Null
                    } else {
                        Value::string_map(user)
                    },
                );
                s.set_attr("tags_all", Value::string_map(o.tags.clone()));
            }
            None => {
                for g in [
                    "public_access_block_enabled",
                    "bucket_owner_enforced",
                    "versioning_enabled",
                ] {
                    s.set_attr(g, Value::Bool(false));
                }
            }
        }
        s.set_attr(
            "bucket_policy",
            match (pol, state.get("bucket_policy").as_str()) {
                (None, _) => Value::Null,
                (Some(have), Some(mine))
                    if parse_document(mine).is_some_and(|m| same_document(&have, &m)) =>
                {
                    Value::from(mine)
                }
                (Some(have), _) => Value::from(have),
            },
        );
        if !oac {
            s.set_attr("origin_access_control_id", Value::Null);
        }
        match &dist {
            Some(o) => {
                s.set_attr("domain_name", Value::from(o.domain_name.clone()));
                s.set_attr("distribution_arn", Value::from(o.arn.clone()));
                let prior_aliases = state.get("aliases");
                s.set_attr(
                    "aliases",
                    if o.aliases.is_empty() && prior_aliases.is_null() {
                        Value::Null
                    } else {
                        Value::Set(o.aliases.iter().cloned().map(Value::from).collect())
                    },
                );
                s.set_attr(
                    "certificate_arn",
                    Value::opt_string(o.certificate_arn.clone()),
                );
                s.set_attr("price_class", Value::from(o.price_class.clone()));
                s.set_attr(
                    "default_root_object",
                    Value::from(o.default_root_object.clone()),
                );
                s.set_attr("spa_fallback", Value::Bool(o.spa_fallback));
            }
            None => {
                for a in [
                    "id",
                    "distribution_id",
                    "distribution_arn",
                    "domain_name",
                    "invalidation_command",
                ] {
                    s.set_attr(a, Value::Null);
                }
            }
        }
        let want = aliases(&s);
        match &zone {
            Some(z) => {
                s.set_attr(
                    "name_servers",
                    Value::List(z.name_servers.iter().cloned().map(Value::from).collect()),
                );
                let all = want.iter().all(|a| {
                    ["A", "AAAA"].iter().all(|t| {
                        z.alias_records
                            .iter()
                            .any(|(n, ty)| dns::fqdn_eq(n, a) && ty == t)
                    })
                });
                s.set_attr("records_in_place", Value::Bool(all));
            }
            None => {
                if zone_id.is_some() {
                    s.set_attr("zone_id", Value::Null);
                }
                s.set_attr("records_in_place", Value::Bool(want.is_empty()));
            }
        }
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let bkt = str_attr(prior, "bucket_name").unwrap_or_default();
        let force = prior.get("force_destroy").as_bool().unwrap_or(false);
        let fail = |s: &Value, summary: &str, e: StepError| {
            ApplyOutcome::failed(
                s.clone(),
                Diagnostics::from_error(summary.to_string(), e.to_string()),
            )
        };
        // Only a bucket carrying this resource's owner tag is deleted: after a create that was
        // refused because the name was taken, state names someone else's bucket.
        let owner = tags::owner(
            TYPE_NAME,
            str_attr(prior, "name").as_deref().unwrap_or_default(),
        );
        let bucket_ours = match bucket::exists(aws.s3(), &bkt).await {
            Ok(true) => match bucket::tags(aws.s3(), &bkt).await {
                Ok(t) => t.get(tags::OWNER_KEY) == Some(&owner),
                Err(e) => return fail(prior, "Cannot read the bucket's tags", e),
            },
            Ok(false) => false,
            Err(e) => return fail(prior, "Cannot check the bucket", e),
        };
        if !bucket_ours {
            tracing::info!(target: "platform::frontend", bucket = bkt, "bucket is absent or not owned by this resource; leaving it alone");
        }
        // Refuse up front, before anything is torn down, when the bucket still holds the site.
        if !force
            && bucket_ours
            && matches!(
                platform_aws::s3::holds_objects(aws.s3(), &bkt).await,
                Ok(true)
            )
        {
            return fail(
                prior,
                "Cannot delete the frontend",
                StepError::new("DeleteBucket", bucket::non_empty(&bkt)),
            );
        }
        let mut s = prior.clone();
        let zone = str_attr(prior, "zone_id");
        if let (Some(z), Some(target)) = (&zone, str_attr(prior, "domain_name")) {
            if let Err(e) = dns::delete_records(aws.route53(), z, &aliases(prior), &target).await {
                return fail(&s, "Cannot delete the DNS records", e);
            }
            s.set_attr("records_in_place", Value::Bool(false));
        }
        if let Some(id) = str_attr(prior, "distribution_id") {
            if let Err(e) = cdn::delete(
                aws.cloudfront(),
                &id,
                DISTRIBUTION_DEPLOY_TIMEOUT,
                &aws.cancel,
            )
            .await
            {
                return fail(&s, "Cannot delete the CloudFront distribution", e);
            }
            for a in ["distribution_id", "distribution_arn", "domain_name"] {
                s.set_attr(a, Value::Null);
            }
        }
        if let Some(id) = str_attr(prior, "origin_access_control_id") {
            if let Err(e) = cdn::delete_oac(aws.cloudfront(), &id).await {
                return fail(&s, "Cannot delete the origin access control", e);
            }
            s.set_attr("origin_access_control_id", Value::Null);
        }
        if bucket_ours {
            if let Err(e) = bucket::delete(aws.s3(), &bkt, force).await {
                return fail(&s, "Cannot delete the bucket", e);
            }
        }
        // Only a zone this resource created is deleted; a given one is left alone.
        if let (Some(z), false) = (&zone, prior.get("zone_name").is_null()) {
            if let Err(e) = dns::delete_zone(aws.route53(), z).await {
                return fail(&s, "Cannot delete the hosted zone", e);
            }
        }
        ApplyOutcome::ok(Value::Null)
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        let cannot = |e: StepError| Diagnostics::from_error("Cannot import", e.to_string());
        let Some(o) = cdn::observe(aws.cloudfront(), id).await.map_err(cannot)? else {
            return Err(Diagnostics::from_error("Cannot import: no such distribution", format!("Import a frontend by its CloudFront distribution id; no distribution {id:?} exists.")));
        };
        let t = cdn::tags(aws.cloudfront(), &o.arn).await.map_err(cannot)?;
        let name = t
            .get(tags::OWNER_KEY)
            .and_then(|v| v.strip_prefix(&format!("{TYPE_NAME}/")))
            .map(str::to_string)
            .or_else(|| {
                o.comment
                    .strip_prefix(&format!("{TYPE_NAME}/"))
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                Diagnostics::from_error(
                    "Cannot import",
                    format!(
                        "Distribution {id} was not created by platform_frontend (no {} tag).",
                        tags::OWNER_KEY
                    ),
                )
            })?;
        let bkt = o
            .origin_domain
            .split(".s3.")
            .next()
            .unwrap_or_default()
            .to_string();
        let owner = tags::owner(TYPE_NAME, &name);
        let oac = cdn::find_oac(aws.cloudfront(), &name)
            .await
            .map_err(cannot)?
            .filter(|(_, desc)| desc.starts_with(&owner))
            .map(|(id, _)| id);
        // The records' zone: the closest zone enclosing the first alias. Recorded as a given zone
        // (hosted_zone_id), so destroying the imported frontend never deletes a zone.
        let mut zone = None;
        if let Some(first) = o.aliases.first() {
            let labels: Vec<&str> = first.trim_start_matches("*.").split('.').collect();
            for i in 0..labels.len().saturating_sub(1) {
                if let Some(z) = dns::find_zone(aws.route53(), &labels[i..].join("."), None)
                    .await
                    .map_err(cannot)?
                {
                    zone = Some(z);
                    break;
                }
            }
        }
        let v = Value::object([
            ("id", Value::from(id)),
            ("name", Value::from(name)),
            ("bucket_name", Value::from(bkt.clone())),
            ("require_tls", Value::Bool(true)),
            ("force_destroy", Value::Bool(false)),
            ("hosted_zone_id", Value::opt_string(zone.clone())),
            ("zone_id", Value::opt_string(zone)),
            ("distribution_id", Value::from(id)),
            ("origin_access_control_id", Value::opt_string(oac)),
            (
                "bucket_arn",
                Value::from(format!("arn:{}:s3:::{bkt}", partition(&aws.region))),
            ),
            (
                "bucket_regional_domain_name",
                Value::from(origin_domain(&bkt, &aws.region)),
            ),
            ("sync_command", Value::from(sync_command(&bkt))),
            (
                "invalidation_command",
                Value::from(invalidation_command(id)),
            ),
        ]);
        let mut v = self.read(aws, &v).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("Distribution {id} disappeared during import."),
            )
        })?;
        let tls = v
            .get("bucket_policy")
            .as_str()
            .is_some_and(|p| p.contains("aws:SecureTransport"));
        v.set_attr("require_tls", Value::Bool(tls));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_points_at_attributes() {
        let cfg = Value::object([
            ("name", Value::from("Web")),
            ("bucket_name", Value::from("a.b.c")),
            (
                "aliases",
                Value::Set(vec![Value::from("www.other.com"), Value::from("Bad")]),
            ),
            ("zone_name", Value::from("your-app.com")),
            ("hosted_zone_id", Value::from("Z123")),
            ("price_class", Value::from("PriceClass_1")),
            ("default_root_object", Value::from("/index.html")),
            ("tags", Value::string_map([("platform:x", "y")])),
        ]);
        let d = Frontend.validate(&cfg);
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
                .collect();
        for want in [
            "name",
            "bucket_name",
            "price_class",
            "default_root_object",
            "zone_name",
            "aliases[0]",
            "aliases[1]",
            "certificate_arn",
            "tags[\"platform:x\"]",
        ] {
            assert!(
                paths.contains(&want.to_string()),
                "missing {want} in {paths:?}"
            );
        }
    }

    #[test]
    fn a_good_config_validates() {
        let cfg = Value::object([
            ("name", Value::from("web-app")),
            ("aliases", Value::Set(vec![Value::from("www.your-app.com")])),
            ("zone_name", Value::from("your-app.com")),
            (
                "certificate_arn",
                Value::from("arn:aws:acm:us-east-1:111111111111:certificate/abc"),
            ),
        ]);
        assert!(Frontend.validate(&cfg).is_empty());
    }

    #[test]
    fn bucket_policy_is_scoped_to_the_distribution() {
        let p = bucket::policy(
            "aws",
            "web",
            "arn:aws:cloudfront::111111111111:distribution/E1",
            true,
        );
        let s = &p["Statement"][0];
        assert_eq!(s["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(
            s["Condition"]["StringEquals"]["AWS:SourceArn"],
            "arn:aws:cloudfront::111111111111:distribution/E1"
        );
        assert_eq!(p["Statement"][1]["Effect"], "Deny");
        assert_eq!(
            bucket::policy("aws", "web", "x", false)["Statement"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
}
