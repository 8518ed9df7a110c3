//! The DynamoDB lock table: `LockID` hash key, on-demand, SSE, point-in-time recovery.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    TableStatus, Tag,
};
use aws_sdk_dynamodb::Client;
use platform_aws::step::{Step, StepError};
use platform_aws::tags::TagDiff;
use platform_aws::wait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct DesiredTable {
    pub name: String,
    pub kms_key_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedTable {
    pub arn: String,
    pub pitr_enabled: bool,
    pub encrypted: bool,
    pub tags: BTreeMap<String, String>,
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, StepError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().step("TagResource"))
        .collect()
}

/// The table's ARN and status; `None` when it does not exist.
async fn describe_table(
    ddb: &Client,
    name: &str,
) -> Result<Option<(String, TableStatus, bool)>, StepError> {
    match ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .step("DescribeTable")
    {
        Ok(r) => Ok(r.table().map(|t| {
            let encrypted = t
                .sse_description()
                .and_then(|s| s.status())
                .is_some_and(|s| *s == SseStatus::Enabled || *s == SseStatus::Enabling);
            (
                t.table_arn().unwrap_or_default().to_string(),
                t.table_status().cloned().unwrap_or(TableStatus::Active),
                encrypted,
            )
        })),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn table_tags(ddb: &Client, arn: &str) -> Result<BTreeMap<String, String>, StepError> {
    let r = ddb
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .step("ListTagsOfResource")?;
    Ok(r.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Creates the table or adopts ours, waits until ACTIVE, then converges PITR and tags.
/// Returns the table ARN.
pub async fn converge(
    ddb: &Client,
    d: &DesiredTable,
    cancel: &CancellationToken,
) -> Result<String, StepError> {
    let arn = match describe_table(ddb, &d.name).await? {
        Some((arn, _, _)) => {
            let t = table_tags(ddb, &arn).await?;
            if t.get(platform_aws::tags::OWNER_KEY) != Some(&d.owner) {
                return Err(StepError::new(
                    "CreateTable",
                    format!(
                        "table {:?} already exists and is not managed by this resource; choose another lock_table_name",
                        d.name
                    ),
                ));
            }
            arn
        }
        None => {
            let attr = AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .step("CreateTable")?;
            let key = KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()
                .step("CreateTable")?;
            let sse = SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .set_kms_master_key_id(d.kms_key_arn.clone())
                .build();
            let r = ddb
                .create_table()
                .table_name(&d.name)
                .attribute_definitions(attr)
                .key_schema(key)
                .billing_mode(BillingMode::PayPerRequest)
                .sse_specification(sse)
                .set_tags(Some(sdk_tags(&d.tags)?))
                .send()
                .await;
            match r.step("CreateTable") {
                Ok(out) => out
                    .table_description()
                    .and_then(|t| t.table_arn())
                    .unwrap_or_default()
                    .to_string(),
                Err(e) => return Err(e),
            }
        }
    };

    let what = format!("DynamoDB table {} to become ACTIVE", d.name);
    let arn = wait::until(&what, TIMEOUT, cancel, || async {
        match describe_table(ddb, &d.name).await? {
            Some((arn, TableStatus::Active, _)) => Ok(Some(arn)),
            Some(_) => Ok(None),
            None => Err(StepError::new(
                "DescribeTable",
                format!("table {} vanished while waiting", d.name),
            )),
        }
    })
    .await
    .map_err(|e| StepError::new("CreateTable", e.to_string()))
    .map(|a| if a.is_empty() { arn } else { a })?;

    ddb.update_continuous_backups()
        .table_name(&d.name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .step("UpdateContinuousBackups")?,
        )
        .send()
        .await
        .step("UpdateContinuousBackups")?;

    let current = table_tags(ddb, &arn).await?;
    let diff = TagDiff::between(&current, &d.tags);
    let changed = !diff.is_empty();
    if !diff.remove.is_empty() {
        ddb.untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .step("UntagResource")?;
    }
    if changed {
        ddb.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(sdk_tags(&d.tags)?))
            .send()
            .await
            .step("TagResource")?;
    }
    Ok(arn)
}

pub async fn observe(ddb: &Client, name: &str) -> Result<Option<ObservedTable>, StepError> {
    let Some((arn, _, encrypted)) = describe_table(ddb, name).await? else {
        return Ok(None);
    };
    let (pitr, tags) = tokio::join!(
        ddb.describe_continuous_backups().table_name(name).send(),
        table_tags(ddb, &arn)
    );
    let pitr_enabled = pitr
        .step("DescribeContinuousBackups")?
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| *s == PointInTimeRecoveryStatus::Enabled);
    Ok(Some(ObservedTable {
        arn,
        pitr_enabled,
        encrypted,
        tags: tags?,
    }))
}

/// Deletes the table only if it carries `owner`'s tag (see `s3::delete_if_owned`).
pub async fn delete_if_owned(
    ddb: &Client,
    name: &str,
    owner: &str,
    cancel: &CancellationToken,
) -> Result<super::s3::Removal, StepError> {
    let Some((arn, _, _)) = describe_table(ddb, name).await? else {
        return Ok(super::s3::Removal::Absent);
    };
    let t = table_tags(ddb, &arn).await?;
    if t.get(platform_aws::tags::OWNER_KEY).map(String::as_str) != Some(owner) {
        return Ok(super::s3::Removal::NotOurs);
    }
    delete(ddb, name, cancel).await?;
    Ok(super::s3::Removal::Deleted)
}

/// Deletes the table and waits until it is gone.
pub async fn delete(ddb: &Client, name: &str, cancel: &CancellationToken) -> Result<(), StepError> {
    match ddb
        .delete_table()
        .table_name(name)
        .send()
        .await
        .step("DeleteTable")
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(()),
        Err(e) => return Err(e),
    }
    let what = format!("DynamoDB table {name} to be deleted");
    wait::until(&what, TIMEOUT, cancel, || async {
        Ok::<_, StepError>(describe_table(ddb, name).await?.is_none().then_some(()))
    })
    .await
    .map_err(|e| StepError::new("DeleteTable", e.to_string()))
}
