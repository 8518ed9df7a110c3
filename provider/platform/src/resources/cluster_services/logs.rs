//! The container log group: created here (never by the forwarder), with its retention and
//! tags; adopted when it already carries this resource's owner tag.

use aws_sdk_cloudwatchlogs::Client;
use platform_aws::step::{Step, StepError};
use std::collections::BTreeMap;

/// The group as it is: ARN (without the trailing `:*`), retention, tags.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedGroup {
    pub arn: String,
    pub retention: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

pub async fn observe(logs: &Client, name: &str) -> Result<Option<ObservedGroup>, StepError> {
    let r = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .step("DescribeLogGroups")?;
    let Some(g) = r
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = g
        .arn()
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_owned();
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .step("ListTagsForResource")?
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(Some(ObservedGroup {
        arn,
        retention: g.retention_in_days(),
        tags,
    }))
}

/// Makes the group exist with `retention` and `tags`; returns its ARN.
pub async fn converge(
    logs: &Client,
    name: &str,
    retention: i64,
    tags: &BTreeMap<String, String>,
    owner: &str,
) -> Result<String, StepError> {
    let o = match observe(logs, name).await? {
        Some(o) => {
            if o.tags
                .get(platform_aws::tags::OWNER_KEY)
                .map(String::as_str)
                != Some(owner)
            {
                return Err(StepError::new(
                    "CreateLogGroup",
                    format!("log group {name:?} already exists and is not managed by this resource (import or delete it)"),
                ));
            }
            o
        }
        None => {
            match logs
                .create_log_group()
                .log_group_name(name)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .step("CreateLogGroup")
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(e),
            }
            tracing::info!(target: "platform::cluster_services", log_group = name, "created the container log group");
            observe(logs, name).await?.ok_or_else(|| {
                StepError::new("DescribeLogGroups", "log group missing after creation")
            })?
        }
    };
    if o.retention.map(i64::from) != Some(retention) {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(retention as i32)
            .send()
            .await
            .step("PutRetentionPolicy")?;
    }
    if &o.tags != tags {
        let remove: Vec<String> = o
            .tags
            .keys()
            .filter(|k| !tags.contains_key(*k))
            .cloned()
            .collect();
        if !remove.is_empty() {
            logs.untag_resource()
                .resource_arn(&o.arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .step("UntagResource")?;
        }
        logs.tag_resource()
            .resource_arn(&o.arn)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .step("TagResource")?;
    }
    Ok(o.arn)
}

/// Deletes the group when it carries `owner`; a missing one is fine.
pub async fn delete(logs: &Client, name: &str, owner: &str) -> Result<(), StepError> {
    let Some(o) = observe(logs, name).await? else {
        return Ok(());
    };
    if o.tags
        .get(platform_aws::tags::OWNER_KEY)
        .map(String::as_str)
        != Some(owner)
    {
        return Ok(());
    }
    match logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .step("DeleteLogGroup")
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(e),
    }
}
