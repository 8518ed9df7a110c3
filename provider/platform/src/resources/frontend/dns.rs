//! Route53: the hosted zone (created here, or given) and an A and an AAAA alias record per
//! alias, pointing at the distribution. Records are UPSERTed, so converge is idempotent;
//! records of aliases that were removed are deleted.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use platform_aws::step::{Step, StepError};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedZone {
    pub id: String,
    pub name: String,
    pub name_servers: Vec<String>,
    /// `(name, type)` of every alias record pointing at CloudFront.
    pub alias_records: Vec<(String, String)>,
}

/// Route53 ids come back as `/hostedzone/Z123`; state holds `Z123`.
pub fn bare_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// DNS names compare without the trailing dot and case-insensitively.
pub fn fqdn_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Creates the zone, or finds the one this resource created before (same caller reference).
pub async fn ensure_zone(
    r53: &Client,
    name: &str,
    caller_reference: &str,
    comment: &str,
) -> Result<String, StepError> {
    if let Some(id) = find_zone(r53, name, Some(caller_reference)).await? {
        return Ok(id);
    }
    let r = r53
        .create_hosted_zone()
        .name(name)
        .caller_reference(caller_reference)
        .hosted_zone_config(
            aws_sdk_route53::types::HostedZoneConfig::builder()
                .comment(comment)
                .private_zone(false)
                .build(),
        )
        .send()
        .await;
    match r.step("CreateHostedZone") {
        Ok(z) => Ok(bare_zone_id(
            z.hosted_zone().map(|h| h.id()).unwrap_or_default(),
        )),
        Err(e) if e.code() == Some("HostedZoneAlreadyExists") => {
            find_zone(r53, name, Some(caller_reference))
                .await?
                .ok_or_else(|| {
                    StepError::new(
                        "CreateHostedZone",
                        format!("zone {name} exists but was not created by this resource"),
                    )
                })
        }
        Err(e) => Err(e),
    }
}

/// The public zone named `name` (with the given caller reference, when one is given).
pub async fn find_zone(
    r53: &Client,
    name: &str,
    caller_reference: Option<&str>,
) -> Result<Option<String>, StepError> {
    let r = r53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .step("ListHostedZonesByName")?;
    Ok(r.hosted_zones()
        .iter()
        .filter(|z| fqdn_eq(z.name(), name))
        .find(|z| caller_reference.is_none_or(|c| z.caller_reference() == c))
        .map(|z| bare_zone_id(z.id())))
}

/// The zone and its CloudFront alias records: GetHostedZone and ListResourceRecordSets.
pub async fn observe(r53: &Client, zone_id: &str) -> Result<Option<ObservedZone>, StepError> {
    let (z, recs) = tokio::join!(
        r53.get_hosted_zone().id(zone_id).send(),
        r53.list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .send()
    );
    let z = match z.step("GetHostedZone") {
        Ok(z) => z,
        Err(e) if e.code() == Some("NoSuchHostedZone") => return Ok(None),
        Err(e) => return Err(e),
    };
    let recs = recs.step("ListResourceRecordSets")?;
    Ok(Some(ObservedZone {
        id: zone_id.to_string(),
        name: z
            .hosted_zone()
            .map(|h| h.name().trim_end_matches('.').to_string())
            .unwrap_or_default(),
        name_servers: z
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
        alias_records: recs
            .resource_record_sets()
            .iter()
            .filter(|r| {
                r.alias_target()
                    .is_some_and(|a| a.dns_name().contains("cloudfront"))
            })
            .map(|r| {
                (
                    r.name().trim_end_matches('.').to_lowercase(),
                    r.r#type().as_str().to_string(),
                )
            })
            .collect(),
    }))
}

fn change(action: ChangeAction, name: &str, ty: RrType, target: &str) -> Result<Change, StepError> {
    let step = "ChangeResourceRecordSets";
    let alias = AliasTarget::builder()
        .hosted_zone_id(super::cdn::CLOUDFRONT_ZONE_ID)
        .dns_name(target)
        .evaluate_target_health(false)
        .build()
        .step(step)?;
    let rrs = ResourceRecordSet::builder()
        .name(name)
        .r#type(ty)
        .alias_target(alias)
        .build()
        .step(step)?;
    Change::builder()
        .action(action)
        .resource_record_set(rrs)
        .build()
        .step(step)
}

async fn apply(r53: &Client, zone_id: &str, changes: Vec<Change>) -> Result<(), StepError> {
    if changes.is_empty() {
        return Ok(());
    }
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .build()
        .step("ChangeResourceRecordSets")?;
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .step("ChangeResourceRecordSets")?;
    Ok(())
}

/// A and AAAA alias records for every alias; records for `removed` aliases are deleted.
pub async fn converge(
    r53: &Client,
    zone_id: &str,
    aliases: &[String],
    removed: &[String],
    target: &str,
) -> Result<(), StepError> {
    let existing = observe(r53, zone_id)
        .await?
        .map(|z| z.alias_records)
        .unwrap_or_default();
    let mut changes = Vec::new();
    for a in aliases {
        for ty in [RrType::A, RrType::Aaaa] {
            changes.push(change(ChangeAction::Upsert, a, ty, target)?);
        }
    }
    for a in removed
        .iter()
        .filter(|r| !aliases.iter().any(|a| fqdn_eq(a, r)))
    {
        for ty in [RrType::A, RrType::Aaaa] {
            if existing
                .iter()
                .any(|(n, t)| fqdn_eq(n, a) && t == ty.as_str())
            {
                changes.push(change(ChangeAction::Delete, a, ty, target)?);
            }
        }
    }
    apply(r53, zone_id, changes).await
}

/// Deletes this resource's alias records (those for `aliases`) from the zone.
pub async fn delete_records(
    r53: &Client,
    zone_id: &str,
    aliases: &[String],
    target: &str,
) -> Result<(), StepError> {
    let Some(z) = observe(r53, zone_id).await? else {
        return Ok(());
    };
    let mut changes = Vec::new();
    for a in aliases {
        for ty in [RrType::A, RrType::Aaaa] {
            if z.alias_records
                .iter()
                .any(|(n, t)| fqdn_eq(n, a) && t == ty.as_str())
            {
                changes.push(change(ChangeAction::Delete, a, ty, target)?);
            }
        }
    }
    apply(r53, zone_id, changes).await
}

pub async fn delete_zone(r53: &Client, zone_id: &str) -> Result<(), StepError> {
    match r53
        .delete_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .step("DeleteHostedZone")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(()),
        Err(e) => Err(e),
    }
}
