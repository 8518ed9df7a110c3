//! CloudFront: the Origin Access Control (sigv4, always sign) through which the distribution
//! reads the private bucket, and the distribution itself. Both are found again by name or by
//! comment (the owner string), so a crash between create and state write is adopted, not
//! duplicated. The distribution's caller reference is deterministic for the same reason.

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, CustomErrorResponse, CustomErrorResponses,
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, HttpVersion, Method,
    MinimumProtocolVersion, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins, PriceClass,
    S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use aws_sdk_cloudfront::Client;
use platform_aws::step::{Step, StepError};
use platform_aws::wait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// AWS's managed "CachingOptimized" cache policy: long TTLs, gzip and brotli, no cookies or
/// query strings in the cache key — what a static SPA wants.
pub const CACHING_OPTIMIZED_POLICY_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// CloudFront's fixed hosted zone id, the target zone of every alias record to a distribution.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

#[derive(Debug, Clone)]
pub struct DesiredDistribution {
    /// The owner string; also the comment and the caller reference.
    pub owner: String,
    pub origin_domain: String,
    pub oac_id: String,
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub price_class: String,
    pub default_root_object: String,
    pub spa_fallback: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedDistribution {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: String,
    pub enabled: bool,
    pub comment: String,
    pub origin_domain: String,
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub price_class: String,
    pub default_root_object: String,
    pub spa_fallback: bool,
    pub https_redirect: bool,
    pub http_version: String,
}

fn origin_id(origin_domain: &str) -> String {
    format!("s3-{origin_domain}")
}

/// The Origin Access Control named `name`, created when missing. Returns its id. OACs carry
/// no tags, so ownership is recorded in the description (which starts with the owner string).
pub async fn ensure_oac(
    cf: &Client,
    name: &str,
    owner: &str,
    description: &str,
) -> Result<String, StepError> {
    if let Some((id, desc)) = find_oac(cf, name).await? {
        if desc.starts_with(owner) {
            return Ok(id);
        }
        return Err(StepError::new(
            "CreateOriginAccessControl",
            format!("an origin access control named {name:?} already exists and is not managed by this frontend; choose another name"),
        ));
    }
    let cfg = OriginAccessControlConfig::builder()
        .name(name)
        .description(description)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .step("CreateOriginAccessControl")?;
    let r = cf
        .create_origin_access_control()
        .origin_access_control_config(cfg)
        .send()
        .await
        .step("CreateOriginAccessControl")?;
    r.origin_access_control()
        .map(|o| o.id().to_string())
        .ok_or_else(|| StepError::new("CreateOriginAccessControl", "no id in the answer"))
}

/// `(id, description)` of the OAC named `name`, if there is one.
pub async fn find_oac(cf: &Client, name: &str) -> Result<Option<(String, String)>, StepError> {
    let mut marker: Option<String> = None;
    loop {
        let r = cf
            .list_origin_access_controls()
            .set_marker(marker.clone())
            .send()
            .await
            .step("ListOriginAccessControls")?;
        let Some(list) = r.origin_access_control_list() else {
            return Ok(None);
        };
        if let Some(o) = list.items().iter().find(|o| o.name() == name) {
            return Ok(Some((o.id().to_string(), o.description().to_string())));
        }
        match list.next_marker() {
            Some(m) if list.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

pub async fn oac_exists(cf: &Client, id: &str) -> Result<bool, StepError> {
    match cf
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .step("GetOriginAccessControl")
    {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("NoSuchOriginAccessControl") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes the OAC; CloudFront refuses while a distribution still uses it, so this runs after
/// the distribution is gone.
pub async fn delete_oac(cf: &Client, id: &str) -> Result<(), StepError> {
    let etag = match cf
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .step("GetOriginAccessControl")
    {
        Ok(r) => r.e_tag().unwrap_or_default().to_string(),
        Err(e) if e.code() == Some("NoSuchOriginAccessControl") => return Ok(()),
        Err(e) => return Err(e),
    };
    match cf
        .delete_origin_access_control()
        .id(id)
        .if_match(etag)
        .send()
        .await
        .step("DeleteOriginAccessControl")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchOriginAccessControl") => Ok(()),
        Err(e) => Err(e),
    }
}

fn price_class(s: &str) -> PriceClass {
    PriceClass::from(s)
}

/// The whole distribution config: HTTPS only (redirect), TLS 1.2 minimum with a certificate,
/// compression, HTTP/2 and HTTP/3, IPv6, the SPA fallback, the OAC-signed S3 origin.
pub fn config(
    d: &DesiredDistribution,
    caller_reference: &str,
    enabled: bool,
) -> Result<DistributionConfig, StepError> {
    let step = "CreateDistribution";
    let methods = || -> Result<AllowedMethods, StepError> {
        AllowedMethods::builder()
            .quantity(2)
            .items(Method::Get)
            .items(Method::Head)
            .cached_methods(
                CachedMethods::builder()
                    .quantity(2)
                    .items(Method::Get)
                    .items(Method::Head)
                    .build()
                    .step(step)?,
            )
            .build()
            .step(step)
    };
    let origin = Origin::builder()
        .id(origin_id(&d.origin_domain))
        .domain_name(&d.origin_domain)
        // With an OAC the legacy OAI field must be present and empty.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(&d.oac_id)
        .build()
        .step(step)?;
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(origin_id(&d.origin_domain))
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(methods()?)
        .compress(true)
        .cache_policy_id(CACHING_OPTIMIZED_POLICY_ID)
        .build()
        .step(step)?;
    let errors: Vec<CustomErrorResponse> = if d.spa_fallback {
        [403, 404]
            .into_iter()
            .map(|c| {
                CustomErrorResponse::builder()
                    .error_code(c)
                    .response_page_path(format!("/{}", d.default_root_object))
                    .response_code("200")
                    .error_caching_min_ttl(10)
                    .build()
                    .step(step)
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let cert = match &d.certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(&d.owner)
        .enabled(enabled)
        .aliases(
            Aliases::builder()
                .quantity(d.aliases.len() as i32)
                .set_items(Some(d.aliases.clone()))
                .build()
                .step(step)?,
        )
        .default_root_object(&d.default_root_object)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .step(step)?,
        )
        .default_cache_behavior(behavior)
        .custom_error_responses(
            CustomErrorResponses::builder()
                .quantity(errors.len() as i32)
                .set_items(Some(errors))
                .build()
                .step(step)?,
        )
        .price_class(price_class(&d.price_class))
        .viewer_certificate(cert)
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .build()
        .step(step)
}

fn observed(
    id: &str,
    arn: &str,
    domain: &str,
    status: &str,
    c: &DistributionConfig,
) -> ObservedDistribution {
    let mut aliases: Vec<String> = c.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
    aliases.sort();
    let errs = c
        .custom_error_responses()
        .map(|e| e.items().to_vec())
        .unwrap_or_default();
    ObservedDistribution {
        id: id.to_string(),
        arn: arn.to_string(),
        domain_name: domain.to_string(),
        status: status.to_string(),
        enabled: c.enabled(),
        comment: c.comment().to_string(),
        origin_domain: c
            .origins()
            .and_then(|o| o.items().first())
            .map(|o| o.domain_name().to_string())
            .unwrap_or_default(),
        aliases,
        certificate_arn: c
            .viewer_certificate()
            .and_then(|v| v.acm_certificate_arn())
            // The default CloudFront certificate reads back as no ARN or an empty one.
            .filter(|arn| !arn.is_empty())
            .map(str::to_string),
        price_class: c
            .price_class()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        default_root_object: c.default_root_object().unwrap_or_default().to_string(),
        spa_fallback: [403, 404].iter().all(|code| {
            errs.iter()
                .any(|e| e.error_code() == *code && e.response_code() == Some("200"))
        }),
        https_redirect: c
            .default_cache_behavior()
            .is_some_and(|b| b.viewer_protocol_policy() == &ViewerProtocolPolicy::RedirectToHttps),
        http_version: c
            .http_version()
            .map(|h| h.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// GetDistribution: `Ok(None)` when it does not exist.
pub async fn observe(cf: &Client, id: &str) -> Result<Option<ObservedDistribution>, StepError> {
    match cf
        .get_distribution()
        .id(id)
        .send()
        .await
        .step("GetDistribution")
    {
        Ok(r) => Ok(r.distribution().and_then(|d| {
            d.distribution_config()
                .map(|c| observed(d.id(), d.arn(), d.domain_name(), d.status(), c))
        })),
        Err(e) if e.code() == Some("NoSuchDistribution") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The id of the distribution whose comment is this resource's owner string, if any.
pub async fn find(cf: &Client, owner: &str) -> Result<Option<String>, StepError> {
    let mut marker: Option<String> = None;
    loop {
        let r = cf
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .step("ListDistributions")?;
        let Some(list) = r.distribution_list() else {
            return Ok(None);
        };
        if let Some(d) = list.items().iter().find(|d| d.comment() == owner) {
            return Ok(Some(d.id().to_string()));
        }
        match list.next_marker() {
            Some(m) if list.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Whether the settings this resource owns differ (OAC ids are not compared: some emulators do
/// not echo them back on the origin).
fn differs(o: &ObservedDistribution, d: &DesiredDistribution) -> bool {
    let mut want = d.aliases.clone();
    want.sort();
    !o.enabled
        || o.aliases != want
        || o.certificate_arn != d.certificate_arn
        || o.price_class != d.price_class
        || o.default_root_object != d.default_root_object
        || o.spa_fallback != d.spa_fallback
        || o.origin_domain != d.origin_domain
        || !o.https_redirect
        || o.http_version != HttpVersion::Http2and3.as_str()
}

/// Creates, adopts or updates the distribution (`known_id` from state first, else by comment).
/// `oac_changed`: the OAC was recreated, so the origin must be rewritten even though the
/// observed config may not show the OAC id.
pub async fn converge(
    cf: &Client,
    known_id: Option<&str>,
    d: &DesiredDistribution,
    oac_changed: bool,
) -> Result<ObservedDistribution, StepError> {
    let mut id = match known_id {
        Some(id) if observe(cf, id).await?.is_some() => Some(id.to_string()),
        _ => None,
    };
    if id.is_none() {
        id = find(cf, &d.owner).await?;
    }
    let Some(id) = id else {
        let tags = d
            .tags
            .iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .step("CreateDistributionWithTags")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let r = cf
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config(d, &d.owner, true)?)
                    .tags(Tags::builder().set_items(Some(tags)).build())
                    .build(),
            )
            .send()
            .await
            .step("CreateDistributionWithTags")?;
        let dist = r.distribution().ok_or_else(|| {
            StepError::new(
                "CreateDistributionWithTags",
                "no distribution in the answer",
            )
        })?;
        let c = dist.distribution_config().ok_or_else(|| {
            StepError::new("CreateDistributionWithTags", "no config in the answer")
        })?;
        return Ok(observed(
            dist.id(),
            dist.arn(),
            dist.domain_name(),
            dist.status(),
            c,
        ));
    };
    let cur = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .step("GetDistributionConfig")?;
    let etag = cur.e_tag().unwrap_or_default().to_string();
    let Some(c) = cur.distribution_config() else {
        return Err(StepError::new(
            "GetDistributionConfig",
            "no config in the answer",
        ));
    };
    let o = observe(cf, &id).await?.unwrap_or_default();
    if oac_changed || differs(&o, d) {
        let new = config(d, c.caller_reference(), true)?;
        cf.update_distribution()
            .id(&id)
            .if_match(etag)
            .distribution_config(new)
            .send()
            .await
            .step("UpdateDistribution")?;
    }
    tag(cf, &o.arn, &d.tags).await?;
    observe(cf, &id)
        .await?
        .ok_or_else(|| StepError::new("GetDistribution", format!("distribution {id} vanished")))
}

async fn tag(cf: &Client, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), StepError> {
    let items = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().step("TagResource"))
        .collect::<Result<Vec<_>, _>>()?;
    cf.tag_resource()
        .resource(arn)
        .tags(Tags::builder().set_items(Some(items)).build())
        .send()
        .await
        .step("TagResource")?;
    Ok(())
}

pub async fn tags(cf: &Client, arn: &str) -> Result<BTreeMap<String, String>, StepError> {
    let r = cf
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .step("ListTagsForResource")?;
    Ok(r.tags()
        .map(|t| {
            t.items()
                .iter()
                .map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Disables the distribution, waits until the change is deployed (CloudFront refuses to delete
/// an enabled or still-deploying distribution), then deletes it.
pub async fn delete(
    cf: &Client,
    id: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), StepError> {
    let cur = match cf
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .step("GetDistributionConfig")
    {
        Ok(c) => c,
        Err(e) if e.code() == Some("NoSuchDistribution") => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut etag = cur.e_tag().unwrap_or_default().to_string();
    if let Some(c) = cur.distribution_config() {
        if c.enabled() {
            let mut off = c.clone();
            off.enabled = false;
            let r = cf
                .update_distribution()
                .id(id)
                .if_match(&etag)
                .distribution_config(off)
                .send()
                .await
                .step("UpdateDistribution")?;
            etag = r.e_tag().unwrap_or_default().to_string();
        }
    }
    let deployed = wait::until(
        "the disabled distribution to deploy",
        timeout,
        cancel,
        || async {
            match observe(cf, id).await? {
                None => Ok(Some(None)),
                Some(o) if o.status == "Deployed" => Ok(Some(Some(()))),
                Some(_) => Ok(None),
            }
        },
    )
    .await
    .map_err(|e: wait::WaitError<StepError>| match e {
        wait::WaitError::Failed(s) => s,
        other => StepError::new("GetDistribution", other.to_string()),
    })?;
    if deployed.is_none() {
        return Ok(());
    }
    match cf
        .delete_distribution()
        .id(id)
        .if_match(etag)
        .send()
        .await
        .step("DeleteDistribution")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchDistribution") => Ok(()),
        Err(e) => Err(e),
    }
}
